//! Whole runs of the real MiniLM on a slice of SST-2 (from `../shared/assets`): determinism, the data
//! seed, the authors' evaluation and logging schedule, resuming in every case, divergence, one subsample
//! for every seed, a new task head, and refusing to overwrite a run.

mod common;

use stabletune_train::trainer::{Observer, StepRecord};
use stabletune_train::{locations, train, Overrides, Recipe, Status, Summary, Task, TrainConfig};
use std::path::{Path, PathBuf};

/// The first 160 training and 100 dev rows of SST-2, so a run takes seconds.
fn small_sst2() -> tempfile::TempDir {
    common::sst2_head(160, 100)
}

fn config(data: &Path, init_seed: u64, data_seed: u64) -> TrainConfig {
    let o = Overrides {
        model: Some(locations::default_model().display().to_string()),
        task: Some("sst-2".into()),
        data_dir: Some(data.to_path_buf()),
        recipe: Some(Recipe::Mosbach2021),
        init_seed: Some(init_seed),
        data_seed: Some(data_seed),
        epochs: Some(2),
        lr: Some(5e-5),
        evals_per_epoch: Some(1),
        grad_norms_every: Some(5),
        ..Default::default()
    };
    TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap()
}

fn run(cfg: &TrainConfig, out: &Path) -> Summary {
    train(cfg, out, false, &mut stabletune_train::trainer::Quiet).unwrap()
}

fn losses(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap().get("loss").and_then(|v| v.as_f64())
        })
        .collect()
}

fn log(out: &Path) -> String {
    // Evaluation records carry no timing, update records neither: the whole log is reproducible.
    std::fs::read_to_string(out.join("metrics.jsonl")).unwrap()
}

fn weights(out: &Path) -> Vec<u8> {
    std::fs::read(out.join("checkpoint-last/model.safetensors")).unwrap()
}

/// Stops the run after `at` updates, as Ctrl-C does.
struct StopAt(u64, bool);
impl Observer for StopAt {
    fn on_step(&mut self, r: &StepRecord) {
        self.1 = r.step >= self.0;
    }
    fn should_stop(&mut self) -> bool {
        self.1
    }
}

#[test]
fn runs_are_reproducible_resumable_and_complete() {
    let data = small_sst2();
    let root = tempfile::tempdir().unwrap();
    let dir = |name: &str| -> PathBuf { root.path().join(name) };

    let cfg = config(data.path(), 1, 1);
    let a = run(&cfg, &dir("a"));
    assert_eq!(a.status, Status::Completed);
    assert_eq!(a.warmup_steps, 2, "int(20 * 0.1)");
    assert_eq!((a.steps, a.total_steps, a.train_examples, a.dev_examples), (20, 20, 160, 100));
    assert_eq!(a.headline_metric, "acc");
    assert!(a.majority_baseline.is_some() && a.failed.is_some());
    let files = [
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "checkpoint-best/model.safetensors",
        "checkpoint-best/tokenizer.json",
        "checkpoint-last/model.safetensors",
        "checkpoint-last/trainer_state.json",
    ];
    for f in files {
        assert!(dir("a").join(f).exists(), "{f} missing");
    }
    // An ended run keeps no Adam moments (nothing continues from them); an interrupted one does (below).
    assert!(!dir("a").join("checkpoint-last/optimizer.safetensors").exists());
    let file = |ck: &str| std::fs::read(dir("a").join(ck).join("model.safetensors")).unwrap();
    assert_eq!(file("checkpoint-best") == file("checkpoint-last"), a.best_step == Some(a.steps));
    // Every step logged with loss, lr and gradient norm; per-matrix norms at updates 1, 6, 11, 16 (the
    // authors' global_step % 5 == 0 before the update).
    let text = std::fs::read_to_string(dir("a").join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.iter().filter(|r| r.get("loss").is_some()).count(), 20);
    // Evaluations at step 0 (the pretrained encoder with its new head) and at each epoch's end.
    let evals: Vec<u64> =
        records.iter().filter(|r| r.get("eval").is_some()).map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(evals, vec![0, 10, 20]);
    let with_norms: Vec<u64> = records
        .iter()
        .filter(|r| r.get("grad_norms").is_some())
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(with_norms, vec![1, 6, 11, 16]);
    let norms = records.iter().find(|r| r["step"] == 6).unwrap()["grad_norms"].as_object().unwrap().clone();
    assert!(
        norms.contains_key("bert.encoder.layer.0.attention.self.query.weight")
            && norms.contains_key("classifier.weight")
    );
    let first_update = records.iter().find(|r| r.get("loss").is_some()).unwrap();
    assert!(first_update["lr"].as_f64().unwrap() == 0.0, "the first update uses lr 0");

    // Same seeds: the same numbers. Another data seed: another loss curve.
    let again = run(&cfg, &dir("again"));
    assert_eq!((&again.final_metrics, &again.best_metrics), (&a.final_metrics, &a.best_metrics));
    assert_eq!(losses(&dir("a")), losses(&dir("again")));
    assert_eq!(weights(&dir("a")), weights(&dir("again")));
    run(&config(data.path(), 1, 2), &dir("other-data"));
    assert_ne!(losses(&dir("a")), losses(&dir("other-data")));

    // Interrupted mid-epoch after 7 updates, then resumed: bit-identical to the uninterrupted run.
    let stopped = train(&cfg, &dir("resumed"), false, &mut StopAt(7, false)).unwrap();
    assert_eq!((stopped.status, stopped.steps), (Status::Interrupted, 7));
    assert!(dir("resumed").join("checkpoint-last/optimizer.safetensors").exists(), "moments to resume from");
    let resumed = train(&cfg, &dir("resumed"), true, &mut stabletune_train::trainer::Quiet).unwrap();
    assert_eq!((resumed.status, resumed.steps), (Status::Completed, 20));
    assert_eq!(resumed.final_metrics, a.final_metrics);
    assert_eq!(weights(&dir("resumed")), weights(&dir("a")));
    assert_eq!(losses(&dir("resumed")), losses(&dir("a")));
    assert_eq!(log(&dir("resumed")), log(&dir("a")), "no evaluation repeated or lost");
    // Killed after its final checkpoint (which keeps no moments) but before summary.json: --resume
    // finishes it from that checkpoint.
    std::fs::remove_file(dir("resumed").join("summary.json")).unwrap();
    let finished = train(&cfg, &dir("resumed"), true, &mut stabletune_train::trainer::Quiet).unwrap();
    assert_eq!(
        (finished.status, finished.steps, finished.final_metrics),
        (Status::Completed, 20, a.final_metrics.clone())
    );

    // Killed (kill -9) before its first checkpoint: config.toml and part of metrics.jsonl, nothing else.
    // --resume starts it again from step 0 and ends as the uninterrupted run.
    std::fs::create_dir_all(dir("killed")).unwrap();
    std::fs::copy(dir("a").join("config.toml"), dir("killed").join("config.toml")).unwrap();
    let partial: String = log(&dir("a")).lines().take(4).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir("killed").join("metrics.jsonl"), partial + "{\"step\": 4, \"los").unwrap();
    let restarted = train(&cfg, &dir("killed"), true, &mut stabletune_train::trainer::Quiet).unwrap();
    assert_eq!((restarted.status, restarted.final_metrics), (Status::Completed, a.final_metrics.clone()));
    assert_eq!(log(&dir("killed")), log(&dir("a")));
    assert_eq!(weights(&dir("killed")), weights(&dir("a")));

    // --resume of a finished run changes nothing and gives back its summary.
    let before = (log(&dir("a")), weights(&dir("a")));
    let again = train(&cfg, &dir("a"), true, &mut stabletune_train::trainer::Quiet).unwrap();
    assert_eq!(again, a);
    assert_eq!((log(&dir("a")), weights(&dir("a"))), before);
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir("a").join("checkpoint-last/trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["status"], "completed", "the status is part of the trainer state");

    // A finished run is never overwritten, and resuming needs the same config.
    let err = train(&cfg, &dir("a"), false, &mut stabletune_train::trainer::Quiet).unwrap_err().to_string();
    assert!(err.contains("already holds a run"), "{err}");
    let err = train(&config(data.path(), 2, 2), &dir("a"), true, &mut stabletune_train::trainer::Quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("differs"), "{err}");
}

#[test]
fn divergence_is_recorded_not_a_crash() {
    let data = small_sst2();
    let out = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path(), 3, 3);
    // No clipping, no warmup, an absurd learning rate: the weights blow up within a few updates.
    cfg.lr = 1e12;
    cfg.max_grad_norm = 0.0;
    cfg.warmup_steps = Some(0);
    cfg.weight_decay = 0.0;
    let s = run(&cfg, out.path());
    assert_eq!(s.status, Status::Diverged);
    assert!(s.steps < 20);
    // A diverged run is a failed run: no final metrics (not those of an earlier evaluation).
    assert!(s.final_metrics.is_empty());
    assert_eq!(s.failed, Some(true));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["status"].as_str(), summary["failed"].as_bool()), (Some("diverged"), Some(true)));
    // It is over: --resume changes nothing.
    let again = train(&cfg, out.path(), true, &mut stabletune_train::trainer::Quiet).unwrap();
    assert_eq!(again, s);
}

#[test]
fn own_csv_data_early_stopping_and_thread_count() {
    let root = tempfile::tempdir().unwrap();
    // SST-2 rows rewritten as a CSV with other column names and label names.
    let src = std::fs::read_to_string(locations::task_dir(Task::Sst2, None).join("train.tsv")).unwrap();
    let rows: Vec<(String, String)> = src
        .lines()
        .skip(1)
        .take(96)
        .map(|l| {
            let (text, label) = l.rsplit_once('\t').unwrap();
            (text.replace('"', "\"\""), if label == "1" { "pos".into() } else { "neg".into() })
        })
        .collect();
    let write = |name: &str, part: &[(String, String)]| {
        let body: String = part.iter().map(|(t, l)| format!("\"{t}\",{l}\n")).collect();
        std::fs::write(root.path().join(name), format!("review,sentiment\n{body}")).unwrap();
    };
    write("train.csv", &rows[..64]);
    write("dev.csv", &rows[64..]);
    let o = Overrides {
        model: Some(locations::default_model().display().to_string()),
        task: Some("reviews".into()),
        train_file: Some(root.path().join("train.csv")),
        dev_file: Some(root.path().join("dev.csv")),
        text_a_column: Some("review".into()),
        label_column: Some("sentiment".into()),
        epochs: Some(3),
        evals_per_epoch: Some(2),
        // A learning rate too small to change any prediction: the dev metric never improves on the step-0
        // evaluation, so patience 2 stops the run at the second evaluation after it.
        lr: Some(1e-12),
        early_stopping_patience: Some(2),
        ..Default::default()
    };
    let cfg = TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap();
    // 4 batches an epoch, evaluations every 2 updates: at 0, 2 and 4.
    let two = stabletune_engine::par::thread_pool(2).install(|| run(&cfg, &root.path().join("two-threads")));
    assert_eq!(two.task, "reviews");
    assert_eq!((two.status, two.steps), (Status::EarlyStopped, 4));
    assert_eq!(two.best_step, Some(0), "the step-0 evaluation is the first best, as the authors' code");
    assert_eq!(two.final_metrics.get("acc"), two.best_metrics.as_ref().unwrap().get("acc"));
    // The same run on one thread: the same bits.
    let one = stabletune_engine::par::thread_pool(1).install(|| run(&cfg, &root.path().join("one-thread")));
    assert_eq!(one.final_metrics, two.final_metrics);
    assert_eq!(weights(&root.path().join("one-thread")), weights(&root.path().join("two-threads")));
    assert_eq!(losses(&root.path().join("one-thread")), losses(&root.path().join("two-threads")));
}

/// `train_limit` draws one subsample with the sample seed, the same for every init and data seed (the
/// authors' fixed train-sampled-1k.tsv), recorded as a hash in summary.json.
#[test]
fn one_subsample_for_every_seed() {
    let data = small_sst2();
    let root = tempfile::tempdir().unwrap();
    let limited = |init: u64, data_seed: u64, sample: Option<u64>| {
        let mut cfg = config(data.path(), init, data_seed);
        cfg.train_limit = Some(48);
        cfg.max_steps = 1;
        if let Some(s) = sample {
            cfg.sample_seed = s;
        }
        let name = format!("s{init}-{data_seed}-{sample:?}");
        run(&cfg, &root.path().join(name))
    };
    let a = limited(1, 1, None);
    let b = limited(2, 7, None);
    let other = limited(1, 1, Some(5));
    assert_eq!((a.train_examples, a.sample_seed), (48, 0));
    assert_eq!(a.train_sample_sha256.len(), 64);
    assert_eq!(a.train_sample_sha256, b.train_sample_sha256, "seeds must not change the sample");
    assert_ne!(a.train_sample_sha256, other.train_sample_sha256);
    let frozen = std::fs::read_to_string(root.path().join("s1-1-None/config.toml")).unwrap();
    assert!(frozen.contains("sample_seed = 0"), "{frozen}");
}

/// `max_steps` replaces the schedule's length and may run past one pass over the data (Fig. 3's "as many
/// updates as 3 epochs of the full set").
#[test]
fn max_steps_sets_the_schedule_and_repeats_the_data() {
    let data = small_sst2();
    let out = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path(), 1, 1);
    cfg.max_steps = 25; // 10 batches an epoch: two and a half passes, where `epochs` says 2
    let s = run(&cfg, out.path());
    assert_eq!((s.status, s.steps, s.total_steps, s.warmup_steps), (Status::Completed, 25, 25, 2));
    assert_eq!(s.epochs, 2.5);
    let records: Vec<serde_json::Value> =
        log(out.path()).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let lr_of = |step: u64| {
        records.iter().find(|r| r["step"] == step && r.get("lr").is_some()).unwrap()["lr"].as_f64().unwrap()
    };
    // Update k uses lr * (25 - k) / (25 - 2) after warmup: the 25th (k = 24) 1/23 of the peak.
    assert!((lr_of(25) - 5e-5 / 23.0).abs() < 1e-18, "{}", lr_of(25));
    let evals: Vec<u64> =
        records.iter().filter(|r| r.get("eval").is_some()).map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(evals, vec![0, 10, 20, 25]);
}

/// A classifier found in the checkpoint belongs to another task: it is drawn anew from the init seed
/// unless `keep_head` is set.
#[test]
fn the_task_head_is_always_new() {
    use stabletune_model::{HeadSpec, Model};
    let data = small_sst2();
    let root = tempfile::tempdir().unwrap();
    // MiniLM with a two-class classifier of zeros, as a model fine-tuned on another task would carry.
    let with_head = root.path().join("with-head");
    let src = locations::default_model();
    let (mut model, _) =
        Model::from_dir(&src, HeadSpec { classifier: Some(2), masked_lm: false }, 0).unwrap();
    let w = model.params.get("classifier.weight").unwrap().range();
    model.params.values[w].fill(0.0);
    model.save_pretrained(&with_head).unwrap();
    for f in ["tokenizer.json", "vocab.txt"] {
        std::fs::copy(src.join(f), with_head.join(f)).unwrap();
    }
    // lr 0 after the step-0 evaluation: checkpoint-best holds the weights the run started from.
    let start = |keep: bool, name: &str| {
        let mut cfg = config(data.path(), 3, 3);
        cfg.model = with_head.display().to_string();
        cfg.keep_head = keep;
        cfg.max_steps = 1;
        cfg.warmup_steps = Some(1); // the one update has lr 0
        run(&cfg, &root.path().join(name));
        let (m, _) = Model::from_dir(
            &root.path().join(name).join("checkpoint-best"),
            HeadSpec { classifier: Some(2), masked_lm: false },
            0,
        )
        .unwrap();
        m.params.tensor("classifier.weight").unwrap().to_vec()
    };
    let fresh = start(false, "fresh");
    assert!(fresh.iter().any(|&v| v != 0.0), "the zero head was kept");
    let std = (fresh.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / fresh.len() as f64).sqrt();
    assert!((std - 0.02).abs() < 0.003, "N(0, 0.02) expected, std {std}");
    assert_eq!(start(false, "fresh-again"), fresh, "drawn from the init seed");
    assert!(start(true, "kept").iter().all(|&v| v == 0.0));
}

#[test]
fn mixout_and_reinit_runs_resume_bit_identical() {
    let data = small_sst2();
    let root = tempfile::tempdir().unwrap();
    let dir = |name: &str| root.path().join(name);
    let mut cfg = config(data.path(), 1, 1);
    cfg.mixout = 0.9;
    (cfg.hidden_dropout, cfg.attention_dropout, cfg.classifier_dropout) = (0.0, 0.0, 0.0);
    cfg.reinit_layers = 1;
    cfg.reinit_pooler = true;
    let whole = run(&cfg, &dir("whole"));
    assert_eq!((whole.status, whole.steps), (Status::Completed, 20));
    // The settings are in the frozen config, and they change the run.
    let frozen = std::fs::read_to_string(dir("whole").join("config.toml")).unwrap();
    assert!(frozen.contains("mixout = 0.9") && frozen.contains("reinit_layers = 1"), "{frozen}");
    let mut plain = config(data.path(), 1, 1);
    (plain.hidden_dropout, plain.attention_dropout, plain.classifier_dropout) = (0.0, 0.0, 0.0);
    run(&plain, &dir("plain"));
    assert_ne!(losses(&dir("whole")), losses(&dir("plain")));
    // Mixout's targets are the starting weights (re-initialised ones included), rebuilt on resume: a run
    // stopped mid-epoch and resumed is the uninterrupted one, bit for bit.
    let stopped = train(&cfg, &dir("resumed"), false, &mut StopAt(7, false)).unwrap();
    assert_eq!(stopped.status, Status::Interrupted);
    let resumed = train(&cfg, &dir("resumed"), true, &mut stabletune_train::trainer::Quiet).unwrap();
    assert_eq!(resumed.final_metrics, whole.final_metrics);
    assert_eq!(weights(&dir("resumed")), weights(&dir("whole")));
    assert_eq!(log(&dir("resumed")), log(&dir("whole")));
}

//! Whole runs of the real MiniLM on a slice of SST-2 (from `../shared/assets`): determinism, the data
//! seed, resuming an interrupted run bit-identically, divergence, and refusing to overwrite a run.

use stabletune_train::trainer::{Observer, StepRecord};
use stabletune_train::{locations, train, Overrides, Recipe, Status, Summary, Task, TrainConfig};
use std::path::{Path, PathBuf};

/// The first 160 training and 100 dev rows of SST-2, so a run takes seconds.
fn small_sst2() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = locations::task_dir(Task::Sst2, None);
    for (file, rows) in [("train.tsv", 160), ("dev.tsv", 100)] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let head: String = text.lines().take(rows + 1).map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.path().join(file), head).unwrap();
    }
    dir
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
    assert_eq!((a.steps, a.total_steps, a.train_examples, a.dev_examples), (20, 20, 160, 100));
    assert_eq!(a.headline_metric, "acc");
    assert!(a.majority_baseline.is_some() && a.failed.is_some());
    let files = [
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "checkpoint-best/model.safetensors",
        "checkpoint-best/tokenizer.json",
        "checkpoint-last/optimizer.safetensors",
    ];
    for f in files {
        assert!(dir("a").join(f).exists(), "{f} missing");
    }
    // Every step logged with loss, lr and gradient norm; per-matrix norms every 5 steps.
    let text = std::fs::read_to_string(dir("a").join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.iter().filter(|r| r.get("loss").is_some()).count(), 20);
    assert_eq!(records.iter().filter(|r| r.get("eval").is_some()).count(), 2);
    let norms = records.iter().find(|r| r["step"] == 5).unwrap()["grad_norms"].as_object().unwrap().clone();
    assert!(
        norms.contains_key("bert.encoder.layer.0.attention.self.query.weight")
            && norms.contains_key("classifier.weight")
    );
    assert!(records[0]["lr"].as_f64().unwrap() == 0.0, "the first update uses lr 0");

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
    let resumed = train(&cfg, &dir("resumed"), true, &mut stabletune_train::trainer::Quiet).unwrap();
    assert_eq!((resumed.status, resumed.steps), (Status::Completed, 20));
    assert_eq!(resumed.final_metrics, a.final_metrics);
    assert_eq!(weights(&dir("resumed")), weights(&dir("a")));
    assert_eq!(losses(&dir("resumed")), losses(&dir("a")));

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
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "diverged");
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
        // A learning rate too small to change any prediction: the dev metric never improves after the
        // first evaluation, so patience 2 stops the run at the third.
        lr: Some(1e-12),
        early_stopping_patience: Some(2),
        ..Default::default()
    };
    let cfg = TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap();
    let two = run(&cfg, &root.path().join("two-threads"));
    assert_eq!(two.task, "reviews");
    assert_eq!((two.status, two.steps), (Status::EarlyStopped, 6));
    assert_eq!(two.best_step, Some(2));
    // The same run on one thread: the same bits.
    let one = stabletune_engine::par::thread_pool(1).install(|| run(&cfg, &root.path().join("one-thread")));
    assert_eq!(one.final_metrics, two.final_metrics);
    assert_eq!(weights(&root.path().join("one-thread")), weights(&root.path().join("two-threads")));
    assert_eq!(losses(&root.path().join("one-thread")), losses(&root.path().join("two-threads")));
}

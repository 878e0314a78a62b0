//! `stabletune study` through the binary, with a tiny BERT (random weights, MiniLM's real tokenizer) on real
//! SST-2 rows so that a whole study takes seconds: kill -9 at arbitrary moments loses and duplicates
//! nothing, and the study then ends bit-identical to one never killed.

use stabletune_model::{EncoderConfig, HeadSpec, Model};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stabletune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stabletune")).args(args).output().unwrap()
}

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/assets")
}

/// A 2-layer BERT of width 32 with MiniLM's tokenizer, and the first rows of SST-2.
fn fixtures(root: &Path) -> (PathBuf, PathBuf) {
    let model = root.join("tiny");
    let tiny = Model::random(
        EncoderConfig::bert_shape(2, 32, 2, 64, 30522),
        HeadSpec { classifier: None, masked_lm: false },
        1,
    );
    tiny.save_pretrained(&model).unwrap();
    for f in ["tokenizer.json", "vocab.txt"] {
        std::fs::copy(assets().join("models/all-MiniLM-L6-v2").join(f), model.join(f)).unwrap();
    }
    let data = root.join("sst2");
    std::fs::create_dir_all(&data).unwrap();
    for (file, rows) in [("train.tsv", 200), ("dev.tsv", 64)] {
        let text = std::fs::read_to_string(assets().join("glue/SST-2").join(file)).unwrap();
        let head: String = text.lines().take(rows + 1).map(|l| format!("{l}\n")).collect();
        std::fs::write(data.join(file), head).unwrap();
    }
    (model, data)
}

fn study_file(root: &Path, model: &Path, data: &Path) -> PathBuf {
    let path = root.join("study.toml");
    let text = format!(
        "name = \"kill\"\nmodel = \"{}\"\ntasks = [\"sst-2\"]\ndata_dir = \"{}\"\nrecipes = [\"devlin2019\", \"mosbach2021\"]\n\
         seeds = \"1..4\"\ntrain_limit = 48\nepochs = 3\nevals_per_epoch = 1\ncheckpoint_every = 1\nlr = 1e-4\n\
         [execution]\nworkers = 2\nthreads_per_worker = 1\n",
        model.display(),
        data.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Everything of a run that must not depend on kills: the summary without its timings, the log, the weights.
fn fingerprint(run: &Path) -> (serde_json::Value, String, Vec<u8>) {
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let o = s.as_object_mut().unwrap();
    o.remove("wall_seconds");
    o.remove("train_examples_per_second");
    let log = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    (s, log, std::fs::read(run.join("checkpoint-last/model.safetensors")).unwrap())
}

fn runs(study: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(study.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn kill_9_at_any_moment_then_the_same_command_finishes_the_same_study() {
    let root = tempfile::tempdir().unwrap();
    let (model, data) = fixtures(root.path());
    let file = study_file(root.path(), &model, &data);
    let (reference, killed) = (root.path().join("reference"), root.path().join("killed"));
    let started = Instant::now();
    let o = stabletune(&["study", "run", file.to_str().unwrap(), "--out", reference.to_str().unwrap()]);
    let whole = started.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(table.contains("devlin2019") && table.contains("mosbach2021"), "{table}");
    assert_eq!(runs(&reference).len(), 8);
    // Tokenised once per (model, task, subsample): one training sample for every seed, and the dev set.
    assert_eq!(std::fs::read_dir(reference.join("cache")).unwrap().count(), 2);

    // kill -9 the whole study (both workers) at arbitrary moments, several times, within a bounded time:
    // at fractions of the uninterrupted study's time (each restart resumes, so later kills come sooner).
    // The fractions are small enough that three kills land before the study ends even when `whole` was
    // measured slower than the killed runs go (it runs beside this binary's other tests, which end first):
    // the first three add up to 0.35 of it.
    let delays = [0.1, 0.2, 0.05, 0.15, 0.03, 0.12, 0.08, 0.18].map(|f| whole.mul_f64(f));
    let begun = Instant::now();
    let mut kills = 0;
    for delay in delays {
        if begun.elapsed() > Duration::from_secs(90) {
            break;
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_stabletune"))
            .args(["study", "run", file.to_str().unwrap(), "--out", killed.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    assert!(kills >= 3, "only {kills} kills landed");
    let o = stabletune(&["study", "run", file.to_str().unwrap(), "--out", killed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), table, "the same table");
    assert_eq!(runs(&killed), runs(&reference));
    for run in runs(&reference) {
        let (a, b) =
            (fingerprint(&reference.join("runs").join(&run)), fingerprint(&killed.join("runs").join(&run)));
        assert_eq!(a.0, b.0, "{run}: summary");
        assert_eq!(a.1, b.1, "{run}: metrics.jsonl (an update or evaluation lost or repeated)");
        assert!(a.2 == b.2, "{run}: weights differ");
    }
    assert_eq!(std::fs::read_dir(killed.join("claims")).unwrap().count(), 0, "no claim left behind");

    // Once finished, the same command trains nothing; status says so.
    let o = stabletune(&["study", "run", file.to_str().unwrap(), "--out", killed.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 to do"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = stabletune(&["study", "status", killed.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("8 runs: 8 done") && text.contains("0 pending"), "{text}");
}

#[test]
fn shards_split_the_study_and_slurm_scripts_name_them() {
    let root = tempfile::tempdir().unwrap();
    let (model, data) = fixtures(root.path());
    let file = study_file(root.path(), &model, &data);
    let out = root.path().join("sharded");
    let mut seen = Vec::new();
    for i in 0..3 {
        let o = Command::new(env!("CARGO_BIN_EXE_stabletune"))
            .args(["study", "run", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--workers", "1"])
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let now = runs(&out);
        // Shards are a starting split, not ownership: run one after another (an array behind a job cap),
        // the first trains its own runs, then every other run no live process holds; the rest find the
        // study done.
        assert_eq!(now.len() - seen.len(), [8, 0, 0][i], "shard {i} of 3");
        seen = now;
        assert!(out.join("report/report.html").is_file(), "shard {i}: the study has ended");
    }
    let report = std::fs::read_to_string(out.join("report/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), 8);
    assert_eq!(report["table"].as_array().unwrap().len(), 2);

    // `report` on the study again, elsewhere, in two formats; then the exports and the errors.
    let again = root.path().join("again");
    let o = stabletune(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--format",
        "md,csv",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(again.join("report.md").is_file() && again.join("runs.csv").is_file());
    assert!(!again.join("report.html").exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("sst-2: "), "the recommendation is printed");
    let tb = root.path().join("tb");
    let o = stabletune(&["export", "tensorboard", out.to_str().unwrap(), "--out", tb.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_dir(&tb).unwrap().count(), 8);
    let o = stabletune(&["report", root.path().join("sst2").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no run directories"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = stabletune(&["report", out.to_str().unwrap(), "--format", "pdf"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--format pdf"));
    let o = stabletune(&[
        "study",
        "slurm",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--array-size",
        "3",
        "--time",
        "1:00:00",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = std::fs::read_to_string(out.join("slurm/job.sbatch")).unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), script);
    assert!(script.contains("#SBATCH --array=0-2") && script.contains("study run"), "{script}");
    let o = stabletune(&["study", "show", "demo"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("name = \"demo\""));
}

#[test]
fn early_stopping_keeps_the_best_runs_and_decides_once() {
    let root = tempfile::tempdir().unwrap();
    let (model, data) = fixtures(root.path());
    let file = root.path().join("es.toml");
    let text = format!(
        "name = \"es\"\nmodel = \"{}\"\ntasks = [\"sst-2\"]\ndata_dir = \"{}\"\nrecipes = [\"devlin2019\"]\n\
         seeds = \"1..4\"\ntrain_limit = 48\nepochs = 3\nlr = 1e-4\n\
         [early_stopping]\nstart = 4\nkeep = 2\nat = 0.3\nevals_per_epoch = 3\n\
         [execution]\nworkers = 2\nthreads_per_worker = 1\n",
        model.display(),
        data.display()
    );
    std::fs::write(&file, text).unwrap();
    let out = root.path().join("out");
    let o = stabletune(&["study", "run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let decisions: Vec<_> =
        std::fs::read_dir(out.join("early-stopping")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(decisions.len(), 1, "one group, one decision");
    let text = std::fs::read_to_string(&decisions[0]).unwrap();
    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names = |k: &str| -> Vec<String> {
        d[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().map(String::from).unwrap_or_else(|| v["run"].as_str().unwrap().into()))
            .collect()
    };
    let (kept, stopped, failed) = (names("continued"), names("stopped"), names("failed_before"));
    assert_eq!(kept.len() + stopped.len() + failed.len(), 4);
    assert!(kept.len() <= 2 && !kept.is_empty());
    // 48 examples, batch 16: 3 updates an epoch, 9 in all; an evaluation after each; the first at or after
    // 30% of 9 is at update 3.
    assert_eq!((d["decision_step"].as_u64(), d["total_steps"].as_u64()), (Some(3), Some(9)));
    let summary = |id: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(out.join("runs").join(id).join("summary.json")).unwrap(),
        )
        .unwrap()
    };
    for id in &kept {
        let s = summary(id);
        assert_eq!((s["status"].as_str(), s["steps"].as_u64()), (Some("completed"), Some(9)), "{id}");
    }
    for id in &stopped {
        let s = summary(id);
        assert_eq!(
            (s["status"].as_str(), s["steps"].as_u64()),
            (Some("stopped_by_schedule"), Some(3)),
            "{id}"
        );
        assert!(
            out.join("runs").join(id).join("checkpoint-last/optimizer.safetensors").exists(),
            "resumable"
        );
    }
    // Running the study again trains nothing and leaves the decision as it was.
    let o = stabletune(&["study", "run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 to do"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&decisions[0]).unwrap(), text);
    let o = stabletune(&["study", "status", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout)
        .contains(&format!("{} stopped by the schedule", stopped.len() + failed.len())));
    // The report shows what the schedule did.
    let md = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    assert!(md.contains("Early stopping (Dodge et al.), as the study ran it"), "{md}");
    // A stopped run resumes by hand, to the end.
    if let Some(id) = stopped.first() {
        let o = stabletune(&["train", "--resume", "--out", out.join("runs").join(id).to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(summary(id)["status"].as_str(), Some("completed"));
    }
}

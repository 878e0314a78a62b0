//! `stabletune train` and `stabletune data stats` through the binary: a tiny real run, and clear errors
//! for bad input.

use std::path::Path;
use std::process::{Command, Output};

fn stabletune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stabletune")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The first `train` and `dev` rows of RTE in a temporary folder.
fn small_rte(train: usize, dev: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/assets/glue/RTE");
    for (file, rows) in [("train.tsv", train), ("dev.tsv", dev)] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let head: String = text.lines().take(rows + 1).map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.path().join(file), head).unwrap();
    }
    dir
}

#[test]
fn a_tiny_run_writes_its_run_directory() {
    let data = small_rte(32, 24);
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let o = stabletune(&[
        "train",
        "--task",
        "rte",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--recipe",
        "devlin2019",
        "--max-steps",
        "3",
        "--seed",
        "4",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Completed: 3 steps"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["steps"].as_u64(), summary["recipe"].as_str()), (Some(3), Some("devlin2019")));
    assert_eq!(summary["init_seed"], 4);
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains("bias_correction = false") && config.contains("recipe = \"devlin2019\""),
        "{config}"
    );
    // The frozen config reproduces the run's settings when given back as --config.
    let again = out.path().join("again");
    let o = stabletune(&[
        "train",
        "--config",
        run.join("config.toml").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(again.join("config.toml")).unwrap(), config);
}

#[test]
fn bad_input_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let e = empty.path().to_str().unwrap();
    let o = stabletune(&["train", "--task", "rte", "--data-dir", e, "--out", &format!("{e}/run")]);
    assert!(!o.status.success() && stderr(&o).contains("train.tsv"), "{}", stderr(&o));

    let bad_label = small_rte(4, 4);
    let train = bad_label.path().join("train.tsv");
    let text = std::fs::read_to_string(&train).unwrap() + "99\tA man.\tA person.\tcontradiction\n";
    std::fs::write(&train, text).unwrap();
    let o = stabletune(&[
        "train",
        "--task",
        "rte",
        "--data-dir",
        bad_label.path().to_str().unwrap(),
        "--out",
        &format!("{e}/r2"),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("train.tsv:6") && stderr(&o).contains("contradiction"),
        "{}",
        stderr(&o)
    );

    let toml = empty.path().join("bad.toml");
    std::fs::write(&toml, "task = \"rte\"\nlearning_rate = 1e-5\n").unwrap();
    let o = stabletune(&["train", "--config", toml.to_str().unwrap(), "--out", &format!("{e}/r3")]);
    assert!(
        !o.status.success() && stderr(&o).contains("bad.toml") && stderr(&o).contains("learning_rate"),
        "{}",
        stderr(&o)
    );

    let o = stabletune(&["train", "--task", "rte", "--model", "/no/such/model", "--out", &format!("{e}/r4")]);
    assert!(!o.status.success() && stderr(&o).contains("/no/such/model"), "{}", stderr(&o));

    let o = stabletune(&["train", "--task", "rte", "--recipe", "smith2020"]);
    assert!(!o.status.success() && stderr(&o).contains("smith2020"), "{}", stderr(&o));
}

#[test]
fn data_stats_reports_the_baseline() {
    let o = stabletune(&["data", "stats", "--task", "rte"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("train: 2490 rows") && out.contains("dev: 277 rows"), "{out}");
    assert!(out.contains("\"entailment\": 1249") && out.contains("acc 0.5271"), "{out}");
}

#[test]
fn ctrl_c_then_resume_with_only_the_run_directory() {
    let data = small_rte(64, 16);
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stabletune"))
        .args(["train", "--task", "rte", "--data-dir", data.path().to_str().unwrap(), "--epochs", "3"])
        .args(["--evals-per-epoch", "1", "--seed", "2", "--out", run.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt as soon as the first update is logged.
    let log = run.join("metrics.jsonl");
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|t| !t.is_empty()) {
        assert!(start.elapsed().as_secs() < 120, "the run never logged an update");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "an interrupted run exits cleanly");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "interrupted");
    assert!(summary["steps"].as_u64().unwrap() < 12);

    let o = stabletune(&["train", "--resume", "--out", run.to_str().unwrap(), "--threads", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["status"].as_str(), summary["steps"].as_u64()), (Some("completed"), Some(12)));
}

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
    assert!(!empty.path().join("r2").exists(), "bad data must not leave a run folder behind");
    assert!(!stderr(&o).contains('\x1b'), "no colour codes when stderr is not a terminal");

    let o = stabletune(&["train", "--task", "squad", "--out", &format!("{e}/r5")]);
    assert!(!o.status.success() && stderr(&o).contains("squad"), "{}", stderr(&o));
    assert!(!empty.path().join("r5").exists());
    let o = stabletune(&["train", "--task", "rte", "--train-limit", "0", "--out", &format!("{e}/r6")]);
    assert!(!o.status.success() && stderr(&o).contains("train_limit"), "{}", stderr(&o));
    assert!(!empty.path().join("r6").exists());

    let toml = empty.path().join("fast.toml");
    std::fs::write(&toml, "task = \"rte\"\nlr = \"fast\"\n").unwrap();
    let o = stabletune(&["train", "--config", toml.to_str().unwrap(), "--out", &format!("{e}/r7")]);
    assert!(!o.status.success() && stderr(&o).contains("fast.toml:2"), "{}", stderr(&o));

    let toml = empty.path().join("bad.toml");
    std::fs::write(&toml, "task = \"rte\"\nlearning_rate = 1e-5\n").unwrap();
    let o = stabletune(&["train", "--config", toml.to_str().unwrap(), "--out", &format!("{e}/r3")]);
    assert!(
        !o.status.success() && stderr(&o).contains("bad.toml:2") && stderr(&o).contains("learning_rate"),
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

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// Starts a 12-update RTE run in the background.
fn start(data: &Path, run: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_stabletune"))
        .args(["train", "--task", "rte", "--data-dir", data.to_str().unwrap(), "--epochs", "3"])
        .args(["--evals-per-epoch", "1", "--seed", "2", "--out", run.to_str().unwrap()])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until `path` holds `needle`.
fn wait_for(path: &Path, needle: &str, what: &str) {
    let begun = std::time::Instant::now();
    while !std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
        assert!(begun.elapsed().as_secs() < 120, "{what} never appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Ctrl-C and SIGTERM (Slurm's time limit, `kill`, `timeout`) stop a run cleanly with a checkpoint and
/// exit status 130; `--resume --out DIR` finishes it, and a second `--resume` changes nothing.
#[test]
fn signals_then_resume_with_only_the_run_directory() {
    let data = small_rte(64, 16);
    let out = tempfile::tempdir().unwrap();
    for signal in ["-INT", "-TERM"] {
        let run = out.path().join(format!("run{signal}"));
        let mut child = start(data.path(), &run, &[]);
        // Signal as soon as the first update is logged: long before the first epoch's end.
        wait_for(&run.join("metrics.jsonl"), "\"loss\"", "the first update");
        let sent = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{signal}: an interrupted run exits with 130");
        assert_eq!(summary(&run)["status"], "interrupted");
        assert!(summary(&run)["steps"].as_u64().unwrap() < 12);

        let o = stabletune(&["train", "--resume", "--out", run.to_str().unwrap(), "--threads", "1"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            (summary(&run)["status"].as_str(), summary(&run)["steps"].as_u64()),
            (Some("completed"), Some(12))
        );
        let before = std::fs::read(run.join("checkpoint-last/model.safetensors")).unwrap();
        let o = stabletune(&["train", "--resume", "--out", run.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("already ended"));
        assert_eq!(std::fs::read(run.join("checkpoint-last/model.safetensors")).unwrap(), before);
    }
}

/// kill -9 after a `--checkpoint-every` checkpoint: `--resume` continues from it and ends with the
/// weights of a run never killed.
#[test]
fn kill_9_then_resume_from_a_periodic_checkpoint() {
    let data = small_rte(64, 16);
    let out = tempfile::tempdir().unwrap();
    let (whole, killed) = (out.path().join("whole"), out.path().join("killed"));
    let o = stabletune(&[
        "train",
        "--task",
        "rte",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--epochs",
        "3",
        "--evals-per-epoch",
        "1",
        "--seed",
        "2",
        "--out",
        whole.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut child = start(data.path(), &killed, &["--checkpoint-every", "1"]);
    wait_for(&killed.join("checkpoint-last/trainer_state.json"), "\"step\"", "a periodic checkpoint");
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let o = stabletune(&["train", "--resume", "--out", killed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(summary(&killed)["final_metrics"], summary(&whole)["final_metrics"]);
    let weights = |run: &Path| std::fs::read(run.join("checkpoint-last/model.safetensors")).unwrap();
    assert_eq!(weights(&killed), weights(&whole));
}

/// A diverged run exits with its own status (3) and counts as failed.
#[test]
fn a_diverged_run_exits_with_status_3() {
    let data = small_rte(32, 16);
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let o = stabletune(&[
        "train",
        "--task",
        "rte",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--max-steps",
        "6",
        "--lr",
        "1e12",
        "--max-grad-norm",
        "0",
        "--warmup-steps",
        "0",
        "--weight-decay",
        "0",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        (summary(&run)["status"].as_str(), summary(&run)["failed"].as_bool()),
        (Some("diverged"), Some(true))
    );
}

/// Every setting a config file takes is also a flag, with a help line under it.
#[test]
fn every_setting_has_a_flag_with_help() {
    let help = String::from_utf8(stabletune(&["train", "--help"]).stdout).unwrap();
    let lines: Vec<&str> = help.lines().map(str::trim).collect();
    let serde_json::Value::Object(keys) =
        serde_json::to_value(stabletune_train::Overrides::default()).unwrap()
    else {
        panic!("settings serialise to a map")
    };
    assert!(keys.len() > 40);
    for key in keys.keys() {
        let flag = format!("--{}", key.replace('_', "-"));
        let at = lines.iter().position(|l| l.split([' ', '[']).next() == Some(flag.as_str()));
        let at = at.unwrap_or_else(|| panic!("no {flag} in\n{help}"));
        let described = lines.get(at + 1).is_some_and(|next| !next.is_empty() && !next.starts_with("--"));
        assert!(described, "{flag} has no help line");
    }
}

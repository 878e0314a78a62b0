//! The failure sentinel on whole runs of the real MiniLM (a slice of SST-2 at a learning rate too small to
//! leave the constant prediction): its live warning is the one replayed from the log, the same at any
//! thread count; `stop` ends the run as failed with a resumable checkpoint, and resuming it with `flag`
//! ends bit-identical to the run that was never stopped.

mod common;

use stabletune_train::sentinel::{Sentinel, SentinelMode, Trace, RULE};
use stabletune_train::trainer::Quiet;
use stabletune_train::{locations, train, Overrides, Recipe, Status, Summary, TrainConfig};
use std::path::Path;

/// The first 160 training and 40 dev rows of SST-2.
fn small_sst2() -> tempfile::TempDir {
    common::sst2_head(160, 40)
}

fn config(data: &Path, sentinel: SentinelMode, threads: usize) -> TrainConfig {
    let o = Overrides {
        model: Some(locations::default_model().display().to_string()),
        task: Some("sst-2".into()),
        data_dir: Some(data.to_path_buf()),
        recipe: Some(Recipe::Mosbach2021),
        seed: Some(1),
        epochs: Some(3),
        lr: Some(1e-7),
        evals_per_epoch: Some(1),
        grad_norms_every: Some(2),
        sentinel: Some(sentinel),
        threads: Some(threads),
        ..Default::default()
    };
    TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap()
}

fn replayed(out: &Path, s: &Summary) -> Option<stabletune_train::sentinel::Warning> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let trace = Trace::parse(&text, &s.headline_metric).unwrap();
    let sentinel =
        Sentinel::new(RULE, s.constant_loss.unwrap(), s.majority_baseline, s.warmup_steps, s.total_steps);
    trace.replay(sentinel)
}

#[test]
fn flag_stop_and_resume() {
    let data = small_sst2();
    let root = tempfile::tempdir().unwrap();
    let flag_dir = root.path().join("flag");
    let flagged = train(&config(data.path(), SentinelMode::Flag, 1), &flag_dir, false, &mut Quiet).unwrap();
    assert_eq!(flagged.status, Status::Completed, "flag never stops a run");
    let warning = flagged.sentinel_warning.clone().expect("a run that cannot learn is flagged");
    assert_eq!(flagged.sentinel, SentinelMode::Flag);
    assert!(warning.step < flagged.total_steps && warning.loss_ratio >= RULE.loss_ratio);
    assert_eq!(replayed(&flag_dir, &flagged), Some(warning.clone()), "the replay is the live rule");
    let log = std::fs::read_to_string(flag_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(log.matches("\"sentinel\"").count(), 1, "one warning in the log");

    let two = root.path().join("two-threads");
    let again = train(&config(data.path(), SentinelMode::Flag, 2), &two, false, &mut Quiet).unwrap();
    assert_eq!(again.sentinel_warning, Some(warning.clone()), "the same at any thread count");

    let stop_dir = root.path().join("stop");
    let stopped = train(&config(data.path(), SentinelMode::Stop, 1), &stop_dir, false, &mut Quiet).unwrap();
    assert_eq!(stopped.status, Status::StoppedBySentinel);
    assert_eq!((stopped.failed, stopped.steps), (Some(true), warning.step));
    assert!(stopped.final_metrics.contains_key("acc"), "evaluated where it stopped");
    assert!(
        stop_dir.join("checkpoint-last/optimizer.safetensors").exists(),
        "resumable: Adam's moments kept"
    );

    // Resumed with the sentinel only flagging, it trains on to the end as if never stopped.
    let resumed = train(&config(data.path(), SentinelMode::Flag, 1), &stop_dir, true, &mut Quiet).unwrap();
    assert_eq!(resumed.status, Status::Completed);
    assert_eq!(resumed.sentinel_warning, Some(warning));
    let weights = |d: &Path| std::fs::read(d.join("checkpoint-last/model.safetensors")).unwrap();
    assert!(weights(&stop_dir) == weights(&flag_dir), "resumed weights differ from the unstopped run's");
    assert_eq!(resumed.final_metrics, flagged.final_metrics);
}

#[test]
fn restart_is_a_study_setting() {
    let o = Overrides {
        model: Some(locations::default_model().display().to_string()),
        task: Some("sst-2".into()),
        sentinel: Some(SentinelMode::Restart),
        ..Default::default()
    };
    let err = TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap_err();
    assert!(err.contains("study setting"), "{err}");
}

//! The early-stopping schedule on synthetic run folders: who is at the decision point, the ranking (ties
//! included), runs that failed before it, a decision taken exactly once, and a decision whose writer died
//! before applying it.

use stabletune_study::early_stop::{self, Decision, EarlyStopping, RunState};
use stabletune_study::plan::PlannedRun;
use stabletune_study::spec::StudySpec;
use stabletune_study::Store;
use stabletune_train::{Overrides, Status, Summary, TrainConfig};
use std::path::Path;

const ES: EarlyStopping = EarlyStopping { start: 4, keep: 2, at: 0.25, evals_per_epoch: 10 };
const TOTAL: u64 = 100;
const BASELINE: f64 = 0.5;

fn planned(n: usize) -> Vec<PlannedRun> {
    (0..n)
        .map(|i| {
            let o = Overrides {
                model: Some("m".into()),
                task: Some("rte".into()),
                seed: Some(i as u64 + 1),
                ..Default::default()
            };
            PlannedRun {
                id: format!("rte-run{i}"),
                config: TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap(),
                task: "rte".into(),
                configuration: "mosbach2021".into(),
                model: "m".into(),
                reserve: None,
            }
        })
        .collect()
}

fn summary(status: Status, steps: u64) -> Summary {
    Summary {
        status,
        task: "RTE".into(),
        model: "m".into(),
        recipe: "mosbach2021".into(),
        init_seed: 1,
        data_seed: 1,
        sample_seed: 0,
        train_examples: 100,
        train_sample_sha256: String::new(),
        dev_examples: 50,
        steps,
        total_steps: TOTAL,
        warmup_steps: 10,
        epochs: 3.0,
        headline_metric: "acc".into(),
        final_metrics: Default::default(),
        best_metrics: None,
        best_step: None,
        majority_baseline: Some(BASELINE),
        majority_metrics: None,
        failed: None,
        constant_loss: None,
        sentinel: Default::default(),
        sentinel_warning: None,
        wall_seconds: 1.0,
        train_examples_per_second: 1.0,
        version: "test".into(),
        git_commit: "test".into(),
    }
}

/// A run folder: evaluations at the given (step, acc), the last one where it stands, with `status`.
fn write(store: &Store, id: &str, status: Status, evals: &[(u64, f64)]) {
    let dir = store.run_dir(id);
    std::fs::create_dir_all(&dir).unwrap();
    let mut log = String::from("{\"epoch\":0.0,\"eval\":{\"acc\":0.45},\"step\":0}\n");
    for (step, acc) in evals {
        log += &format!("{{\"epoch\":0.1,\"loss\":0.6,\"lr\":1e-5,\"grad_norm\":1.0,\"step\":{step}}}\n");
        log += &format!("{{\"epoch\":0.1,\"eval\":{{\"acc\":{acc}}},\"step\":{step}}}\n");
    }
    std::fs::write(dir.join("metrics.jsonl"), log).unwrap();
    let steps = evals.last().map_or(0, |e| e.0);
    let s = summary(status, steps);
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&s).unwrap()).unwrap();
}

fn status_of(store: &Store, id: &str) -> (Status, Option<bool>) {
    let s = stabletune_train::trainer::read_summary(&store.run_dir(id)).unwrap();
    (s.status, s.failed)
}

fn setup() -> (tempfile::TempDir, Store, Vec<PlannedRun>) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    (tmp, store, planned(4))
}

#[test]
fn the_decision_waits_for_every_run_then_keeps_the_best_so_far_with_ties_in_study_order() {
    let (_tmp, store, runs) = setup();
    let group = &early_stop::groups(&runs)[0];
    // Paused at step 30, the first evaluation at or after 25 of 100 updates.
    write(&store, "rte-run0", Status::Interrupted, &[(10, 0.60), (20, 0.70), (30, 0.65)]);
    write(&store, "rte-run1", Status::Interrupted, &[(10, 0.55), (20, 0.80), (30, 0.62)]);
    write(&store, "rte-run2", Status::Interrupted, &[(10, 0.80), (20, 0.60), (30, 0.61)]);
    // Still training (interrupted mid-way by Ctrl-C, before the decision point).
    write(&store, "rte-run3", Status::Interrupted, &[(10, 0.90)]);
    assert_eq!(early_stop::run_state(&store.run_dir("rte-run3"), &ES), RunState::Before);
    assert!(matches!(
        early_stop::run_state(&store.run_dir("rte-run0"), &ES),
        RunState::AtDecision { step: 30, .. }
    ));
    assert_eq!(
        early_stop::decide(&store, &runs, group, &ES).unwrap(),
        None,
        "no decision on partial information"
    );
    assert!(!store.root.join("early-stopping").exists());

    write(&store, "rte-run3", Status::Interrupted, &[(10, 0.52), (20, 0.58), (30, 0.59)]);
    let d = early_stop::decide(&store, &runs, group, &ES).unwrap().unwrap();
    // run1 and run2 tie at 0.80: the earlier in the study ranks first.
    let order: Vec<&str> = d.ranking.iter().map(|r| r.run.as_str()).collect();
    assert_eq!(order, vec!["rte-run1", "rte-run2", "rte-run0", "rte-run3"]);
    assert_eq!(d.continued, vec!["rte-run1", "rte-run2"]);
    assert_eq!(d.stopped, vec!["rte-run0", "rte-run3"]);
    assert_eq!((d.decision_step, d.total_steps, d.keep, d.start), (30, TOTAL, 2, 4));
    assert_eq!(status_of(&store, "rte-run0"), (Status::StoppedBySchedule, None));
    assert_eq!(status_of(&store, "rte-run3"), (Status::StoppedBySchedule, None));
    assert_eq!(status_of(&store, "rte-run1"), (Status::Interrupted, None), "kept runs continue");
    // A stopped run counts as ended for the study, and stays resumable for `train --resume`.
    assert!(store.finished("rte-run0").is_some() && store.finished("rte-run1").is_none());
    assert!(!Status::StoppedBySchedule.is_final() && Status::StoppedBySchedule.is_ended());
}

#[test]
fn runs_that_fail_before_the_decision_point_are_stopped_and_not_ranked() {
    let (_tmp, store, runs) = setup();
    let group = &early_stop::groups(&runs)[0];
    write(&store, "rte-run0", Status::Interrupted, &[(10, 0.60), (20, 0.70), (30, 0.65)]);
    // Above the baseline after the warmup (10 updates), then at it: fell to the baseline at step 20.
    write(&store, "rte-run1", Status::Interrupted, &[(12, 0.55), (20, 0.50)]);
    assert_eq!(early_stop::run_state(&store.run_dir("rte-run1"), &ES), RunState::Collapsed { step: 20 });
    // The same during the warmup is not a fall: runs often sit at the majority class then.
    write(&store, "rte-run1", Status::Interrupted, &[(5, 0.55), (10, 0.50)]);
    assert_eq!(early_stop::run_state(&store.run_dir("rte-run1"), &ES), RunState::Before);
    write(&store, "rte-run1", Status::Interrupted, &[(5, 0.55), (10, 0.50), (12, 0.55), (20, 0.50)]);
    // Never above the baseline yet: not fallen, only slow.
    write(&store, "rte-run2", Status::Interrupted, &[(10, 0.50), (20, 0.49)]);
    assert_eq!(early_stop::run_state(&store.run_dir("rte-run2"), &ES), RunState::Before);
    write(&store, "rte-run2", Status::Interrupted, &[(10, 0.50), (20, 0.49), (30, 0.50)]);
    write(&store, "rte-run3", Status::Diverged, &[(10, 0.6)]);
    let d = early_stop::decide(&store, &runs, group, &ES).unwrap().unwrap();
    let failed: Vec<(&str, &str)> =
        d.failed_before.iter().map(|f| (f.run.as_str(), f.reason.as_str())).collect();
    assert_eq!(failed, vec![("rte-run1", "fell to the majority baseline"), ("rte-run3", "diverged")]);
    assert_eq!(d.continued, vec!["rte-run0", "rte-run2"]);
    assert!(d.stopped.is_empty());
    assert_eq!(status_of(&store, "rte-run1"), (Status::StoppedBySchedule, Some(true)));
    assert_eq!(status_of(&store, "rte-run3").0, Status::Diverged);
}

#[test]
fn a_decision_is_taken_once_and_a_dead_writers_decision_is_still_applied() {
    let (_tmp, store, runs) = setup();
    let group = &early_stop::groups(&runs)[0];
    for (i, best) in [0.6, 0.7, 0.8, 0.9].iter().enumerate() {
        write(&store, &format!("rte-run{i}"), Status::Interrupted, &[(10, 0.55), (30, *best)]);
    }
    // Another worker decided first (a different ranking, to tell them apart) and died before applying it.
    let theirs = Decision {
        task: "rte".into(),
        configuration: "mosbach2021".into(),
        runs: (0..4).map(|i| format!("rte-run{i}")).collect(),
        start: 4,
        keep: 2,
        at: 0.25,
        decision_step: 30,
        total_steps: TOTAL,
        headline_metric: "acc".into(),
        ranking: vec![],
        continued: vec!["rte-run0".into(), "rte-run1".into()],
        stopped: vec!["rte-run2".into(), "rte-run3".into()],
        failed_before: vec![],
        decided_at: 1,
        decided_by: "other:1".into(),
    };
    let path = early_stop::decision_path(&store, &runs, group, &ES);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string(&theirs).unwrap()).unwrap();
    let d = early_stop::decide(&store, &runs, group, &ES).unwrap().unwrap();
    assert_eq!(d, theirs, "the decision that stands is never revised");
    assert_eq!(status_of(&store, "rte-run3").0, Status::StoppedBySchedule, "applied by whoever reads it");
    assert_eq!(status_of(&store, "rte-run0").0, Status::Interrupted);
    // Deciding again changes nothing.
    assert_eq!(early_stop::decide(&store, &runs, group, &ES).unwrap().unwrap(), theirs);
    let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1, "no temporary file left behind");
}

#[test]
fn two_deciders_agree_on_one_decision() {
    let (_tmp, store, runs) = setup();
    let group = early_stop::groups(&runs).remove(0);
    for (i, best) in [0.6, 0.7, 0.8, 0.9].iter().enumerate() {
        write(&store, &format!("rte-run{i}"), Status::Interrupted, &[(10, 0.55), (30, *best)]);
    }
    let decisions: Vec<Decision> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| early_stop::decide(&store, &runs, &group, &ES).unwrap().unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(decisions.windows(2).all(|w| w[0] == w[1]), "every decider returns the one decision written");
    assert_eq!(decisions[0].continued, vec!["rte-run3", "rte-run2"]);
}

#[test]
fn the_study_file_section_is_checked() {
    let base = "name = \"s\"\ntasks = [\"rte\"]\nseeds = \"1..6\"\n";
    let parse = |extra: &str| {
        StudySpec::parse(Path::new("study.toml"), &format!("{base}{extra}")).map_err(|e| e.to_string())
    };
    let ok = parse("[early_stopping]\nstart = 6\nkeep = 2\nat = 0.25\nevals_per_epoch = 10\n").unwrap();
    assert_eq!(ok.early_stopping, Some(EarlyStopping { start: 6, keep: 2, at: 0.25, evals_per_epoch: 10 }));
    assert!(ok.settings.iter().any(|(k, v)| k == "evals_per_epoch" && v == &vec![toml::Value::Integer(10)]));
    for (extra, says) in [
        ("[early_stopping]\nstart = 5\nkeep = 2\nat = 0.25\nevals_per_epoch = 10\n", "start = 5"),
        ("[early_stopping]\nstart = 6\nkeep = 6\nat = 0.25\nevals_per_epoch = 10\n", "keep = 6"),
        ("[early_stopping]\nstart = 6\nkeep = 2\nat = 1.5\nevals_per_epoch = 10\n", "at:"),
        (
            "[early_stopping]\nstart = 6\nkeep = 2\nat = 0.25\nevals_per_epoch = 10\npatience = 3\n",
            "patience",
        ),
        (
            "evals_per_epoch = 3\n[early_stopping]\nstart = 6\nkeep = 2\nat = 0.25\nevals_per_epoch = 10\n",
            "evals_per_epoch",
        ),
    ] {
        let e = parse(extra).unwrap_err();
        assert!(e.contains(says), "{e}");
    }
}

#[test]
fn a_decision_over_other_runs_is_not_applied_and_the_group_is_decided_anew() {
    let (_tmp, store, runs) = setup();
    let group = &early_stop::groups(&runs)[0];
    for (i, best) in [0.6, 0.7, 0.8, 0.9].iter().enumerate() {
        write(&store, &format!("rte-run{i}"), Status::Interrupted, &[(10, 0.55), (30, *best)]);
    }
    // A decision taken when the group had two runs (the study then got more seeds), in the old file name.
    let old = Decision {
        task: "rte".into(),
        configuration: "mosbach2021".into(),
        runs: vec!["rte-run0".into(), "rte-run1".into()],
        start: 2,
        keep: 1,
        at: 0.25,
        decision_step: 30,
        total_steps: TOTAL,
        headline_metric: "acc".into(),
        ranking: vec![],
        continued: vec!["rte-run1".into()],
        stopped: vec!["rte-run0".into()],
        failed_before: vec![],
        decided_at: 1,
        decided_by: "earlier:1".into(),
    };
    let dir = store.root.join("early-stopping");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{}.json", group.key)), serde_json::to_string(&old).unwrap()).unwrap();
    assert!(early_stop::read_decision(&store, &runs, group, &ES).is_none(), "not taken over these runs");
    let d = early_stop::decide(&store, &runs, group, &ES).unwrap().unwrap();
    assert_eq!(d.runs.len(), 4);
    assert_eq!(d.continued, vec!["rte-run3", "rte-run2"]);
    assert!(
        dir.join("superseded").join(format!("{}.json", group.key)).is_file(),
        "the old decision is set aside"
    );
    assert!(early_stop::decision_path(&store, &runs, group, &ES).is_file());
}

#[test]
fn a_run_an_earlier_decision_stopped_is_resumed_when_a_new_one_keeps_it() {
    let (_tmp, store, runs) = setup();
    let group = &early_stop::groups(&runs)[0];
    for (i, best) in [0.6, 0.7, 0.8, 0.9].iter().enumerate() {
        write(&store, &format!("rte-run{i}"), Status::Interrupted, &[(10, 0.55), (30, *best)]);
    }
    // run3 (the best) was stopped by a decision over another run set.
    early_stop::stop_run(&store, "rte-run3", false).unwrap();
    assert_eq!(status_of(&store, "rte-run3").0, Status::StoppedBySchedule);
    let d = early_stop::decide(&store, &runs, group, &ES).unwrap().unwrap();
    assert_eq!(d.continued[0], "rte-run3", "ranked by its best up to its decision point");
    assert_eq!(status_of(&store, "rte-run3").0, Status::Interrupted, "resumable again");
}

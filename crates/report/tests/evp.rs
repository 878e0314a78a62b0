//! Expected validation performance on each run's best evaluation by default (Dodge et al., allentune),
//! its final one as an option, and diverged runs on the curve rather than silently gone.

mod common;

use common::{write_run, FakeRun};
use serde_json::Value;
use stabletune_report::{analyse_with, build, build_with, evp_values, load_runs, EvpValue, Options, Report};
use std::path::Path;

/// (final, best) of each run; `None` final: diverged (its best from before it diverged).
const RUNS: [(Option<f64>, f64); 5] =
    [(Some(0.6), 0.7), (Some(0.55), 0.72), (Some(0.7), 0.75), (Some(0.65), 0.8), (None, 0.62)];

fn study(root: &Path) {
    for (i, &(fin, best)) in RUNS.iter().enumerate() {
        let mut run = FakeRun::new("rte", "devlin2019", i as u64 + 1, fin.unwrap_or(0.5));
        run.value = fin;
        let dir = write_run(root, &run);
        let path = dir.join("summary.json");
        let mut summary: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        summary["best_metrics"] = serde_json::json!({ "acc": best });
        std::fs::write(&path, summary.to_string()).unwrap();
    }
}

fn evp_caption(report: &Report) -> String {
    report.figures.iter().find(|f| f.id == "evp-rte").expect("an EVP figure").caption.clone()
}

#[test]
fn the_curve_takes_each_runs_best_evaluation_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    study(tmp.path());
    let report = build(&[tmp.path().to_path_buf()], None).unwrap();
    let values: Vec<f64> =
        evp_values(&report.groups[0], &report.runs, EvpValue::Best).into_iter().map(|v| v.1).collect();
    assert_eq!(values, RUNS.iter().map(|r| r.1).collect::<Vec<_>>(), "the diverged run at its best too");
    let caption = evp_caption(&report);
    assert!(caption.contains("(5 runs in all)") && caption.contains("best evaluated dev acc"), "{caption}");
    assert!(!caption.contains("diverged run without a value"), "{caption}");
    assert_eq!(Options::default().evp, EvpValue::Best);
}

#[test]
fn the_final_value_is_an_option_and_a_diverged_run_counts_as_the_floor() {
    let tmp = tempfile::tempdir().unwrap();
    study(tmp.path());
    let options = Options { evp: EvpValue::Final };
    let report = build_with(&[tmp.path().to_path_buf()], None, &options).unwrap();
    let values: Vec<f64> =
        evp_values(&report.groups[0], &report.runs, EvpValue::Final).into_iter().map(|v| v.1).collect();
    assert_eq!(values, vec![0.6, 0.55, 0.7, 0.65, 0.0]);
    let caption = evp_caption(&report);
    assert!(caption.contains("(5 runs in all)") && caption.contains("final model"), "{caption}");
    assert!(
        caption.contains("1 diverged run without a value counts as the lowest acc possible (0)"),
        "{caption}"
    );
    // analyse_with on runs already read says the same.
    let runs = load_runs(&[tmp.path().to_path_buf()]).unwrap();
    let again = analyse_with(vec![tmp.path().to_path_buf()], runs, None, &options).unwrap();
    assert_eq!(evp_caption(&again), caption);
}

#[test]
fn runs_without_a_final_model_that_did_not_diverge_are_counted_out_loud() {
    let tmp = tempfile::tempdir().unwrap();
    study(tmp.path());
    // A sixth run stopped by a study's schedule: a best evaluation, no final model.
    let dir = write_run(tmp.path(), &FakeRun::new("rte", "devlin2019", 6, 0.5));
    let path = dir.join("summary.json");
    let mut summary: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    summary["status"] = "stopped_by_schedule".into();
    summary["final_metrics"] = serde_json::json!({});
    summary["best_metrics"] = serde_json::json!({ "acc": 0.66 });
    summary["failed"] = Value::Null;
    std::fs::write(&path, summary.to_string()).unwrap();
    let best = build(&[tmp.path().to_path_buf()], None).unwrap();
    assert!(evp_caption(&best).contains("(6 runs in all)"), "{}", evp_caption(&best));
    let fin = build_with(&[tmp.path().to_path_buf()], None, &Options { evp: EvpValue::Final }).unwrap();
    let caption = evp_caption(&fin);
    assert!(caption.contains("(5 runs in all)"), "{caption}");
    assert!(
        caption.contains("1 run stopped by the early-stopping schedule left out (no final model)"),
        "{caption}"
    );
}

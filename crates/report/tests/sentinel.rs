//! The failure sentinel in the report: a run it stopped counts as failed and is in no statistic over n;
//! with `sentinel = "restart"`, failures are counted over the original runs, the replacement is in n, and
//! the original runs' spread (the stopped one at its value where it stopped) is shown beside the
//! finished runs'; every flagged run is listed with its evidence and what became of it.

mod common;

use common::{write_run, FakeRun};
use stabletune_report::{build, write_report, Format};
use stabletune_stats::describe;

/// The sample std (ddof 1), as Table 1's.
fn std(values: &[f64]) -> f64 {
    describe(values).unwrap().std_sample.unwrap()
}

#[test]
fn restarted_runs_keep_the_original_failure_rate_and_both_spreads() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("study");
    let mut stopped = FakeRun::new("sst-2", "mosbach2021", 1, 0.5);
    stopped.status = Some("stopped_by_sentinel");
    stopped.steps = 21;
    let originals = [
        stopped,
        FakeRun::new("sst-2", "mosbach2021", 2, 0.8),
        FakeRun::new("sst-2", "mosbach2021", 3, 0.82),
        FakeRun::new("sst-2", "mosbach2021", 4, 0.84),
    ];
    let replacement = FakeRun::new("sst-2", "mosbach2021", 5, 0.81);
    let dirs: Vec<_> = originals.iter().chain([&replacement]).map(|r| write_run(&root, r)).collect();
    // The stopped run's summary as the trainer writes it: the warning, 30 planned updates.
    let path = dirs[0].join("summary.json");
    let mut s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    s["total_steps"] = 30.into();
    s["sentinel_warning"] = serde_json::json!({"step": 21, "fraction": 0.7, "loss_mean": 0.69, "constant_loss": 0.693,
        "loss_ratio": 0.996, "lower_norm": 0.1, "lower_reference": 0.09, "lower_growth": 1.1, "top_norm": 0.2,
        "lower_over_top": 0.5, "last_eval": null, "baseline": 0.5});
    std::fs::write(&path, s.to_string()).unwrap();
    let name = |d: &std::path::PathBuf| d.file_name().unwrap().to_string_lossy().into_owned();
    let slots = root.join("restarts").join("sst-2-mosbach2021");
    std::fs::create_dir_all(&slots).unwrap();
    let slot = serde_json::json!({"replaced": name(&dirs[0]), "replacement": name(&dirs[4]), "seed": 5, "at": 0, "by": "test"});
    std::fs::write(slots.join(format!("{}.json", name(&dirs[4]))), slot.to_string()).unwrap();

    let r = build(std::slice::from_ref(&root), None).unwrap();
    assert_eq!(r.rows.len(), 1);
    let row = &r.rows[0];
    assert_eq!((row.failed, row.judged), (Some(1), 4), "failures over the 4 original runs");
    assert_eq!((row.restarted, row.stopped_by_sentinel, row.stopped_by_sentinel_original), (1, 1, 1));
    assert_eq!(row.n, 4, "the finished runs: 3 originals and the replacement");
    assert!((row.std.unwrap() - std(&[0.8, 0.82, 0.84, 0.81])).abs() < 1e-12);
    assert_eq!(row.original_n, 4);
    assert!((row.original_std.unwrap() - std(&[0.5, 0.8, 0.82, 0.84])).abs() < 1e-12);

    let out = tempfile::tempdir().unwrap();
    write_report(&r, out.path(), &Format::ALL).unwrap();
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        md.contains("Cite the original runs' std as the recipe's spread"),
        "the caption says which spread to cite"
    );
    assert!(md.contains("1/4 (1 by the sentinel, 1 restarted)"), "{md}");
    assert!(md.contains(&format!("(originals: {:.4} over 4 runs)", std(&[0.5, 0.8, 0.82, 0.84]))));
    assert!(md.contains("## Failure sentinel"));
    assert!(md.contains(&format!("{}: flagged at update 21 (70% of training)", name(&dirs[0]))));
    assert!(md.contains(&format!("stopped by the sentinel (failed); replaced by {}", name(&dirs[4]))));
    assert!(md.contains("saving 9 updates"), "{md}");
}

#[test]
fn without_the_sentinel_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("study");
    for (seed, v) in [(1, 0.8), (2, 0.5)] {
        write_run(&root, &FakeRun::new("sst-2", "devlin2019", seed, v));
    }
    let r = build(std::slice::from_ref(&root), None).unwrap();
    let row = &r.rows[0];
    assert_eq!((row.restarted, row.stopped_by_sentinel, row.flagged, row.original_n), (0, 0, 0, 0));
    assert_eq!(row.original_std, None);
    let out = tempfile::tempdir().unwrap();
    write_report(&r, out.path(), &Format::ALL).unwrap();
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(!md.contains("Failure sentinel") && !md.contains("sentinel"));
}

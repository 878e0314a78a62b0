//! The offline early-stopping simulation against a direct Python re-implementation of Dodge et al.'s
//! procedure (`tests/goldens/early_stopping.json`, from `tools/make_early_stopping_goldens.py`), both exact;
//! and which runs of a study enter it, read from run folders.

mod common;

use common::{write_run, FakeRun};
use serde_json::Value;
use stabletune_report::early_stopping::{expected_best, plans, simulate, Plan, Simulation};
use std::path::Path;

fn golden(study: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/goldens/early_stopping.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all[study].clone()
}

fn plan_of(v: &Value) -> Plan {
    let u = |k: &str| v[k].as_u64().unwrap() as usize;
    Plan { started: u("started"), stopped: u("stopped"), evals_before_stop: u("evals_before_stop") }
}

fn curves_of(g: &Value) -> Vec<Vec<f64>> {
    serde_json::from_value(g["curves"].clone()).unwrap()
}

fn matches_golden(g: &Value) {
    let curves = curves_of(g);
    let (n, e) = (curves.len(), curves[0].len());
    let budgets = g["budgets"].as_array().unwrap();
    for b in budgets {
        let budget = b["budget"].as_u64().unwrap() as usize;
        let want: Vec<Plan> = b["plans"].as_array().unwrap().iter().map(plan_of).collect();
        assert_eq!(plans(budget, e, n), want, "budget {budget}: the same plans in the same order");
        for p in b["plans"].as_array().unwrap() {
            let (value, exact) = expected_best(&curves, plan_of(p), 0, 0);
            assert!(exact);
            let v = p["value"].as_f64().unwrap();
            assert!((value - v).abs() <= 1e-12, "budget {budget} {:?}: {value} vs {v}", plan_of(p));
        }
    }
    let (results, exact) = simulate(&curves, 30, 0, 0);
    assert!(exact);
    assert_budgets(&results, budgets);
}

fn assert_budgets(results: &[stabletune_report::early_stopping::BudgetResult], budgets: &[Value]) {
    assert_eq!(results.len(), budgets.len());
    for (r, b) in results.iter().zip(budgets) {
        assert_eq!(r.best_plan, plan_of(&b["best"]), "budget {}", r.budget);
        assert!((r.best - b["best"]["value"].as_f64().unwrap()).abs() <= 1e-12);
        assert!((r.train_fully - b["plans"][0]["value"].as_f64().unwrap()).abs() <= 1e-12);
        assert!(r.best >= r.train_fully, "training fully is one of the plans");
    }
}

#[test]
fn every_plan_and_every_budget_match_dodges_procedure() {
    matches_golden(&golden("random"));
}

#[test]
fn among_plans_of_equal_value_the_last_wins_as_theirs() {
    let g = golden("ties");
    matches_golden(&g);
    // Budget 3: (4 started, 2 stopped after 2) and (4, 4 stopped after 3) both find the best of 4 runs.
    let b3 = &g["budgets"][2];
    assert_eq!(b3["plans"][1]["value"], b3["plans"][2]["value"]);
    let (results, _) = simulate(&curves_of(&g), 30, 0, 0);
    assert_eq!(results[2].best_plan, Plan { started: 4, stopped: 4, evals_before_stop: 3 });
}

/// Writes run `i` of a study whose evaluations at steps 0, 10, 20, ... are `curve`, with `status`.
fn write_curve_run(root: &Path, i: u64, curve: &[f64], status: &str, from_step: usize) -> String {
    let last = *curve.last().unwrap();
    let dir = write_run(root, &FakeRun::new("rte", "devlin2019", i, last));
    let steps = 10 * (curve.len() as u64 - 1);
    let mut log = String::new();
    for (j, v) in curve.iter().enumerate().skip(from_step) {
        log.push_str(&format!("{{\"epoch\":0.5,\"eval\":{{\"acc\":{v}}},\"step\":{}}}\n", 10 * j));
    }
    std::fs::write(dir.join("metrics.jsonl"), log).unwrap();
    let path = dir.join("summary.json");
    let mut summary: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    summary["status"] = status.into();
    summary["steps"] = steps.into();
    summary["total_steps"] = steps.into();
    std::fs::write(&path, summary.to_string()).unwrap();
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn simulate_folder(root: &Path) -> (Vec<Simulation>, Vec<String>) {
    let mut report = stabletune_report::build(&[root.to_path_buf()], None).unwrap();
    report.simulate_early_stopping().unwrap();
    (report.simulations, report.simulation_skipped)
}

#[test]
fn the_step_0_evaluation_is_the_first_point_of_each_curve() {
    let g = golden("random");
    let curves = curves_of(&g);
    let tmp = tempfile::tempdir().unwrap();
    for (i, c) in curves.iter().enumerate() {
        write_curve_run(tmp.path(), i as u64 + 1, c, "completed", 0);
    }
    let (sims, skipped) = simulate_folder(tmp.path());
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!((sims.len(), sims[0].runs, sims[0].evals), (1, curves.len(), curves[0].len()));
    assert_budgets(&sims[0].budgets, g["budgets"].as_array().unwrap());
}

#[test]
fn a_run_without_a_step_0_evaluation_is_named_not_used() {
    let curves = curves_of(&golden("random"));
    let tmp = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (i, c) in curves.iter().enumerate() {
        names.push(write_curve_run(tmp.path(), i as u64 + 1, c, "completed", usize::from(i == 2)));
    }
    let (sims, skipped) = simulate_folder(tmp.path());
    assert_eq!(sims[0].runs, curves.len() - 1);
    assert_eq!(sims[0].evals, curves[0].len());
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].contains(&names[2]) && skipped[0].contains("no step-0 evaluation"), "{}", skipped[0]);
}

#[test]
fn runs_that_ended_early_by_their_own_rule_enter_at_their_best_so_far() {
    let curves = curves_of(&golden("random"));
    let tmp = tempfile::tempdir().unwrap();
    for (i, c) in curves.iter().enumerate() {
        match i {
            // Diverged after its fourth evaluation; stopped by patience after its sixth.
            0 => write_curve_run(tmp.path(), 1, &c[..4], "diverged", 0),
            1 => write_curve_run(tmp.path(), 2, &c[..6], "early_stopped", 0),
            _ => write_curve_run(tmp.path(), i as u64 + 1, c, "completed", 0),
        };
    }
    let (sims, skipped) = simulate_folder(tmp.path());
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!((sims[0].runs, sims[0].ended_early), (curves.len(), 2));
    let mut padded = curves.clone();
    for (i, keep) in [(0, 4), (1, 6)] {
        let best = padded[i][..keep].iter().cloned().fold(f64::MIN, f64::max);
        padded[i].truncate(keep);
        padded[i].resize(curves[0].len(), best);
    }
    let (want, _) = simulate(&padded, 30, 0, 0);
    for (a, b) in sims[0].budgets.iter().zip(&want) {
        assert_eq!(a.best_plan, b.best_plan);
        assert!((a.best - b.best).abs() <= 1e-12 && (a.train_fully - b.train_fully).abs() <= 1e-12);
    }
}

#[test]
fn a_group_with_runs_stopped_by_a_schedule_is_not_simulated_on_its_survivors() {
    let curves = curves_of(&golden("random"));
    let tmp = tempfile::tempdir().unwrap();
    for (i, c) in curves.iter().enumerate() {
        if i < 2 {
            write_curve_run(tmp.path(), i as u64 + 1, &c[..3], "stopped_by_schedule", 0);
        } else {
            write_curve_run(tmp.path(), i as u64 + 1, c, "completed", 0);
        }
    }
    let (sims, skipped) = simulate_folder(tmp.path());
    assert!(sims.is_empty());
    assert_eq!(skipped.len(), 1);
    assert!(
        skipped[0].contains("2 of its 6 runs were stopped by the study's early-stopping schedule"),
        "{}",
        skipped[0]
    );
}

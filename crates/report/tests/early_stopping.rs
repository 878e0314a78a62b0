//! The offline early-stopping simulation against a direct Python re-implementation of Dodge et al.'s
//! procedure (`tests/goldens/early_stopping.json`, from `tools/make_early_stopping_goldens.py`), both exact.

use serde_json::Value;
use stabletune_report::early_stopping::{expected_best, plans, simulate, Plan};

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/goldens/early_stopping.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn plan_of(v: &Value) -> Plan {
    let u = |k: &str| v[k].as_u64().unwrap() as usize;
    Plan { started: u("started"), stopped: u("stopped"), evals_before_stop: u("evals_before_stop") }
}

#[test]
fn every_plan_and_every_budget_match_dodges_procedure() {
    let g = golden();
    let curves: Vec<Vec<f64>> = serde_json::from_value(g["curves"].clone()).unwrap();
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
    assert_eq!(results.len(), budgets.len());
    for (r, b) in results.iter().zip(budgets) {
        assert_eq!(r.best_plan, plan_of(&b["best"]), "budget {}", r.budget);
        assert!((r.best - b["best"]["value"].as_f64().unwrap()).abs() <= 1e-12);
        assert!((r.train_fully - b["plans"][0]["value"].as_f64().unwrap()).abs() <= 1e-12);
        assert!(r.best >= r.train_fully, "training fully is one of the plans");
    }
}

//! Fisher's exact test against `scipy.stats.fisher_exact` and Holm's correction against
//! statsmodels' `multipletests`, on the cases of `tests/goldens/multiple_testing.json` (written by
//! `tools/make_multiple_testing_goldens.py`).

use serde_json::Value;
use stabletune_stats::{fisher_exact, holm};

fn goldens() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/goldens/multiple_testing.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read the golden file")).expect("parse it")
}

#[track_caller]
fn close(actual: f64, expected: f64, rel: f64, what: &str) {
    let allowed = rel * expected.abs() + 1e-15;
    assert!((actual - expected).abs() <= allowed, "{what}: got {actual:e}, expected {expected:e}");
}

#[test]
fn fisher_exact_matches_scipy() {
    let g = goldens();
    let cases = g["fisher"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let t: Vec<Vec<u64>> = serde_json::from_value(case["table"].clone()).unwrap();
        let got = fisher_exact([[t[0][0], t[0][1]], [t[1][0], t[1][1]]]).unwrap();
        close(got.p_value, case["p_value"].as_f64().unwrap(), 1e-9, name);
        match case["odds_ratio"].as_f64() {
            Some(want) => close(got.odds_ratio.expect(name), want, 1e-12, name),
            None => assert_eq!(got.odds_ratio, None, "{name}"),
        }
    }
}

#[test]
fn holm_matches_statsmodels() {
    let g = goldens();
    for case in g["holm"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let p: Vec<f64> = serde_json::from_value(case["p"].clone()).unwrap();
        let want: Vec<f64> = serde_json::from_value(case["adjusted"].clone()).unwrap();
        let got = holm(&p).unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(&want) {
            close(*g, *w, 1e-12, name);
        }
    }
}

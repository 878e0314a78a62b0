//! The intervals the report shows over seeds, against scipy on the golden cases of
//! `tests/goldens/intervals.json` (written by `tools/make_stats_goldens.py`):
//! - [`t_interval_mean`] against `scipy.stats.t.interval`, to 1e-10 of the half-width;
//! - the BCa adjustment against scipy's own `_bca_interval` fed the same bootstrap distribution
//!   (saved in the golden file), to 1e-12: our draws cannot equal numpy's, the arithmetic can;
//! - [`bootstrap_bca_ci`] end to end against `scipy.stats.bootstrap(method="BCa")` within
//!   Monte-Carlo error, measured on scipy's side by repeating it with 30 generators.

use std::sync::OnceLock;

use serde_json::Value;
use stabletune_stats::*;

fn goldens() -> &'static Value {
    static GOLDENS: OnceLock<Value> = OnceLock::new();
    GOLDENS.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/goldens/intervals.json");
        let text = std::fs::read_to_string(path).expect("read the golden file");
        serde_json::from_str(&text).expect("parse the golden file")
    })
}

fn section(name: &str) -> &'static [Value] {
    goldens()[name].as_array().unwrap_or_else(|| panic!("golden section {name}"))
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "nan" => f64::NAN,
        other => panic!("not a number: {other}"),
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(num).collect()
}

fn name(case: &Value) -> &str {
    case["name"].as_str().unwrap()
}

fn statistic(case: &Value) -> BootstrapStatistic {
    match case["statistic"].as_str().unwrap() {
        "mean" => BootstrapStatistic::Mean,
        "std_sample" => BootstrapStatistic::StdDev(Ddof::Sample),
        "std_population" => BootstrapStatistic::StdDev(Ddof::Population),
        other => panic!("unknown statistic {other}"),
    }
}

/// `|actual - expected| <= allowed`.
#[track_caller]
fn within(actual: f64, expected: f64, allowed: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= allowed,
        "{what}: got {actual:e}, expected {expected:e} (difference {:e}, allowed {allowed:e})",
        (actual - expected).abs()
    );
}

fn kind(e: &StatsError) -> &'static str {
    match e {
        StatsError::Empty { .. } => "Empty",
        StatsError::TooFew { .. } => "TooFew",
        StatsError::NonFinite { .. } => "NonFinite",
        StatsError::InvalidArgument { .. } => "InvalidArgument",
        StatsError::Degenerate { .. } => "Degenerate",
        _ => "other",
    }
}

#[track_caller]
fn expect_error<T: std::fmt::Debug>(result: Result<T>, case: &Value) {
    let expected = case["error"].as_str().unwrap();
    match result {
        Err(e) => assert_eq!(kind(&e), expected, "{}: {e}", name(case)),
        Ok(v) => panic!("{}: expected {expected}, got {v:?}", name(case)),
    }
}

#[test]
fn t_interval_matches_scipy() {
    for case in section("t_interval") {
        let n = name(case);
        let x = nums(&case["x"]);
        let level = num(&case["confidence_level"]);
        let t = t_interval_mean(&x, level).unwrap();
        let (low, high) = (num(&case["low"]), num(&case["high"]));
        // The ends are the mean -+ a half-width: 1e-10 of the half-width, and the mean's own
        // rounding at the magnitude of the values (the offset case sits at 1e6).
        let allowed = 1e-10 * (high - low) / 2.0 + 4.0 * f64::EPSILON * num(&case["estimate"]).abs();
        within(t.estimate, num(&case["estimate"]), allowed, &format!("{n} estimate"));
        within(t.low, low, allowed, &format!("{n} low"));
        within(t.high, high, allowed, &format!("{n} high"));
        assert_eq!(t.df, num(&case["df"]), "{n}");
        assert_eq!(t.confidence_level, level, "{n}");
        let half = (t.high - t.low) / 2.0;
        let sem = std_dev(&x, Ddof::Sample).unwrap() / (x.len() as f64).sqrt();
        if sem > 0.0 {
            // high - low cancels at the magnitude of the mean (the offset case).
            let q = num(&case["t_quantile"]);
            let cancellation = 8.0 * f64::EPSILON * t.estimate.abs() / sem;
            within(half / sem, q, 1e-10 * q + cancellation, &format!("{n} t quantile"));
        }
    }
    for case in section("t_interval_errors") {
        expect_error(t_interval_mean(&nums(&case["x"]), num(&case["confidence_level"])), case);
    }
}

#[test]
fn bca_matches_scipy_on_the_same_distribution() {
    for case in section("bca_given_distribution") {
        let n = name(case);
        let x = nums(&case["x"]);
        let d = nums(&case["distribution"]);
        let level = num(&case["confidence_level"]);
        let (low, high) = bca_interval_from_distribution(&x, statistic(case), &d, level).unwrap();
        let scale = d.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let (el, eh) = (num(&case["low"]), num(&case["high"]));
        within(low, el, 1e-12 * el.abs() + 1e-15 * scale, &format!("{n} low"));
        within(high, eh, 1e-12 * eh.abs() + 1e-15 * scale, &format!("{n} high"));
    }
    for case in section("bca_given_distribution_errors") {
        let level = num(&case["confidence_level"]);
        let r = bca_interval_from_distribution(
            &nums(&case["x"]),
            statistic(case),
            &nums(&case["distribution"]),
            level,
        );
        expect_error(r, case);
    }
}

#[test]
fn bca_agrees_with_scipy_bootstrap_within_monte_carlo_error() {
    // Our interval averaged over SEEDS draws against scipy's averaged over its repeats: the
    // difference of two means, each with the spread scipy measured.
    const SEEDS: u64 = 10;
    for case in section("bca_end_to_end") {
        let n = name(case);
        let x = nums(&case["x"]);
        let level = num(&case["confidence_level"]);
        let resamples = case["n_resamples"].as_u64().unwrap() as usize;
        let repeats = case["repeats"].as_u64().unwrap() as f64;
        let (mut low, mut high, mut se) = (0.0, 0.0, 0.0);
        for seed in 0..SEEDS {
            let ci = bootstrap_bca_ci(&x, statistic(case), level, resamples, seed).unwrap();
            assert_eq!(ci.estimate, std_dev(&x, Ddof::Sample).unwrap(), "{n}");
            assert!(ci.low < ci.estimate && ci.estimate < ci.high, "{n}: {ci:?}");
            low += ci.low / SEEDS as f64;
            high += ci.high / SEEDS as f64;
            se += ci.standard_error / SEEDS as f64;
        }
        let spread = (1.0 / SEEDS as f64 + 1.0 / repeats).sqrt();
        let low_sd = num(&case["low_sd"]);
        let high_sd = num(&case["high_sd"]);
        within(low, num(&case["low_mean"]), 4.5 * low_sd * spread, &format!("{n} low"));
        within(high, num(&case["high_mean"]), 4.5 * high_sd * spread, &format!("{n} high"));
        within(se, num(&case["standard_error_mean"]), 0.02 * se, &format!("{n} standard error"));
    }
}

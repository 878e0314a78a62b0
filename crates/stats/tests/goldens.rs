//! Agreement with numpy, scipy, scikit-learn (and statsmodels, allentune) on the golden cases of
//! `tests/goldens/stats.json`, written by `tools/make_stats_goldens.py`.
//!
//! Statistics agree to 1e-10 relative and p-values to 1e-8 relative. Where the expected value is
//! 0, or a quantity is a small difference of large numbers (a correlation near 0, the spread of a
//! maximum that is almost certain), an absolute allowance at the scale of the data is added and
//! named at its use.

use std::sync::OnceLock;

use serde_json::Value;
use stabletune_stats::*;

const STAT: f64 = 1e-10;
const P: f64 = 1e-8;

fn goldens() -> &'static Value {
    static GOLDENS: OnceLock<Value> = OnceLock::new();
    GOLDENS.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/goldens/stats.json");
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
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(num).collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array().expect("an array").iter().map(|x| x.as_i64().expect("an integer")).collect()
}

fn name(case: &Value) -> &str {
    case["name"].as_str().unwrap()
}

/// `|actual - expected| <= rel |expected| + abs`; an expected 0 also allows 1e-15.
#[track_caller]
fn close(actual: f64, expected: f64, rel: f64, abs: f64, what: &str) {
    let allowed = rel * expected.abs() + abs.max(if expected == 0.0 { 1e-15 } else { 0.0 });
    assert!(
        (actual - expected).abs() <= allowed,
        "{what}: got {actual:e}, expected {expected:e} (difference {:e}, allowed {allowed:e})",
        (actual - expected).abs()
    );
}

#[track_caller]
fn stat(actual: f64, expected: &Value, what: &str) {
    close(actual, num(expected), STAT, 0.0, what);
}

#[track_caller]
fn pval(actual: f64, expected: &Value, what: &str) {
    close(actual, num(expected), P, 0.0, what);
}

fn kind(e: &StatsError) -> &'static str {
    match e {
        StatsError::Empty { .. } => "Empty",
        StatsError::TooFew { .. } => "TooFew",
        StatsError::LengthMismatch { .. } => "LengthMismatch",
        StatsError::NonFinite { .. } => "NonFinite",
        StatsError::InvalidArgument { .. } => "InvalidArgument",
        StatsError::Degenerate { .. } => "Degenerate",
        _ => "unknown",
    }
}

#[track_caller]
fn expect_error<T: std::fmt::Debug>(result: Result<T>, case: &Value, what: &str) {
    let expected = case["error"].as_str().unwrap();
    match result {
        Err(e) => assert_eq!(kind(&e), expected, "{what} {}: {e}", name(case)),
        Ok(v) => panic!("{what} {}: expected {expected}, got {v:?}", name(case)),
    }
}

#[test]
fn descriptive_statistics_match_numpy() {
    for case in section("describe") {
        let n = name(case);
        let x = nums(&case["x"]);
        stat(mean(&x).unwrap(), &case["mean"], &format!("{n} mean"));
        stat(median(&x).unwrap(), &case["median"], &format!("{n} median"));
        stat(min(&x).unwrap(), &case["min"], &format!("{n} min"));
        stat(max(&x).unwrap(), &case["max"], &format!("{n} max"));
        stat(iqr(&x).unwrap(), &case["iqr"], &format!("{n} iqr"));
        let pop = std_dev(&x, Ddof::Population).unwrap();
        stat(pop, &case["std_population"], &format!("{n} std ddof=0"));
        let var = variance(&x, Ddof::Population).unwrap();
        stat(var, &case["var_population"], &format!("{n} var ddof=0"));
        if case["std_sample"].is_null() {
            assert!(std_dev(&x, Ddof::Sample).is_err());
        } else {
            let s = std_dev(&x, Ddof::Sample).unwrap();
            stat(s, &case["std_sample"], &format!("{n} std ddof=1"));
            let v = variance(&x, Ddof::Sample).unwrap();
            stat(v, &case["var_sample"], &format!("{n} var ddof=1"));
        }
        let qs = nums(&case["qs"]);
        let expected = case["quantiles"].as_array().unwrap();
        let all = quantiles(&x, &qs).unwrap();
        for ((q, e), a) in qs.iter().zip(expected).zip(&all) {
            stat(quantile(&x, *q).unwrap(), e, &format!("{n} quantile {q}"));
            stat(*a, e, &format!("{n} quantiles {q}"));
        }
        let s = describe(&x).unwrap();
        assert_eq!(s.n, x.len());
        stat(s.mean, &case["mean"], n);
        stat(s.std_population, &case["std_population"], n);
        stat(s.median, &case["median"], n);
        stat(s.q25, &case["q25"], n);
        stat(s.q75, &case["q75"], n);
        stat(s.iqr, &case["iqr"], n);
        stat(s.min, &case["min"], n);
        stat(s.max, &case["max"], n);
        match s.std_sample {
            None => assert!(case["std_sample"].is_null()),
            Some(sd) => stat(sd, &case["std_sample"], n),
        }
    }
}

#[test]
fn descriptive_statistics_refuse_bad_input() {
    for case in section("describe_errors") {
        let x = nums(&case["x"]);
        expect_error(mean(&x), case, "mean");
        expect_error(median(&x), case, "median");
        expect_error(std_dev(&x, Ddof::Population), case, "std_dev");
        expect_error(quantile(&x, 0.5), case, "quantile");
        expect_error(iqr(&x), case, "iqr");
        expect_error(min(&x), case, "min");
        expect_error(describe(&x), case, "describe");
        if let Some(index) = case["index"].as_u64() {
            assert!(matches!(mean(&x), Err(StatsError::NonFinite { index: i, .. }) if i as u64 == index));
        }
    }
}

#[test]
fn ranks_match_scipy_rankdata() {
    for case in section("rankdata") {
        let r = rank_average(&nums(&case["x"])).unwrap();
        assert_eq!(r, nums(&case["ranks"]), "{}", name(case));
    }
}

#[test]
fn classification_metrics_match_scikit_learn() {
    for case in section("classification") {
        let n = name(case);
        let (t, p) = (ints(&case["y_true"]), ints(&case["y_pred"]));
        stat(accuracy(&t, &p).unwrap(), &case["accuracy"], &format!("{n} accuracy"));
        stat(f1(&t, &p, &1).unwrap(), &case["f1"], &format!("{n} f1"));
        stat(matthews_corrcoef(&t, &p).unwrap(), &case["mcc"], &format!("{n} mcc"));
        let m = acc_and_f1(&t, &p, &1).unwrap();
        stat(m.acc_and_f1, &case["acc_and_f1"], &format!("{n} acc_and_f1"));
        stat(m.acc, &case["accuracy"], n);
        stat(m.f1, &case["f1"], n);
    }
    for case in section("classification_errors") {
        let (t, p) = (ints(&case["y_true"]), ints(&case["y_pred"]));
        expect_error(accuracy(&t, &p), case, "accuracy");
        expect_error(f1(&t, &p, &1), case, "f1");
        expect_error(matthews_corrcoef(&t, &p), case, "mcc");
        expect_error(acc_and_f1(&t, &p, &1), case, "acc_and_f1");
    }
}

#[test]
fn majority_baseline_matches_dummy_classifier() {
    for case in section("majority_baseline") {
        let n = name(case);
        let (train, dev) = (ints(&case["train"]), ints(&case["dev"]));
        assert_eq!(majority_label(&train).unwrap(), case["label"].as_i64().unwrap(), "{n}");
        let b = match case["metric"].as_str().unwrap() {
            "accuracy" => majority_baseline(&train, &dev, accuracy),
            "f1" => majority_baseline(&train, &dev, |t, p| f1(t, p, &1)),
            "mcc" => majority_baseline(&train, &dev, matthews_corrcoef),
            "acc_and_f1" => majority_baseline(&train, &dev, |t, p| Ok(acc_and_f1(t, p, &1)?.acc_and_f1)),
            other => panic!("unknown metric {other}"),
        };
        stat(b.unwrap(), &case["baseline"], n);
    }
}

#[test]
fn failed_runs_are_counted_at_or_below_the_baseline() {
    for case in section("failed_runs") {
        let f = failed_runs(&nums(&case["values"]), num(&case["baseline"])).unwrap();
        assert_eq!(f.failed as u64, case["failed"].as_u64().unwrap(), "{}", name(case));
        stat(f.fraction, &case["fraction"], name(case));
    }
}

#[test]
fn correlations_match_scipy() {
    // A correlation is a dot product of unit vectors: accurate to ~1e-15 absolute, not relative.
    let abs = 1e-14;
    for case in section("correlation") {
        let n = name(case);
        let (x, y) = (nums(&case["x"]), nums(&case["y"]));
        let r = pearson(&x, &y).unwrap();
        close(r, num(&case["pearson"]), STAT, abs, &format!("{n} pearson"));
        let rho = spearman(&x, &y).unwrap();
        close(rho, num(&case["spearman"]), STAT, abs, &format!("{n} spearman"));
        // A perfect relation is exactly +-1 with p = 0 (the golden file holds the exact values and,
        // beside them, scipy's 1 - 1e-16 where it differs).
        let exact = |v: f64, key: &str| {
            if num(&case[key]).abs() == 1.0 {
                assert_eq!(v, num(&case[key]), "{n} {key} must be exact");
            }
        };
        exact(r, "pearson");
        exact(rho, "spearman");
        if case.get("pearson_p").is_some() {
            let t = pearson_test(&x, &y).unwrap();
            close(t.statistic, num(&case["pearson"]), STAT, abs, n);
            pval(t.p_value, &case["pearson_p"], &format!("{n} pearson p"));
            exact(t.statistic, "pearson");
            let t = spearman_test(&x, &y).unwrap();
            close(t.statistic, num(&case["spearman"]), STAT, abs, n);
            pval(t.p_value, &case["spearman_p"], &format!("{n} spearman p"));
            exact(t.statistic, "spearman");
            assert_eq!(early_final_correlation(&x, &y).unwrap(), t);
        }
    }
    for case in section("correlation_errors") {
        let (x, y) = (nums(&case["x"]), nums(&case["y"]));
        expect_error(pearson(&x, &y), case, "pearson");
        expect_error(spearman(&x, &y), case, "spearman");
        expect_error(pearson_test(&x, &y), case, "pearson_test");
        expect_error(spearman_test(&x, &y), case, "spearman_test");
    }
}

fn groups(case: &Value) -> Vec<Vec<f64>> {
    case["groups"].as_array().unwrap().iter().map(nums).collect()
}

#[test]
fn levene_and_brown_forsythe_match_scipy() {
    for case in section("levene") {
        let n = name(case);
        let g = groups(case);
        let total: usize = g.iter().map(Vec::len).sum();
        for (center, key) in [(Center::Mean, "mean"), (Center::Median, "median")] {
            let t = levene(&g, center).unwrap();
            stat(t.statistic, &case[key]["statistic"], &format!("{n} {key} W"));
            pval(t.p_value, &case[key]["pvalue"], &format!("{n} {key} p"));
            assert_eq!((t.df_num, t.df_den), ((g.len() - 1) as f64, (total - g.len()) as f64));
        }
    }
    for case in section("levene_errors") {
        let g = groups(case);
        expect_error(levene(&g, Center::Mean), case, "levene mean");
        expect_error(levene(&g, Center::Median), case, "levene median");
    }
}

#[test]
fn welch_t_test_matches_scipy() {
    for case in section("welch") {
        let n = name(case);
        let t = welch_t_test(&nums(&case["x"]), &nums(&case["y"])).unwrap();
        // A difference of two means of ~1e6 is only known to ~1e-16 * 1e6 absolute.
        let scale = nums(&case["x"]).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let md = num(&case["mean_difference"]);
        close(t.mean_difference, md, STAT, 1e-15 * scale, &format!("{n} mean difference"));
        let rel_t = STAT + 1e-15 * scale / md.abs().max(f64::MIN_POSITIVE);
        close(t.statistic, num(&case["statistic"]), rel_t, 0.0, &format!("{n} t"));
        stat(t.df, &case["df"], &format!("{n} df"));
        pval(t.p_value, &case["pvalue"], &format!("{n} p"));
    }
    for case in section("welch_errors") {
        expect_error(welch_t_test(&nums(&case["x"]), &nums(&case["y"])), case, "welch");
    }
}

#[test]
fn mann_whitney_matches_scipy() {
    let method = |s: &str| match s {
        "auto" => MannWhitneyMethod::Auto,
        "exact" => MannWhitneyMethod::Exact,
        "asymptotic" => MannWhitneyMethod::Asymptotic,
        other => panic!("unknown method {other}"),
    };
    for case in section("mann_whitney") {
        let n = name(case);
        let m = method(case["method"].as_str().unwrap());
        let t = mann_whitney_u(&nums(&case["x"]), &nums(&case["y"]), m).unwrap();
        assert_eq!(t.method, method(case["method_used"].as_str().unwrap()), "{n}");
        stat(t.statistic, &case["statistic"], &format!("{n} U"));
        pval(t.p_value, &case["pvalue"], &format!("{n} p"));
    }
    for case in section("mann_whitney_errors") {
        let r = mann_whitney_u(&nums(&case["x"]), &nums(&case["y"]), MannWhitneyMethod::Auto);
        expect_error(r, case, "mann_whitney_u");
    }
}

#[test]
fn exact_permutation_test_matches_scipy() {
    for case in section("permutation_exact") {
        let n = name(case);
        let (x, y) = (nums(&case["x"]), nums(&case["y"]));
        let t = permutation_test_exact(&x, &y).unwrap();
        assert!(t.exact);
        assert_eq!(t.n_resamples, case["n_splits"].as_u64().unwrap(), "{n}");
        close(t.statistic, num(&case["statistic"]), STAT, 1e-15, &format!("{n} statistic"));
        pval(t.p_value, &case["pvalue"], &format!("{n} p"));
        // With at least as many resamples as splits, the Monte-Carlo test enumerates them too.
        assert_eq!(permutation_test(&x, &y, t.n_resamples, 9).unwrap(), t, "{n}");
    }
}

#[test]
fn random_permutation_test_agrees_with_scipy_within_monte_carlo_error() {
    for case in section("permutation_monte_carlo") {
        let n = name(case);
        let (x, y) = (nums(&case["x"]), nums(&case["y"]));
        let resamples = case["n_resamples"].as_u64().unwrap();
        let t = permutation_test(&x, &y, resamples, 2024).unwrap();
        assert!(!t.exact);
        stat(t.statistic, &case["statistic"], n);
        let p = num(&case["pvalue"]);
        // Two independent estimates, each with standard error sqrt(p (1 - p) / B) on p / 2.
        let se = 2.0 * (2.0 * (p / 2.0) * (1.0 - p / 2.0) / resamples as f64).sqrt();
        close(t.p_value, p, 0.0, 5.0 * se + 4.0 / resamples as f64, &format!("{n} p"));
    }
}

#[test]
fn bootstrap_agrees_with_scipy_within_monte_carlo_error() {
    for case in section("bootstrap") {
        let n = name(case);
        let x = nums(&case["x"]);
        let statistic = match (case["statistic"].as_str().unwrap(), case["ddof"].as_u64()) {
            ("mean", _) => BootstrapStatistic::Mean,
            ("std", Some(0)) => BootstrapStatistic::StdDev(Ddof::Population),
            ("std", Some(1)) => BootstrapStatistic::StdDev(Ddof::Sample),
            other => panic!("unknown statistic {other:?}"),
        };
        let level = num(&case["confidence_level"]);
        let resamples = case["n_resamples"].as_u64().unwrap() as usize;
        let ci = bootstrap_ci(&x, statistic, level, resamples, 99).unwrap();
        stat(ci.estimate, &case["estimate"], &format!("{n} estimate"));
        let se = num(&case["standard_error"]);
        // With 10^5 resamples an outer quantile moves by about 0.01 standard errors.
        close(ci.low, num(&case["low"]), 0.0, 0.06 * se, &format!("{n} low"));
        close(ci.high, num(&case["high"]), 0.0, 0.06 * se, &format!("{n} high"));
        close(ci.standard_error, se, 0.015, 0.0, &format!("{n} standard error"));
    }
}

fn cells(case: &Value) -> Vec<Vec<Vec<f64>>> {
    case["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(nums).collect())
        .collect()
}

#[track_caller]
fn check_effect(e: &AnovaEffect, expected: &Value, total_sum_sq: f64, what: &str) {
    stat(e.sum_sq, &expected["sum_sq"], &format!("{what} sum_sq"));
    stat(e.df, &expected["df"], &format!("{what} df"));
    stat(e.mean_sq, &expected["mean_sq"], &format!("{what} mean_sq"));
    stat(e.f, &expected["f"], &format!("{what} F"));
    pval(e.p_value, &expected["pvalue"], &format!("{what} p"));
    // Omega squared is a difference of sums of squares over the total: near 0 it keeps the
    // absolute accuracy of a share of the total, not a relative one.
    close(e.omega_squared, num(&expected["omega_squared"]), STAT, 1e-13, &format!("{what} omega^2"));
    // A component is a difference of mean squares: accurate to a share of the total sum of squares.
    let component = num(&expected["variance_component"]);
    close(e.variance_component, component, STAT, 1e-13 * total_sum_sq, &format!("{what} component"));
    assert!(e.variance_component >= 0.0, "{what}");
}

#[test]
fn two_way_anova_matches_sums_of_squares_and_statsmodels() {
    for case in section("two_way_anova") {
        let n = name(case);
        let c = cells(case);
        let t = two_way_anova_replicated(&c).unwrap();
        let total = t.total_sum_sq;
        check_effect(&t.rows, &case["rows"], total, &format!("{n} rows"));
        check_effect(&t.columns, &case["columns"], total, &format!("{n} columns"));
        match (&t.interaction, case["interaction"].is_null()) {
            (None, true) => {}
            (Some(i), false) => check_effect(i, &case["interaction"], total, &format!("{n} interaction")),
            _ => panic!("{n}: interaction line present in one table only"),
        }
        stat(t.residual.sum_sq, &case["residual"]["sum_sq"], &format!("{n} residual"));
        stat(t.residual.df, &case["residual"]["df"], &format!("{n} residual df"));
        stat(t.residual.mean_sq, &case["residual"]["mean_sq"], n);
        stat(t.total_sum_sq, &case["total_sum_sq"], &format!("{n} total"));
        // statsmodels' least-squares fit, independent of the script's formulas; good to ~1e-12
        // (the script checks it agrees to 1e-9).
        let sm = &case["statsmodels"];
        if !sm.is_null() {
            let lines = [
                ("rows", Some(&t.rows)),
                ("columns", Some(&t.columns)),
                ("interaction", t.interaction.as_ref()),
            ];
            for (line, effect) in lines {
                match (effect, sm.get(line)) {
                    (Some(e), Some(expected)) => {
                        close(
                            e.sum_sq,
                            num(&expected["sum_sq"]),
                            1e-9,
                            1e-15 * total,
                            &format!("{n} {line} statsmodels"),
                        );
                        assert_eq!(e.df, num(&expected["df"]), "{n} {line} df");
                    }
                    (None, None) => {}
                    _ => panic!("{n}: {line} in one table only"),
                }
            }
            let res = &sm["residual"];
            close(
                t.residual.sum_sq,
                num(&res["sum_sq"]),
                1e-9,
                1e-15 * total,
                &format!("{n} residual statsmodels"),
            );
        }
        if t.replicates == 1 {
            let grid: Vec<Vec<f64>> = c.iter().map(|row| row.iter().map(|v| v[0]).collect()).collect();
            assert_eq!(two_way_anova(&grid).unwrap(), t, "{n}");
        }
    }
    for case in section("two_way_anova_errors") {
        expect_error(two_way_anova_replicated(&cells(case)), case, "two_way_anova");
    }
}

#[test]
fn expected_validation_performance_matches_exact_rationals() {
    for case in section("evp") {
        let n = name(case);
        let v = nums(&case["values"]);
        // The spread is a square root of a sum of squared differences of values: accurate to
        // ~1e-15 of the values' scale, not relative to a spread that is itself near 0.
        let scale = v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        for (sampling, key) in [
            (Sampling::WithReplacement, "with_replacement"),
            (Sampling::WithoutReplacement, "without_replacement"),
        ] {
            let curve = expected_max_curve(&v, sampling).unwrap();
            assert_eq!(curve.len(), v.len());
            for point in case[key].as_array().unwrap() {
                let k = point["n"].as_u64().unwrap() as usize;
                let got = expected_max(&v, k, sampling).unwrap();
                if k <= v.len() {
                    assert_eq!(curve[k - 1], got, "{n} {key} n={k}");
                }
                let what = format!("{n} {key} n={k}");
                stat(got.mean, &point["mean"], &format!("{what} mean"));
                close(got.std, num(&point["std"]), STAT, 1e-14 * scale, &format!("{what} std"));
            }
        }
    }
}

//! Degenerate inputs, the normal case of a stability study (every run of a recipe collapsed to the
//! majority class, so every run has the same dev accuracy): a statistic that is undefined must be
//! a [`StatsError::Degenerate`] saying why in plain words, never a huge number made of rounding
//! error; and a perfect correlation is exactly +-1 with p = 0.
//!
//! `[0.7; 3]` is the point of most cases: the mean of three 0.7s rounds to 0.6999999999999998, so
//! a variance computed from it is ~1e-32 rather than 0.

use proptest::prelude::*;
use stabletune_stats::*;

/// The `reason` of a `Degenerate` error; panics on anything else.
#[track_caller]
fn reason<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Err(StatsError::Degenerate { reason, .. }) => reason,
        other => panic!("expected Degenerate, got {other:?}"),
    }
}

fn is_degenerate<T>(r: Result<T>) -> bool {
    matches!(r, Err(StatsError::Degenerate { .. }))
}

/// `x` one ulp up: a spread that only rounding could produce.
fn up(x: f64) -> f64 {
    x.next_up()
}

#[test]
fn welch_of_two_constant_samples_is_degenerate() {
    let why = reason(welch_t_test(&[0.7; 3], &[0.7; 7]));
    assert!(why.contains("every value of x is 0.7") && why.contains("every value of y is 0.7"), "{why}");
    let why = reason(welch_t_test(&[0.1; 4], &[0.7; 2]));
    assert!(why.contains("every value of x is 0.1"), "{why}");
}

#[test]
fn welch_of_spreads_at_rounding_level_is_degenerate() {
    let why = reason(welch_t_test(&[0.7, up(0.7)], &[0.3, 0.3, up(0.3)]));
    assert!(why.contains("rounding"), "{why}");
}

#[test]
fn welch_with_one_constant_sample_uses_the_other_variance_alone() {
    // mean(x) is exactly 0.7, as is mean(y): t = 0 and p = 1, df = n_y - 1.
    let t = welch_t_test(&[0.7; 3], &[0.6, 0.8]).unwrap();
    assert_eq!((t.statistic, t.mean_difference, t.p_value, t.df), (0.0, 0.0, 1.0, 1.0));
    let t = welch_t_test(&[0.4, 0.6, 0.7, 0.3], &[0.1; 3]).unwrap();
    assert_eq!(t.df, 3.0);
    assert!(t.statistic > 0.0 && t.p_value < 0.05, "{t:?}");
}

#[test]
fn levene_with_two_values_per_group_is_degenerate() {
    // |0.1 - 0.2| and |0.3 - 0.2| are equal in exact arithmetic, not in floating point.
    let g = [[0.1, 0.3], [0.5, 0.6]];
    for center in [Center::Mean, Center::Median] {
        let why = reason(levene(&g, center));
        assert!(why.contains("two values"), "{center:?}: {why}");
    }
}

#[test]
fn levene_of_constant_groups_names_them() {
    let g = [vec![0.1; 3], vec![0.7; 4]];
    for center in [Center::Mean, Center::Median] {
        let why = reason(levene(&g, center));
        assert!(why.contains("every value of group 0 is 0.1"), "{why}");
        assert!(why.contains("every value of group 1 is 0.7"), "{why}");
    }
    // One constant group is fine: the other group's deviations vary.
    let g = [vec![0.7; 3], vec![0.1, 0.4, 0.9, 0.3]];
    assert!(levene(&g, Center::Mean).is_ok());
}

#[test]
fn exactly_additive_grid_is_degenerate() {
    // Every value is a row effect plus a column effect: the residual is rounding error (~1e-32)
    // and F was ~1e31.
    let rows = [0.1, 0.25, 0.7];
    let cols = [0.3, 0.05, 0.6, 0.33];
    let grid: Vec<Vec<f64>> = rows.iter().map(|r| cols.iter().map(|c| r + c).collect()).collect();
    let why = reason(two_way_anova(&grid));
    assert!(why.contains("additive"), "{why}");
    // Far from 0 the rounding error is larger (~1e-13 per value) but still no residual.
    let why = reason(two_way_anova(&[[1000.1, 1000.2], [1000.3, 1000.4]]));
    assert!(why.contains("additive"), "{why}");
}

#[test]
fn collapsed_replicates_are_degenerate() {
    // Every run of every cell collapsed to the same accuracy: no within-cell variation.
    let cells = vec![vec![vec![0.1; 3], vec![0.7; 3]], vec![vec![0.6; 3], vec![0.9; 3]]];
    let why = reason(two_way_anova_replicated(&cells));
    assert!(why.contains("cell (0, 0) is 0.1"), "{why}");
}

#[test]
fn constant_grid_says_every_value() {
    let why = reason(two_way_anova(&[[0.7, 0.7], [0.7, 0.7]]));
    assert!(why.contains("every value of the grid is 0.7"), "{why}");
    let cells = vec![vec![vec![0.1; 2]; 3]; 2];
    let why = reason(two_way_anova_replicated(&cells));
    assert!(why.contains("every value of the grid is 0.1"), "{why}");
}

#[test]
fn perfect_pearson_correlation_is_exactly_one_with_p_zero() {
    for n in 2..60 {
        let x: Vec<f64> = (0..n).map(|i| i as f64 * 0.1).collect();
        let up: Vec<f64> = x.iter().map(|v| 3.0 * v + 0.1).collect();
        let down: Vec<f64> = x.iter().map(|v| -0.7 * v + 0.3).collect();
        assert_eq!(pearson(&x, &up).unwrap(), 1.0, "n = {n}");
        assert_eq!(pearson(&x, &down).unwrap(), -1.0, "n = {n}");
        if n >= 3 {
            let t = pearson_test(&x, &up).unwrap();
            assert_eq!((t.statistic, t.p_value), (1.0, 0.0), "n = {n}");
            let t = pearson_test(&down, &x).unwrap();
            assert_eq!((t.statistic, t.p_value), (-1.0, 0.0), "n = {n}");
        }
    }
}

#[test]
fn perfectly_monotone_spearman_is_exactly_one_with_p_zero() {
    for n in 3..60 {
        let x: Vec<f64> = (0..n).map(|i| i as f64 * 0.1).collect();
        let cube: Vec<f64> = x.iter().map(|v| v * v * v).collect();
        let falling: Vec<f64> = x.iter().map(|v| (-v).exp()).collect();
        let t = spearman_test(&x, &cube).unwrap();
        assert_eq!((t.statistic, t.p_value), (1.0, 0.0), "n = {n}");
        let t = spearman_test(&x, &falling).unwrap();
        assert_eq!((t.statistic, t.p_value), (-1.0, 0.0), "n = {n}");
        assert_eq!(
            early_final_correlation(&x, &cube).unwrap(),
            CorrelationTest { statistic: 1.0, p_value: 0.0 }
        );
    }
}

#[test]
fn correlation_with_constant_input_names_the_value() {
    let why = reason(pearson(&[0.7; 4], &[1.0, 2.0, 3.0, 4.0]));
    assert!(why.contains("every value of x is 0.7"), "{why}");
    // Spearman reports the value, not its rank.
    let why = reason(spearman_test(&[1.0, 2.0, 3.0], &[0.3; 3]));
    assert!(why.contains("every value of y is 0.3"), "{why}");
}

#[test]
fn pearson_of_a_spread_at_rounding_level_is_degenerate() {
    let why = reason(pearson(&[0.7, up(0.7), 0.7, up(0.7)], &[1.0, 2.0, 3.0, 5.0]));
    assert!(why.contains("rounding"), "{why}");
    // Its ranks are exact, so Spearman is defined.
    assert!(spearman(&[0.7, up(0.7), 0.7, up(0.7)], &[1.0, 2.0, 3.0, 5.0]).is_ok());
}

#[test]
fn constant_sample_has_mean_its_value_and_zero_spread() {
    for c in [0.1, 0.7, 0.123456789, 1e6 + 0.1] {
        let x = [c; 3];
        assert_eq!(mean(&x).unwrap(), c);
        assert_eq!(std_dev(&x, Ddof::Sample).unwrap(), 0.0);
        assert_eq!(variance(&x, Ddof::Population).unwrap(), 0.0);
        let s = describe(&x).unwrap();
        assert_eq!((s.mean, s.std_sample, s.std_population), (c, Some(0.0), 0.0));
    }
}

#[test]
fn permutation_test_of_one_constant_value_has_difference_zero_and_p_one() {
    let t = permutation_test(&[0.7; 3], &[0.7; 4], 100, 1).unwrap();
    assert_eq!((t.statistic, t.p_value), (0.0, 1.0));
    let t = permutation_test(&[0.7; 30], &[0.7; 30], 100, 1).unwrap();
    assert_eq!((t.statistic, t.p_value), (0.0, 1.0));
    let ci = bootstrap_ci(&[0.7; 5], BootstrapStatistic::Mean, 0.9, 100, 1).unwrap();
    assert_eq!((ci.estimate, ci.low, ci.high, ci.standard_error), (0.7, 0.7, 0.7, 0.0));
}

#[test]
fn expected_maximum_of_constant_runs_is_that_value() {
    for sampling in [Sampling::WithReplacement, Sampling::WithoutReplacement] {
        for e in expected_max_curve(&[0.7; 7], sampling).unwrap() {
            assert_eq!((e.mean, e.std), (0.7, 0.0), "{sampling:?} n = {}", e.n);
        }
    }
}

fn nonconstant(min: usize, max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1e3..1e3f64, min..=max)
        .prop_filter("not constant", |v| v.iter().any(|&a| a != v[0]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn collapsed_recipes_are_degenerate(
        c in -1e3..1e3f64, d in -1e3..1e3f64, n1 in 2usize..30, n2 in 2usize..30,
    ) {
        prop_assert!(is_degenerate(welch_t_test(&vec![c; n1], &vec![d; n2])));
        for center in [Center::Mean, Center::Median] {
            let g = [vec![c; n1], vec![d; n2]];
            prop_assert!(is_degenerate(levene(&g, center)));
            let pairs = [vec![c, d], vec![d, c + d]];
            prop_assert!(is_degenerate(levene(&pairs, center)));
        }
        let cells = vec![vec![vec![c; n1], vec![d; n1]], vec![vec![d; n1], vec![c * 0.5; n1]]];
        prop_assert!(is_degenerate(two_way_anova_replicated(&cells)));
        let p = permutation_test(&vec![c; n1], &vec![c; n2], 50, 1).unwrap();
        prop_assert_eq!((p.statistic, p.p_value), (0.0, 1.0));
    }

    #[test]
    fn additive_grids_are_degenerate(
        rows in prop::collection::vec(-1e2..1e2f64, 2..6),
        cols in prop::collection::vec(-1e2..1e2f64, 2..6),
        base in -1e3..1e3f64,
    ) {
        let grid: Vec<Vec<f64>> = rows.iter().map(|r| cols.iter().map(|c| base + r + c).collect()).collect();
        prop_assert!(is_degenerate(two_way_anova(&grid)));
    }

    #[test]
    fn collinear_data_correlate_exactly(
        x in nonconstant(2, 50), slope in 0.01..100.0f64, negative: bool, intercept in -1e3..1e3f64,
    ) {
        let b = if negative { -slope } else { slope };
        let sign = if negative { -1.0 } else { 1.0 };
        let y: Vec<f64> = x.iter().map(|v| b * v + intercept).collect();
        prop_assert_eq!(pearson(&x, &y).unwrap(), sign);
        prop_assert_eq!(pearson(&y, &x).unwrap(), sign);
        if x.len() >= 3 {
            let t = pearson_test(&x, &y).unwrap();
            prop_assert_eq!((t.statistic, t.p_value), (sign, 0.0));
            // Spearman of any monotone map of distinct values.
            let cube: Vec<f64> = x.iter().map(|v| b * v * v * v).collect();
            let distinct = {
                let mut s = x.clone();
                s.sort_by(f64::total_cmp);
                s.windows(2).all(|w| w[0] != w[1])
            };
            if distinct {
                let t = spearman_test(&x, &cube).unwrap();
                prop_assert_eq!((t.statistic, t.p_value), (sign, 0.0));
            }
        }
    }
}

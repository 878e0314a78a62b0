//! Properties every implementation must have, whatever the data: invariances under shifting,
//! scaling, monotone transforms and reordering; the limits of expected validation performance;
//! reproducible resampling; and typed errors, never panics or `NaN`, on any input.

use proptest::prelude::*;
use stabletune_stats::*;

/// `|a - b| <= rel * max(|a|, |b|) + abs`.
fn near(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + abs
}

fn values(min: usize, max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1e3..1e3f64, min..=max)
}

/// Integer-valued data: many ties, and affine or cubic maps of it are exact.
fn small_ints(min: usize, max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-20i32..20).prop_map(f64::from), min..=max)
}

fn scale_of(xs: &[f64]) -> f64 {
    xs.iter().fold(1.0_f64, |m, x| m.max(x.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn descriptive_statistics_follow_affine_maps(
        x in values(2, 60), shift in -1e3..1e3f64, factor in 0.01..100.0f64, negate: bool,
        q in 0.0..=1.0f64,
    ) {
        let a = if negate { -factor } else { factor };
        let y: Vec<f64> = x.iter().map(|v| a * v + shift).collect();
        let tol = 1e-9 * (scale_of(&x) * factor + shift.abs());
        prop_assert!(near(mean(&y).unwrap(), a * mean(&x).unwrap() + shift, 0.0, tol));
        prop_assert!(near(median(&y).unwrap(), a * median(&x).unwrap() + shift, 0.0, tol));
        for ddof in [Ddof::Sample, Ddof::Population] {
            let (sy, sx) = (std_dev(&y, ddof).unwrap(), std_dev(&x, ddof).unwrap());
            prop_assert!(near(sy, factor * sx, 1e-9, tol));
        }
        // A negative factor reverses the order: Q_q(a x) = a Q_{1-q}(x).
        let qx = quantile(&x, if negate { 1.0 - q } else { q }).unwrap();
        prop_assert!(near(quantile(&y, q).unwrap(), a * qx + shift, 0.0, tol));
        prop_assert!(near(iqr(&y).unwrap(), factor * iqr(&x).unwrap(), 0.0, tol));
    }

    #[test]
    fn quantiles_are_ordered(x in values(1, 50), mut qs in prop::collection::vec(0.0..=1.0f64, 1..10)) {
        qs.sort_by(f64::total_cmp);
        let v = quantiles(&x, &qs).unwrap();
        let (lo, hi) = (min(&x).unwrap(), max(&x).unwrap());
        prop_assert!(v.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(v.iter().all(|&q| lo <= q && q <= hi));
        let s = describe(&x).unwrap();
        prop_assert!(s.min <= s.q25 && s.q25 <= s.median && s.median <= s.q75 && s.q75 <= s.max);
    }

    #[test]
    fn levene_is_invariant_to_affine_maps_and_group_order(
        groups in prop::collection::vec(values(3, 20), 2..5),
        shift in -1e3..1e3f64, factor in 0.1..10.0f64, negate: bool, rotate in 0usize..4,
    ) {
        let a = if negate { -factor } else { factor };
        for center in [Center::Mean, Center::Median] {
            let Ok(base) = levene(&groups, center) else { continue };
            let mapped: Vec<Vec<f64>> =
                groups.iter().map(|g| g.iter().map(|v| a * v + shift).collect()).collect();
            let t = levene(&mapped, center).unwrap();
            prop_assert!(near(t.statistic, base.statistic, 1e-8, 1e-12));
            prop_assert!(near(t.p_value, base.p_value, 1e-7, 1e-12));
            let mut reordered = groups.clone();
            reordered.rotate_left(rotate % groups.len());
            for g in &mut reordered {
                g.reverse();
            }
            let t = levene(&reordered, center).unwrap();
            prop_assert!(near(t.statistic, base.statistic, 1e-10, 1e-13));
            prop_assert!((0.0..=1.0).contains(&t.p_value));
        }
    }

    #[test]
    fn welch_follows_shifts_scales_and_swaps(
        x in values(2, 30), y in values(2, 30), shift in -1e3..1e3f64, factor in 0.1..10.0f64,
    ) {
        let Ok(base) = welch_t_test(&x, &y) else { return Ok(()) };
        let map = |v: &[f64]| v.iter().map(|a| factor * a + shift).collect::<Vec<_>>();
        let t = welch_t_test(&map(&x), &map(&y)).unwrap();
        prop_assert!(near(t.statistic, base.statistic, 1e-7, 1e-9));
        prop_assert!(near(t.df, base.df, 1e-9, 0.0));
        prop_assert!(near(t.p_value, base.p_value, 1e-6, 1e-12));
        let swapped = welch_t_test(&y, &x).unwrap();
        prop_assert_eq!(swapped.statistic, -base.statistic);
        prop_assert_eq!(swapped.p_value, base.p_value);
        prop_assert!((0.0..=1.0).contains(&base.p_value) && base.df > 0.0);
    }

    #[test]
    fn mann_whitney_depends_only_on_ranks(x in small_ints(1, 15), y in small_ints(1, 15)) {
        for method in [MannWhitneyMethod::Auto, MannWhitneyMethod::Asymptotic] {
            let base = mann_whitney_u(&x, &y, method).unwrap();
            // x -> x^3 + 2x is strictly increasing and exact on small integers.
            let cube = |v: &[f64]| v.iter().map(|a| a * a * a + 2.0 * a).collect::<Vec<_>>();
            prop_assert_eq!(mann_whitney_u(&cube(&x), &cube(&y), method).unwrap(), base);
            let swapped = mann_whitney_u(&y, &x, method).unwrap();
            prop_assert_eq!(swapped.statistic, (x.len() * y.len()) as f64 - base.statistic);
            prop_assert!(near(swapped.p_value, base.p_value, 1e-12, 0.0));
            prop_assert!((0.0..=1.0).contains(&base.p_value));
        }
    }

    #[test]
    fn exact_mann_whitney_without_ties_is_symmetric(n1 in 1usize..9, n2 in 1usize..12) {
        let total: f64 = (0..=(n1 * n2) as u64)
            .map(|u| {
                let ge = mann_whitney_exact_sf(n1, n2, u).unwrap();
                let gt = mann_whitney_exact_sf(n1, n2, u + 1).unwrap();
                ge - gt
            })
            .sum();
        prop_assert!(near(total, 1.0, 1e-12, 0.0));
        for u in 0..=(n1 * n2) as u64 {
            // P(U >= u) = P(U <= n1 n2 - u) = 1 - P(U >= n1 n2 - u + 1)
            let lhs = mann_whitney_exact_sf(n1, n2, u).unwrap();
            let rhs = 1.0 - mann_whitney_exact_sf(n1, n2, (n1 * n2) as u64 - u + 1).unwrap();
            prop_assert!(near(lhs, rhs, 1e-12, 1e-15));
        }
    }

    #[test]
    fn correlations_are_invariant_and_bounded(
        x in values(3, 40), y in values(3, 40), shift in -1e3..1e3f64, factor in 0.1..10.0f64,
    ) {
        let n = x.len().min(y.len());
        let (x, y) = (&x[..n], &y[..n]);
        let Ok(r) = pearson(x, y) else { return Ok(()) };
        let map: Vec<f64> = x.iter().map(|a| factor * a + shift).collect();
        prop_assert!(near(pearson(&map, y).unwrap(), r, 1e-9, 1e-12));
        prop_assert!(near(pearson(y, x).unwrap(), r, 1e-14, 1e-15));
        let neg: Vec<f64> = x.iter().map(|a| -a).collect();
        prop_assert!(near(pearson(&neg, y).unwrap(), -r, 1e-12, 1e-14));
        let rho = spearman(x, y).unwrap();
        // Ranks are unchanged by a strictly increasing map (cube keeps the order of distinct
        // values barring rounding collisions, absent at this scale).
        let cube: Vec<f64> = x.iter().map(|a| a * a * a).collect();
        prop_assert_eq!(spearman(&cube, y).unwrap(), rho);
        let t = pearson_test(x, y).unwrap();
        prop_assert!((-1.0..=1.0).contains(&t.statistic) && (0.0..=1.0).contains(&t.p_value));
    }

    #[test]
    fn classification_metrics_are_bounded_and_symmetric(
        pairs in prop::collection::vec((0u8..2, 0u8..2), 1..60),
    ) {
        let (t, p): (Vec<u8>, Vec<u8>) = pairs.into_iter().unzip();
        let acc = accuracy(&t, &p).unwrap();
        let mcc = matthews_corrcoef(&t, &p).unwrap();
        let f = f1(&t, &p, &1).unwrap();
        prop_assert!((0.0..=1.0).contains(&acc) && (0.0..=1.0).contains(&f));
        prop_assert!((-1.0..=1.0 + 1e-15).contains(&mcc));
        prop_assert!(near(matthews_corrcoef(&p, &t).unwrap(), mcc, 1e-15, 1e-15));
        let flip = |v: &[u8]| v.iter().map(|l| 1 - l).collect::<Vec<_>>();
        prop_assert!(near(matthews_corrcoef(&flip(&t), &flip(&p)).unwrap(), mcc, 1e-15, 1e-15));
        prop_assert_eq!(f1(&flip(&t), &flip(&p), &0).unwrap(), f);
    }

    #[test]
    fn failed_runs_grow_with_the_baseline(x in values(1, 30), b1 in -1e3..1e3f64, b2 in -1e3..1e3f64) {
        let (lo, hi) = if b1 <= b2 { (b1, b2) } else { (b2, b1) };
        let (a, b) = (failed_runs(&x, lo).unwrap(), failed_runs(&x, hi).unwrap());
        prop_assert!(a.failed <= b.failed);
        prop_assert_eq!(a.fraction, a.failed as f64 / x.len() as f64);
    }

    #[test]
    fn evp_limits_and_monotonicity(x in values(1, 40)) {
        let big_n = x.len();
        let (lo, hi, m) = (min(&x).unwrap(), max(&x).unwrap(), mean(&x).unwrap());
        let tol = 1e-12 * scale_of(&x);
        for sampling in [Sampling::WithReplacement, Sampling::WithoutReplacement] {
            let curve = expected_max_curve(&x, sampling).unwrap();
            prop_assert!(near(curve[0].mean, m, 0.0, tol));
            prop_assert!(curve.windows(2).all(|w| w[1].mean >= w[0].mean - tol));
            prop_assert!(curve.iter().all(|e| e.mean <= hi + tol && e.mean >= lo - tol && e.std >= 0.0));
            prop_assert!(curve.windows(2).all(|w| w[1].std >= 0.0 && w[0].n + 1 == w[1].n));
        }
        let last = expected_max(&x, big_n, Sampling::WithoutReplacement).unwrap();
        prop_assert!(near(last.mean, hi, 0.0, tol) && last.std <= tol);
        for n in 1..=big_n {
            let with = expected_max(&x, n, Sampling::WithReplacement).unwrap().mean;
            let without = expected_max(&x, n, Sampling::WithoutReplacement).unwrap().mean;
            prop_assert!(without >= with - tol);
        }
        // With replacement the maximum is missed with probability at most (1 - 1/N)^n.
        for n in [big_n, 10 * big_n, 100 * big_n, 1_000_000] {
            let e = expected_max(&x, n, Sampling::WithReplacement).unwrap().mean;
            let miss = (1.0 - 1.0 / big_n as f64).powf(n as f64);
            prop_assert!(e >= hi - (hi - lo) * miss - tol);
        }
    }

    #[test]
    fn anova_is_invariant_to_affine_maps_transposition_and_row_order(
        grid in prop::collection::vec(prop::collection::vec(-1e2..1e2f64, 4), 2..6),
        shift in -1e2..1e2f64, factor in 0.1..10.0f64,
    ) {
        let Ok(base) = two_way_anova(&grid) else { return Ok(()) };
        let parts = base.rows.sum_sq + base.columns.sum_sq + base.residual.sum_sq;
        prop_assert!(near(parts, base.total_sum_sq, 1e-10, 1e-10));
        let mapped: Vec<Vec<f64>> =
            grid.iter().map(|r| r.iter().map(|v| factor * v + shift).collect()).collect();
        let t = two_way_anova(&mapped).unwrap();
        prop_assert!(near(t.rows.f, base.rows.f, 1e-8, 1e-12));
        prop_assert!(near(t.columns.p_value, base.columns.p_value, 1e-7, 1e-12));
        let transposed: Vec<Vec<f64>> =
            (0..4).map(|j| grid.iter().map(|r| r[j]).collect()).collect();
        let t = two_way_anova(&transposed).unwrap();
        prop_assert!(near(t.rows.f, base.columns.f, 1e-10, 1e-12));
        prop_assert!(near(t.columns.p_value, base.rows.p_value, 1e-9, 1e-14));
        let mut reversed = grid.clone();
        reversed.reverse();
        let t = two_way_anova(&reversed).unwrap();
        prop_assert!(near(t.rows.f, base.rows.f, 1e-10, 1e-12));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn permutation_test_is_reproducible_and_bounded(
        x in values(2, 12), y in values(2, 12), seed: u64, resamples in 1u64..300,
    ) {
        let a = permutation_test(&x, &y, resamples, seed).unwrap();
        prop_assert_eq!(permutation_test(&x, &y, resamples, seed).unwrap(), a);
        prop_assert!((0.0..=1.0).contains(&a.p_value));
        prop_assert!(near(a.statistic, mean(&x).unwrap() - mean(&y).unwrap(), 1e-12, 1e-12));
        // With the +1 adjustment a randomised p-value is never below 2 / (resamples + 1).
        prop_assert!(a.exact || a.p_value >= (2.0 / (resamples as f64 + 1.0)).min(1.0));
    }

    #[test]
    fn exact_permutation_test_equals_brute_force(x in small_ints(1, 5), y in small_ints(1, 5)) {
        let t = permutation_test_exact(&x, &y).unwrap();
        // Every assignment of the pooled values to x, as a bit mask, in integer arithmetic:
        // mean(a) - mean(b) compares as n2 sum(a) - n1 sum(b).
        let pooled: Vec<i64> = x.iter().chain(&y).map(|v| *v as i64).collect();
        let (n1, n2) = (x.len() as i64, y.len() as i64);
        let key = |sa: i64, sb: i64| n2 * sa - n1 * sb;
        let observed = key(x.iter().sum::<f64>() as i64, y.iter().sum::<f64>() as i64);
        let (mut less, mut greater, mut total) = (0u64, 0u64, 0u64);
        for mask in 0u32..(1 << pooled.len()) {
            if mask.count_ones() as i64 != n1 {
                continue;
            }
            let sa: i64 = (0..pooled.len()).filter(|i| mask & (1 << i) != 0).map(|i| pooled[i]).sum();
            let k = key(sa, pooled.iter().sum::<i64>() - sa);
            less += u64::from(k <= observed);
            greater += u64::from(k >= observed);
            total += 1;
        }
        let p = (2.0 * (less.min(greater) as f64 / total as f64)).min(1.0);
        prop_assert_eq!(t.n_resamples, total);
        prop_assert!(near(t.p_value, p, 1e-15, 0.0), "{} vs {}", t.p_value, p);
    }

    #[test]
    fn bootstrap_is_reproducible_and_sensible(x in values(2, 40), seed: u64) {
        let ci = bootstrap_ci(&x, BootstrapStatistic::Mean, 0.95, 500, seed).unwrap();
        prop_assert_eq!(bootstrap_ci(&x, BootstrapStatistic::Mean, 0.95, 500, seed).unwrap(), ci);
        let (lo, hi) = (min(&x).unwrap(), max(&x).unwrap());
        // A mean of values in [lo, hi] can round one ulp outside it.
        let tol = 1e-12 * scale_of(&x);
        prop_assert!(lo - tol <= ci.low && ci.low <= ci.high && ci.high <= hi + tol);
        prop_assert!(ci.low - tol <= ci.estimate && ci.estimate <= ci.high + tol);
        let sd = bootstrap_ci(&x, BootstrapStatistic::StdDev(Ddof::Sample), 0.9, 500, seed).unwrap();
        prop_assert!(0.0 <= sd.low && sd.low <= sd.high && sd.high <= hi - lo + tol);
        prop_assert!(sd.standard_error >= 0.0);
    }
}

#[test]
fn random_permutation_test_converges_to_the_exact_one() {
    // 8 + 9 values: 24310 splits, estimated from 20000 random ones.
    let x = [0.61, 0.64, 0.58, 0.66, 0.63, 0.65, 0.60, 0.62];
    let y = [0.66, 0.70, 0.64, 0.69, 0.68, 0.63, 0.71, 0.67, 0.65];
    let exact = permutation_test_exact(&x, &y).unwrap();
    assert_eq!(exact.n_resamples, 24310);
    let random = permutation_test(&x, &y, 20_000, 5).unwrap();
    assert!(!random.exact);
    let p = exact.p_value;
    let se = 2.0 * ((p / 2.0) * (1.0 - p / 2.0) / 20_000.0).sqrt();
    assert!((random.p_value - p).abs() <= 5.0 * se + 1e-4, "{} vs {p}", random.p_value);
    let other_seed = permutation_test(&x, &y, 20_000, 6).unwrap();
    assert_ne!(other_seed.p_value, random.p_value);
}

#[test]
fn bootstrap_interval_of_a_fixed_sample_contains_its_statistics() {
    let x = [0.66, 0.70, 0.64, 0.69, 0.68, 0.63, 0.71, 0.67, 0.65, 0.72, 0.58, 0.66];
    for statistic in [
        BootstrapStatistic::Mean,
        BootstrapStatistic::StdDev(Ddof::Sample),
        BootstrapStatistic::StdDev(Ddof::Population),
    ] {
        let ci = bootstrap_ci(&x, statistic, 0.95, 10_000, 1).unwrap();
        assert!(ci.low < ci.estimate && ci.estimate < ci.high, "{statistic:?}: {ci:?}");
    }
}

/// Finite values of moderate size (squares must not overflow), NaN, and infinities.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -1e100..1e100f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        2 => Just(0.5),
    ]
}

fn any_values() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(any_value(), 0..8)
}

/// Ok with no NaN anywhere in the result, or a typed error; a NaN or infinity in the input must
/// be an error.
fn clean<T: std::fmt::Debug>(r: Result<T>, input_finite: bool) -> std::result::Result<(), TestCaseError> {
    match r {
        Ok(v) => {
            let shown = format!("{v:?}");
            prop_assert!(input_finite, "accepted non-finite input: {shown}");
            prop_assert!(!shown.contains("NaN"), "NaN in {shown}");
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_input_gives_a_value_or_a_typed_error(x in any_values(), y in any_values(), n in 0usize..10) {
        let fin = |v: &[f64]| v.iter().all(|a| a.is_finite());
        let (fx, fxy) = (fin(&x), fin(&x) && fin(&y));
        clean(describe(&x), fx)?;
        clean(mean(&x), fx)?;
        clean(std_dev(&x, Ddof::Sample), fx)?;
        clean(quantile(&x, 0.3), fx)?;
        clean(iqr(&x), fx)?;
        clean(failed_runs(&x, 0.5), fx)?;
        clean(rank_average(&x), fx)?;
        clean(pearson(&x, &y), fxy)?;
        clean(spearman_test(&x, &y), fxy)?;
        clean(levene(&[x.clone(), y.clone()], Center::Mean), fxy)?;
        clean(levene(&[x.clone(), y.clone(), x.clone()], Center::Median), fxy)?;
        clean(welch_t_test(&x, &y), fxy)?;
        clean(mann_whitney_u(&x, &y, MannWhitneyMethod::Auto), fxy)?;
        clean(permutation_test(&x, &y, 50, 1), fxy)?;
        clean(bootstrap_ci(&x, BootstrapStatistic::StdDev(Ddof::Sample), 0.9, 20, 1), fx)?;
        clean(expected_max(&x, n, Sampling::WithoutReplacement), fx)?;
        clean(expected_max(&x, n, Sampling::WithReplacement), fx)?;
        let half = x.len() / 2;
        clean(two_way_anova(&[&x[..half], &x[half..2 * half]]), fin(&x[..2 * half]))?;
    }
}

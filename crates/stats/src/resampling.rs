//! Resampling comparisons: a permutation test of the difference of means, and percentile bootstrap
//! confidence intervals for the mean and the standard deviation.
//!
//! Random draws come from [`SplitMix64`] seeded by the caller, so a result is reproducible on every
//! platform; they cannot equal scipy's draws, only its distributions (the tests check agreement
//! within Monte-Carlo error, and the exact permutation test to the last digit).

use crate::descriptive::{mean_unchecked, quantile_of_sorted, sorted, sum_sq_dev_unchecked, Ddof};
use crate::error::{check_sample, invalid, Result};
use crate::rng::SplitMix64;

/// The result of a permutation test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PermutationTest {
    /// `mean(x) - mean(y)`.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Number of permutations in the null distribution.
    pub n_resamples: u64,
    /// Whether every distinct split was enumerated (then `p_value` is exact).
    pub exact: bool,
}

/// The most splits [`permutation_test_exact`] enumerates (seconds of work).
pub const MAX_EXACT_SPLITS: u64 = 50_000_000;

/// The most resamples [`bootstrap_ci`] keeps in memory (80 MB).
pub const MAX_BOOTSTRAP_RESAMPLES: usize = 10_000_000;

/// Two-sided permutation test of `mean(x) - mean(y)` for independent samples, as
/// `scipy.stats.permutation_test((x, y), statistic, permutation_type="independent",
/// n_resamples=n_resamples)` with `statistic = mean(x) - mean(y)`.
///
/// If `n_resamples` is at least the number of distinct splits `C(n_x + n_y, n_x)`, all splits are
/// enumerated ([`permutation_test_exact`]), as scipy does. Otherwise `n_resamples` random splits
/// (Fisher-Yates shuffles of the pooled sample by [`SplitMix64`] seeded with `seed`) form the null
/// distribution, and each one-sided p-value is `(count + 1) / (n_resamples + 1)`, scipy's
/// adjustment that counts the observed split. The two-sided p-value is
/// `min(1, 2 min(p_less, p_greater))`, as in scipy.
///
/// Ties: null values within `100 eps max(|statistic|, max |value|)` of the statistic count as equal
/// to it. scipy's allowance is `100 eps |statistic|` alone, which is smaller than the rounding
/// error of a mean when the observed difference is small against the values themselves; with
/// tied data (accuracies on a dev set are multiples of 1 / size) scipy then counts some
/// theoretically equal splits and misses others. This crate counts them all, so its exact p-values
/// are those of exact rational arithmetic (the goldens check this where scipy falls short).
pub fn permutation_test(x: &[f64], y: &[f64], n_resamples: u64, seed: u64) -> Result<PermutationTest> {
    check_two("permutation_test", x, y)?;
    if n_resamples == 0 {
        return Err(invalid("permutation_test", "n_resamples must be positive"));
    }
    if splits(x.len(), y.len()).is_some_and(|s| s <= n_resamples) {
        return permutation_test_exact(x, y);
    }
    let observed = mean_unchecked(x) - mean_unchecked(y);
    let mut pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let gamma = tie_allowance(observed, &pooled);
    let mut rng = SplitMix64::new(seed);
    let mut counts = TailCounts::default();
    for _ in 0..n_resamples {
        rng.shuffle(&mut pooled);
        let (a, b) = pooled.split_at(x.len());
        counts.add(mean_unchecked(a) - mean_unchecked(b), observed, gamma);
    }
    Ok(PermutationTest { statistic: observed, p_value: counts.two_sided_p(1), n_resamples, exact: false })
}

/// The exact two-sided permutation test of `mean(x) - mean(y)`: every one of the
/// `C(n_x + n_y, n_x)` ways to split the pooled sample, each one-sided p-value `count / splits`
/// (scipy's `permutation_test` when `n_resamples >= splits`; ties as in [`permutation_test`]).
/// At most [`MAX_EXACT_SPLITS`].
pub fn permutation_test_exact(x: &[f64], y: &[f64]) -> Result<PermutationTest> {
    check_two("permutation_test_exact", x, y)?;
    let (n1, n) = (x.len(), x.len() + y.len());
    let total = splits(n1, y.len()).filter(|&s| s <= MAX_EXACT_SPLITS).ok_or_else(|| {
        invalid(
            "permutation_test_exact",
            format!("more than {MAX_EXACT_SPLITS} splits of {n1} + {} values", y.len()),
        )
    })?;
    let observed = mean_unchecked(x) - mean_unchecked(y);
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let gamma = tie_allowance(observed, &pooled);
    let mut counts = TailCounts::default();
    // Lexicographic enumeration of the n1-subsets of 0..n taken as the first sample.
    let mut chosen: Vec<usize> = (0..n1).collect();
    let (mut a, mut b) = (Vec::with_capacity(n1), Vec::with_capacity(n - n1));
    loop {
        a.clear();
        b.clear();
        let mut next = 0;
        for (i, &v) in pooled.iter().enumerate() {
            if next < n1 && chosen[next] == i {
                a.push(v);
                next += 1;
            } else {
                b.push(v);
            }
        }
        counts.add(mean_unchecked(&a) - mean_unchecked(&b), observed, gamma);
        // Advance to the next subset: bump the rightmost index that can move.
        let Some(j) = (0..n1).rev().find(|&j| chosen[j] < n - n1 + j) else {
            break;
        };
        chosen[j] += 1;
        for k in j + 1..n1 {
            chosen[k] = chosen[k - 1] + 1;
        }
    }
    debug_assert_eq!(counts.total, total);
    Ok(PermutationTest {
        statistic: observed,
        p_value: counts.two_sided_p(0),
        n_resamples: total,
        exact: true,
    })
}

fn check_two(what: &str, x: &[f64], y: &[f64]) -> Result<()> {
    check_sample(&format!("{what}: x"), x, 1)?;
    check_sample(&format!("{what}: y"), y, 1)
}

/// `C(n1 + n2, n1)`, or `None` beyond `u64`.
fn splits(n1: usize, n2: usize) -> Option<u64> {
    let k = n1.min(n2) as u64;
    let n = (n1 + n2) as u64;
    let mut c: u64 = 1;
    for i in 1..=k {
        // c * (n - k + i) / i is exact at every step: it is C(n - k + i, i).
        c = u64::try_from(u128::from(c) * u128::from(n - k + i) / u128::from(i)).ok()?;
    }
    Some(c)
}

/// How far a null value may be from the observed statistic and still tie with it: 100 times the
/// rounding error of a difference of means, at the scale of the data.
fn tie_allowance(observed: f64, pooled: &[f64]) -> f64 {
    let scale = pooled.iter().fold(observed.abs(), |m, v| m.max(v.abs()));
    100.0 * f64::EPSILON * scale
}

/// The null distribution as far as the p-value needs it: how many values lie at or below, and at
/// or above, the observed statistic.
#[derive(Debug, Default)]
struct TailCounts {
    less: u64,
    greater: u64,
    total: u64,
}

impl TailCounts {
    fn add(&mut self, null_value: f64, observed: f64, gamma: f64) {
        self.less += u64::from(null_value <= observed + gamma);
        self.greater += u64::from(null_value >= observed - gamma);
        self.total += 1;
    }

    /// scipy's two-sided p-value, with `adjustment` 1 for random permutations and 0 for exact
    /// enumeration.
    fn two_sided_p(&self, adjustment: u64) -> f64 {
        let denominator = (self.total + adjustment) as f64;
        let p_less = (self.less + adjustment) as f64 / denominator;
        let p_greater = (self.greater + adjustment) as f64 / denominator;
        (2.0 * p_less.min(p_greater)).clamp(0.0, 1.0)
    }
}

/// The statistic a bootstrap interval is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootstrapStatistic {
    /// The mean.
    Mean,
    /// The standard deviation with the given divisor.
    StdDev(Ddof),
}

impl BootstrapStatistic {
    pub(crate) fn of(self, xs: &[f64]) -> f64 {
        match self {
            BootstrapStatistic::Mean => mean_unchecked(xs),
            BootstrapStatistic::StdDev(ddof) => {
                (sum_sq_dev_unchecked(xs) / (xs.len() - ddof.value()) as f64).sqrt()
            }
        }
    }

    /// How many values the statistic needs.
    pub(crate) fn needs(self) -> usize {
        match self {
            BootstrapStatistic::Mean => 1,
            BootstrapStatistic::StdDev(ddof) => ddof.value() + 1,
        }
    }
}

/// A bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapCi {
    /// The statistic of the sample itself.
    pub estimate: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// Standard deviation (ddof = 1) of the bootstrap distribution, scipy's `standard_error`.
    pub standard_error: f64,
    pub confidence_level: f64,
    pub n_resamples: usize,
}

/// Two-sided percentile bootstrap confidence interval
/// (`scipy.stats.bootstrap((xs,), statistic, method="percentile", confidence_level=...,
/// n_resamples=...)`).
///
/// Draws `n_resamples` samples of `xs.len()` values with replacement (indices from [`SplitMix64`]
/// seeded with `seed`, one sample after another), computes the statistic of each, and returns the
/// `(1 - level) / 2` and `(1 + level) / 2` quantiles of those (numpy's linear quantile, as scipy).
/// Needs `2 <= n_resamples <=` [`MAX_BOOTSTRAP_RESAMPLES`] and `0 < confidence_level < 1`.
pub fn bootstrap_ci(
    xs: &[f64],
    statistic: BootstrapStatistic,
    confidence_level: f64,
    n_resamples: usize,
    seed: u64,
) -> Result<BootstrapCi> {
    check_sample("bootstrap_ci", xs, statistic.needs())?;
    check_bootstrap_arguments("bootstrap_ci", confidence_level, n_resamples)?;
    let distribution = bootstrap_distribution(xs, statistic, n_resamples, seed);
    let alpha = (1.0 - confidence_level) / 2.0;
    let standard_error = standard_error(&distribution);
    let distribution = sorted(&distribution);
    Ok(BootstrapCi {
        estimate: statistic.of(xs),
        low: quantile_of_sorted(&distribution, alpha),
        high: quantile_of_sorted(&distribution, 1.0 - alpha),
        standard_error,
        confidence_level,
        n_resamples,
    })
}

/// The checks every bootstrap interval makes of its level and number of resamples.
pub(crate) fn check_bootstrap_arguments(what: &str, confidence_level: f64, n_resamples: usize) -> Result<()> {
    check_level(what, confidence_level)?;
    if !(2..=MAX_BOOTSTRAP_RESAMPLES).contains(&n_resamples) {
        return Err(invalid(
            what,
            format!("n_resamples {n_resamples} is not in 2..={MAX_BOOTSTRAP_RESAMPLES}"),
        ));
    }
    Ok(())
}

/// `0 < confidence_level < 1`.
pub(crate) fn check_level(what: &str, confidence_level: f64) -> Result<()> {
    if confidence_level > 0.0 && confidence_level < 1.0 {
        Ok(())
    } else {
        Err(invalid(what, format!("confidence_level {confidence_level} is not in (0, 1)")))
    }
}

/// The bootstrap distribution of `statistic`, in draw order: `n_resamples` samples of `xs.len()`
/// values with replacement, indices from [`SplitMix64`] seeded with `seed`, one sample after
/// another. Every bootstrap interval draws through here, so intervals of different methods with
/// the same seed are computed from the very same resamples.
pub(crate) fn bootstrap_distribution(
    xs: &[f64],
    statistic: BootstrapStatistic,
    n_resamples: usize,
    seed: u64,
) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    let mut resample = vec![0.0; xs.len()];
    let mut distribution = Vec::with_capacity(n_resamples);
    for _ in 0..n_resamples {
        for r in resample.iter_mut() {
            *r = xs[rng.index(xs.len())];
        }
        distribution.push(statistic.of(&resample));
    }
    distribution
}

/// Standard deviation (ddof = 1) of a bootstrap distribution, scipy's `standard_error`.
pub(crate) fn standard_error(distribution: &[f64]) -> f64 {
    (sum_sq_dev_unchecked(distribution) / (distribution.len() - 1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatsError;

    #[test]
    fn split_counts() {
        assert_eq!(splits(3, 4), Some(35));
        assert_eq!(splits(0, 4), Some(1));
        assert_eq!(splits(10, 10), Some(184_756));
        assert_eq!(splits(30, 30), Some(118_264_581_564_861_424));
        assert_eq!(splits(40, 40), None);
        assert_eq!(splits(100, 100), None);
    }

    #[test]
    fn exact_test_of_a_tiny_sample() {
        // x = [3, 4], y = [1, 2]: of the 6 splits, one has a mean difference >= 2 and one <= -2.
        let t = permutation_test_exact(&[3.0, 4.0], &[1.0, 2.0]).unwrap();
        assert_eq!((t.statistic, t.n_resamples, t.exact), (2.0, 6, true));
        assert_eq!(t.p_value, 2.0 * 1.0 / 6.0);
        let same = permutation_test(&[3.0, 4.0], &[1.0, 2.0], 9999, 1).unwrap();
        assert_eq!(same, t);
    }

    #[test]
    fn invalid_input() {
        assert!(matches!(permutation_test(&[], &[1.0], 100, 0), Err(StatsError::Empty { .. })));
        assert!(matches!(permutation_test(&[1.0], &[1.0], 0, 0), Err(StatsError::InvalidArgument { .. })));
        assert!(matches!(
            permutation_test_exact(&[0.0; 30], &[1.0; 30]),
            Err(StatsError::InvalidArgument { .. })
        ));
        let sd = BootstrapStatistic::StdDev(Ddof::Sample);
        assert!(matches!(bootstrap_ci(&[1.0], sd, 0.95, 100, 0), Err(StatsError::TooFew { .. })));
        assert!(matches!(
            bootstrap_ci(&[1.0, 2.0], sd, 1.0, 100, 0),
            Err(StatsError::InvalidArgument { .. })
        ));
        assert!(matches!(
            bootstrap_ci(&[1.0, 2.0], sd, 0.9, usize::MAX, 0),
            Err(StatsError::InvalidArgument { .. })
        ));
        assert!(matches!(
            bootstrap_ci(&[1.0, f64::NAN], BootstrapStatistic::Mean, 0.95, 100, 0),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
    }
}

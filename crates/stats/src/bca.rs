//! Bias-corrected and accelerated (BCa) bootstrap intervals (Efron & Tibshirani, *An Introduction
//! to the Bootstrap*, 14.3 and Eq. 15.36), computed as `scipy.stats.bootstrap(..., method="BCa")`
//! computes them for one sample (scipy's `_bca_interval`).
//!
//! The percentile interval of a standard deviation is biased at the sample sizes of seed studies
//! (the bootstrap distribution of a std sits below the estimate and is skewed); BCa corrects for
//! both from the same resamples, with one more pass over the sample (the jackknife).

use crate::descriptive::{mean_unchecked, quantile_of_sorted, sorted, sum};
use crate::dist::{normal_cdf, normal_quantile};
use crate::error::{check_sample, degenerate, Result};
use crate::resampling::{
    bootstrap_distribution, check_bootstrap_arguments, check_level, standard_error, BootstrapCi,
    BootstrapStatistic,
};
use crate::spread::{constant_value, is_rounding_noise, magnitude, no_spread};

/// Two-sided BCa bootstrap confidence interval
/// (`scipy.stats.bootstrap((xs,), statistic, method="BCa", confidence_level=...,
/// n_resamples=...)`).
///
/// Draws exactly the resamples [`crate::bootstrap_ci`] draws for the same `seed` (so the two
/// intervals differ only by their method), then adjusts the percentiles as
/// [`bca_interval_from_distribution`] describes. `standard_error` is that of the bootstrap
/// distribution, as in [`crate::bootstrap_ci`].
///
/// Needs one value more than the statistic itself (the jackknife leaves one out: 2 for the mean,
/// 3 for the sample standard deviation), `2 <= n_resamples <=` [`crate::MAX_BOOTSTRAP_RESAMPLES`]
/// and `0 < confidence_level < 1`. A sample without spread, or one whose bootstrap values all lie
/// on one side of the estimate, is [`crate::StatsError::Degenerate`]: scipy warns and returns `NaN`.
pub fn bootstrap_bca_ci(
    xs: &[f64],
    statistic: BootstrapStatistic,
    confidence_level: f64,
    n_resamples: usize,
    seed: u64,
) -> Result<BootstrapCi> {
    const WHAT: &str = "bootstrap_bca_ci";
    check_sample(WHAT, xs, statistic.needs() + 1)?;
    check_bootstrap_arguments(WHAT, confidence_level, n_resamples)?;
    if constant_value(xs).is_some() {
        // Every resample is the sample itself: no bias to correct and no jackknife spread.
        return Err(degenerate(WHAT, no_spread("the sample", xs)));
    }
    let distribution = bootstrap_distribution(xs, statistic, n_resamples, seed);
    let (low, high) = bca(WHAT, xs, statistic, &distribution, confidence_level)?;
    Ok(BootstrapCi {
        estimate: statistic.of(xs),
        low,
        high,
        standard_error: standard_error(&distribution),
        confidence_level,
        n_resamples,
    })
}

/// The BCa interval of `statistic` of `xs` from a given bootstrap distribution (the statistic of
/// each resample, in any order): what [`bootstrap_bca_ci`] computes after drawing, exposed so that
/// it can be checked against scipy's `_bca_interval` on the very same distribution.
///
/// With `theta` the statistic of `xs`, `B` resamples and `alpha = (1 - confidence_level) / 2`:
/// - bias correction `z0 = ndtri((#{b < theta} + #{b <= theta}) / 2B)`: resamples equal to the
///   estimate count one half, as in scipy since 1.11;
/// - acceleration `a = sum(U^3) / (6 sum(U^2)^1.5)` over the jackknife values `theta_(i)` (the
///   statistic of `xs` without value `i`), `U_i = (n - 1)(mean(theta_(.)) - theta_(i))`;
/// - the interval is the numpy linear quantiles of the distribution at
///   `Phi(z0 + (z0 + z)/(1 - a (z0 + z)))` for `z = ndtri(alpha)` and `z = -ndtri(alpha)`.
///
/// One deliberate difference: a resample whose statistic is within rounding error of the estimate
/// (`100 eps max(|theta|, max |x|)`) counts as equal to it. Resamples that only reorder tied
/// values (accuracies are multiples of 1 / dev size) have the estimate's value in exact arithmetic,
/// but their computed statistic lands an ulp either side of it, and scipy then counts each as
/// below or above by the accident of rounding; this crate's `z0` is the exact-arithmetic one.
///
/// Errors: [`crate::StatsError::Degenerate`] when the jackknife values have no spread beyond
/// rounding (`a` would be `0 / 0`), or every bootstrap value lies on one side of the estimate
/// (`z0` would be infinite); scipy returns `NaN` there. Needs `xs` as [`bootstrap_bca_ci`] does,
/// at least 2 finite values in `distribution` and `0 < confidence_level < 1`.
pub fn bca_interval_from_distribution(
    xs: &[f64],
    statistic: BootstrapStatistic,
    distribution: &[f64],
    confidence_level: f64,
) -> Result<(f64, f64)> {
    const WHAT: &str = "bca_interval_from_distribution";
    check_sample(&format!("{WHAT}: xs"), xs, statistic.needs() + 1)?;
    check_sample(&format!("{WHAT}: distribution"), distribution, 2)?;
    check_level(WHAT, confidence_level)?;
    bca(WHAT, xs, statistic, distribution, confidence_level)
}

/// The BCa interval of checked input.
fn bca(
    what: &str,
    xs: &[f64],
    statistic: BootstrapStatistic,
    distribution: &[f64],
    confidence_level: f64,
) -> Result<(f64, f64)> {
    let theta = statistic.of(xs);
    let z0 = bias_correction(what, xs, theta, distribution)?;
    let a = acceleration(what, xs, statistic)?;
    let z_alpha = normal_quantile((1.0 - confidence_level) / 2.0);
    // scipy's expressions, term for term.
    let adjusted = |z: f64| {
        let num = z0 + z;
        normal_cdf(z0 + num / (1.0 - a * num))
    };
    let (alpha_1, alpha_2) = (adjusted(z_alpha), adjusted(-z_alpha));
    if !(alpha_1.is_finite() && alpha_2.is_finite()) {
        return Err(degenerate(
            what,
            format!("the adjusted percentiles are undefined (z0 = {z0}, acceleration = {a})"),
        ));
    }
    let distribution = sorted(distribution);
    Ok((quantile_of_sorted(&distribution, alpha_1), quantile_of_sorted(&distribution, alpha_2)))
}

/// `z0`: the normal quantile of the share of bootstrap values below the estimate, ties counting
/// one half.
fn bias_correction(what: &str, xs: &[f64], theta: f64, distribution: &[f64]) -> Result<f64> {
    let allowance = 100.0 * f64::EPSILON * magnitude(xs).max(theta.abs());
    let below = distribution.iter().filter(|&&b| b < theta - allowance).count();
    let tied = distribution.iter().filter(|&&b| (b - theta).abs() <= allowance).count();
    if below + tied == 0 || below == distribution.len() {
        let side = if below == 0 { "above" } else { "below" };
        return Err(degenerate(
            what,
            format!(
                "every bootstrap value lies {side} the estimate {theta}, so the bias correction is infinite"
            ),
        ));
    }
    // Counted as scipy counts: #{b < theta} + #{b <= theta}, over 2B.
    let share = (2 * below + tied) as f64 / (2 * distribution.len()) as f64;
    Ok(normal_quantile(share))
}

/// The acceleration `a` from the jackknife, as scipy computes it.
fn acceleration(what: &str, xs: &[f64], statistic: BootstrapStatistic) -> Result<f64> {
    let n = xs.len();
    let mut rest = Vec::with_capacity(n - 1);
    let jackknife: Vec<f64> = (0..n)
        .map(|i| {
            rest.clear();
            rest.extend(xs[..i].iter().chain(&xs[i + 1..]));
            statistic.of(&rest)
        })
        .collect();
    let centre = mean_unchecked(&jackknife);
    let spread = sum(jackknife.iter().map(|j| (centre - j) * (centre - j)));
    // Jackknife values carry rounding error at the scale of the data, not of their own spread.
    if is_rounding_noise(spread, n, magnitude(xs).max(magnitude(&jackknife))) {
        return Err(degenerate(
            what,
            format!(
                "the jackknife values of the statistic (each value of the sample left out in turn) are all {}, so the acceleration is 0 / 0",
                jackknife[0]
            ),
        ));
    }
    let nf = n as f64;
    let u: Vec<f64> = jackknife.iter().map(|j| (nf - 1.0) * (centre - j)).collect();
    let num = sum(u.iter().map(|v| v * v * v)) / (nf * nf * nf);
    let den = sum(u.iter().map(|v| v * v)) / (nf * nf);
    Ok(1.0 / 6.0 * num / den.powf(1.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{bootstrap_ci, Ddof, StatsError};

    const SD: BootstrapStatistic = BootstrapStatistic::StdDev(Ddof::Sample);

    #[test]
    fn shares_the_draws_of_the_percentile_interval() {
        let xs = [0.61, 0.64, 0.66, 0.62, 0.71, 0.58, 0.65, 0.69, 0.63, 0.67];
        let p = bootstrap_ci(&xs, SD, 0.95, 2000, 5).unwrap();
        let b = bootstrap_bca_ci(&xs, SD, 0.95, 2000, 5).unwrap();
        assert_eq!((p.estimate, p.standard_error), (b.estimate, b.standard_error));
        let d = bootstrap_distribution(&xs, SD, 2000, 5);
        assert_eq!(bca_interval_from_distribution(&xs, SD, &d, 0.95).unwrap(), (b.low, b.high));
        // The percentile interval of a std sits low; BCa moves it up.
        assert!(b.low > p.low && b.high > p.high, "{p:?} {b:?}");
    }

    #[test]
    fn symmetric_distribution_without_skew_is_the_percentile_interval() {
        // Jackknife values of the mean of a symmetric sample are symmetric: a = 0; half the
        // distribution on each side of the estimate: z0 = 0.
        let xs = [1.0, 2.0, 3.0];
        let d = [1.5, 2.0, 2.5, 1.0, 3.0, 2.0];
        let (lo, hi) = bca_interval_from_distribution(&xs, BootstrapStatistic::Mean, &d, 0.5).unwrap();
        let s = sorted(&d);
        assert!((lo - quantile_of_sorted(&s, 0.25)).abs() < 1e-12, "{lo}");
        assert!((hi - quantile_of_sorted(&s, 0.75)).abs() < 1e-12, "{hi}");
    }

    #[test]
    fn degenerate_input_is_an_error() {
        let mean = BootstrapStatistic::Mean;
        let e = bootstrap_bca_ci(&[0.7; 12], SD, 0.95, 999, 1).unwrap_err();
        assert!(e.to_string().contains("every value of the sample is 0.7"), "{e}");
        // Every bootstrap value above the estimate.
        let e = bca_interval_from_distribution(&[1.0, 2.0, 3.0], mean, &[2.5, 2.6], 0.9).unwrap_err();
        assert!(matches!(e, StatsError::Degenerate { .. }) && e.to_string().contains("above"), "{e}");
        // Two values, population std: each jackknife sample has one value and std 0.
        let pop = BootstrapStatistic::StdDev(Ddof::Population);
        let e = bca_interval_from_distribution(&[1.0, 2.0], pop, &[0.0, 0.5, 0.5], 0.9).unwrap_err();
        assert!(e.to_string().contains("jackknife"), "{e}");
        assert!(matches!(
            bootstrap_bca_ci(&[1.0, 2.0], SD, 0.95, 99, 1),
            Err(StatsError::TooFew { needed: 3, .. })
        ));
        assert!(matches!(
            bca_interval_from_distribution(&[1.0, 2.0, 3.0], mean, &[2.0, f64::NAN], 0.9),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            bootstrap_bca_ci(&[1.0, 2.0, 3.0], mean, 0.0, 99, 1),
            Err(StatsError::InvalidArgument { .. })
        ));
    }
}

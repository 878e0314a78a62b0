//! Student's t confidence interval for a mean: the interval the report shows below 10 seeds, where
//! a bootstrap has too few distinct resamples to say anything.

use crate::descriptive::{mean_unchecked, sum_sq_dev_unchecked};
use crate::dist::t_quantile_two_sided;
use crate::error::{check_sample, Result};
use crate::resampling::check_level;

/// A Student's t confidence interval for the mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TInterval {
    /// The sample mean.
    pub estimate: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// Degrees of freedom, `n - 1`.
    pub df: f64,
    pub confidence_level: f64,
}

/// Two-sided Student's t interval for the mean of `xs`:
/// `mean -+ t_{(1 + level) / 2, n - 1} s / sqrt(n)` with `s` the sample standard deviation
/// (`scipy.stats.t.interval(level, n - 1, loc=mean, scale=scipy.stats.sem(xs))`).
///
/// Needs at least 2 finite values and `0 < confidence_level < 1`. A constant sample gives the
/// interval `[c, c]` (scipy: `NaN`, from a scale of 0).
pub fn t_interval_mean(xs: &[f64], confidence_level: f64) -> Result<TInterval> {
    check_sample("t_interval_mean", xs, 2)?;
    check_level("t_interval_mean", confidence_level)?;
    let n = xs.len() as f64;
    let estimate = mean_unchecked(xs);
    let sem = (sum_sq_dev_unchecked(xs) / (n - 1.0)).sqrt() / n.sqrt();
    let df = n - 1.0;
    let half_width = t_quantile_two_sided(1.0 - confidence_level, df) * sem;
    Ok(TInterval { estimate, low: estimate - half_width, high: estimate + half_width, df, confidence_level })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatsError;

    #[test]
    fn two_values() {
        // scipy.stats.t.interval(0.95, 1, loc=1.5, scale=0.5)
        let t = t_interval_mean(&[1.0, 2.0], 0.95).unwrap();
        assert!((t.low - -4.853102368087347).abs() < 1e-12, "{t:?}");
        assert!((t.high - 7.853102368087347).abs() < 1e-12, "{t:?}");
        assert_eq!((t.estimate, t.df), (1.5, 1.0));
    }

    #[test]
    fn constant_and_invalid() {
        let t = t_interval_mean(&[0.7; 4], 0.9).unwrap();
        assert_eq!((t.low, t.estimate, t.high), (0.7, 0.7, 0.7));
        assert!(matches!(t_interval_mean(&[0.7], 0.9), Err(StatsError::TooFew { needed: 2, got: 1, .. })));
        assert!(matches!(t_interval_mean(&[0.7, 0.8], 1.0), Err(StatsError::InvalidArgument { .. })));
        assert!(matches!(t_interval_mean(&[0.7, f64::NAN], 0.9), Err(StatsError::NonFinite { .. })));
    }
}

//! Descriptive statistics of one sample: mean, standard deviation, median, quantiles, range.
//!
//! Sums use Neumaier's compensated summation, so results are at least as accurate as numpy's
//! pairwise summation; they may differ from numpy in the last bit or two.

use crate::error::{check_finite, check_sample, invalid, Result};
use crate::spread::constant_value;

/// Which divisor a variance uses: `n - ddof`.
///
/// The paper's "std over seeds" is the sample standard deviation ([`Ddof::Sample`], as
/// `numpy.std(x, ddof=1)` and pandas); `numpy.std(x)` defaults to [`Ddof::Population`]. Reports say
/// which one they show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ddof {
    /// Divide by `n` (`ddof = 0`, numpy's default). Needs one value.
    Population,
    /// Divide by `n - 1` (`ddof = 1`, Bessel's correction). Needs two values.
    Sample,
}

impl Ddof {
    /// The number subtracted from `n` in the divisor.
    pub fn value(self) -> usize {
        match self {
            Ddof::Population => 0,
            Ddof::Sample => 1,
        }
    }
}

/// Compensated (Neumaier) sum of finite values.
pub(crate) fn sum(xs: impl IntoIterator<Item = f64>) -> f64 {
    let mut total = 0.0_f64;
    let mut compensation = 0.0_f64;
    for x in xs {
        let t = total + x;
        if total.abs() >= x.abs() {
            compensation += (total - t) + x;
        } else {
            compensation += (x - t) + total;
        }
        total = t;
    }
    total + compensation
}

/// Mean of values already checked to be finite and non-empty.
///
/// A constant sample's mean is its value exactly: `sum / n` can be an ulp off (three 0.7s average
/// to 0.6999999999999998), which would give the sample a variance of ~1e-32 instead of 0. The
/// check stops at the first value that differs, so it costs a varying sample almost nothing.
pub(crate) fn mean_unchecked(xs: &[f64]) -> f64 {
    if let Some(c) = constant_value(xs) {
        return c;
    }
    sum(xs.iter().copied()) / xs.len() as f64
}

/// Sum of squared deviations from the mean (two passes), of checked values.
pub(crate) fn sum_sq_dev_unchecked(xs: &[f64]) -> f64 {
    let m = mean_unchecked(xs);
    sum(xs.iter().map(|x| (x - m) * (x - m)))
}

/// Sorted copy of checked values.
pub(crate) fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Arithmetic mean (`numpy.mean`).
pub fn mean(xs: &[f64]) -> Result<f64> {
    check_finite("mean", xs)?;
    Ok(mean_unchecked(xs))
}

/// Variance with divisor `n - ddof` (`numpy.var(x, ddof=...)`).
pub fn variance(xs: &[f64], ddof: Ddof) -> Result<f64> {
    check_sample("variance", xs, ddof.value() + 1)?;
    Ok(sum_sq_dev_unchecked(xs) / (xs.len() - ddof.value()) as f64)
}

/// Standard deviation with divisor `n - ddof` (`numpy.std(x, ddof=...)`).
pub fn std_dev(xs: &[f64], ddof: Ddof) -> Result<f64> {
    check_sample("std_dev", xs, ddof.value() + 1)?;
    Ok((sum_sq_dev_unchecked(xs) / (xs.len() - ddof.value()) as f64).sqrt())
}

/// Smallest value (`numpy.min`).
pub fn min(xs: &[f64]) -> Result<f64> {
    check_finite("min", xs)?;
    Ok(xs.iter().copied().fold(f64::INFINITY, f64::min))
}

/// Largest value (`numpy.max`).
pub fn max(xs: &[f64]) -> Result<f64> {
    check_finite("max", xs)?;
    Ok(xs.iter().copied().fold(f64::NEG_INFINITY, f64::max))
}

/// Median (`numpy.median`): the middle value, or the mean of the two middle values.
pub fn median(xs: &[f64]) -> Result<f64> {
    check_finite("median", xs)?;
    Ok(median_of_sorted(&sorted(xs)))
}

/// Median of a non-empty sorted slice, as numpy: `(a + b) / 2` of the two middle values.
pub(crate) fn median_of_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        let (a, b) = (v[n / 2 - 1], v[n / 2]);
        let s = a + b;
        if s.is_finite() {
            s / 2.0
        } else {
            a / 2.0 + b / 2.0
        }
    }
}

/// The `q`-quantile, `q` in [0, 1], with numpy's default method `"linear"` (Hyndman & Fan type 7):
/// the value at the virtual index `(n - 1) q` of the sorted sample, interpolated linearly.
///
/// Matches `numpy.quantile(x, q)` including its interpolation formula
/// (`a + (b - a) t` for `t < 0.5`, `b - (b - a)(1 - t)` otherwise).
pub fn quantile(xs: &[f64], q: f64) -> Result<f64> {
    check_finite("quantile", xs)?;
    check_q(q)?;
    Ok(quantile_of_sorted(&sorted(xs), q))
}

/// Several quantiles of one sample at once (`numpy.quantile(x, qs)`).
pub fn quantiles(xs: &[f64], qs: &[f64]) -> Result<Vec<f64>> {
    check_finite("quantiles", xs)?;
    for &q in qs {
        check_q(q)?;
    }
    let v = sorted(xs);
    Ok(qs.iter().map(|&q| quantile_of_sorted(&v, q)).collect())
}

/// Interquartile range `Q(0.75) - Q(0.25)` with numpy's linear quantiles (`scipy.stats.iqr(x)`,
/// which interpolates with its own `stats.quantile` and may differ in the last bit of the data).
pub fn iqr(xs: &[f64]) -> Result<f64> {
    check_finite("iqr", xs)?;
    let v = sorted(xs);
    Ok(quantile_of_sorted(&v, 0.75) - quantile_of_sorted(&v, 0.25))
}

fn check_q(q: f64) -> Result<()> {
    if (0.0..=1.0).contains(&q) {
        Ok(())
    } else {
        Err(invalid("quantile", format!("q = {q} is not in [0, 1]")))
    }
}

/// numpy's `"linear"` quantile of a non-empty sorted slice.
pub(crate) fn quantile_of_sorted(v: &[f64], q: f64) -> f64 {
    let n = v.len();
    let index = (n - 1) as f64 * q;
    let below = index.floor();
    let i = below as usize;
    if i + 1 >= n {
        return v[n - 1];
    }
    let t = index - below;
    let (a, b) = (v[i], v[i + 1]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The numbers a stability report shows for one set of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (ddof = 1); `None` for a single value.
    pub std_sample: Option<f64>,
    /// Population standard deviation (ddof = 0).
    pub std_population: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// First quartile, numpy's linear quantile at 0.25.
    pub q25: f64,
    /// Third quartile, numpy's linear quantile at 0.75.
    pub q75: f64,
    /// `q75 - q25`.
    pub iqr: f64,
}

/// All descriptive statistics of one sample (at least one finite value).
pub fn describe(xs: &[f64]) -> Result<Summary> {
    check_finite("describe", xs)?;
    let v = sorted(xs);
    let n = v.len();
    let ss = sum_sq_dev_unchecked(&v);
    let (q25, q75) = (quantile_of_sorted(&v, 0.25), quantile_of_sorted(&v, 0.75));
    Ok(Summary {
        n,
        mean: mean_unchecked(xs),
        std_sample: (n >= 2).then(|| (ss / (n - 1) as f64).sqrt()),
        std_population: (ss / n as f64).sqrt(),
        median: median_of_sorted(&v),
        min: v[0],
        max: v[n - 1],
        q25,
        q75,
        iqr: q75 - q25,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatsError;

    #[test]
    fn small_known_values() {
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&x).unwrap(), 5.0);
        assert_eq!(std_dev(&x, Ddof::Population).unwrap(), 2.0);
        assert_eq!(variance(&x, Ddof::Sample).unwrap(), 32.0 / 7.0);
        assert_eq!(median(&x).unwrap(), 4.5);
        assert_eq!(quantile(&x, 0.0).unwrap(), 2.0);
        assert_eq!(quantile(&x, 1.0).unwrap(), 9.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25).unwrap(), 1.75);
        assert_eq!(iqr(&[1.0, 2.0, 3.0, 4.0]).unwrap(), 1.5);
        assert_eq!(min(&x).unwrap(), 2.0);
        assert_eq!(max(&x).unwrap(), 9.0);
    }

    #[test]
    fn compensated_sum_keeps_small_terms() {
        assert_eq!(sum([1e16, 1.0, -1e16]), 1.0);
    }

    #[test]
    fn single_value() {
        let s = describe(&[3.5]).unwrap();
        assert_eq!(s.std_sample, None);
        assert_eq!((s.mean, s.median, s.iqr, s.std_population), (3.5, 3.5, 0.0, 0.0));
        assert!(matches!(std_dev(&[3.5], Ddof::Sample), Err(StatsError::TooFew { needed: 2, got: 1, .. })));
    }

    #[test]
    fn invalid_input() {
        assert!(matches!(mean(&[]), Err(StatsError::Empty { .. })));
        assert!(matches!(median(&[1.0, f64::NAN]), Err(StatsError::NonFinite { index: 1, .. })));
        assert!(matches!(quantile(&[1.0], 1.5), Err(StatsError::InvalidArgument { .. })));
        assert!(matches!(quantiles(&[1.0], &[0.5, f64::NAN]), Err(StatsError::InvalidArgument { .. })));
    }
}

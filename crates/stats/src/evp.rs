//! Expected validation performance (Dodge et al. 2019, "Show your work"; allenai/allentune): the
//! expected best dev score among `n` runs drawn from the `N` runs done, for n = 1, 2, ...

use crate::descriptive::{sorted, sum};
use crate::error::{check_finite, invalid, Result, StatsError};

/// How the `n` runs are drawn from the `N` results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sampling {
    /// With replacement, as allentune: any `n >= 1`; tends to the maximum as `n` grows.
    WithReplacement,
    /// Without replacement: `1 <= n <= N`; equals the maximum at `n = N`.
    WithoutReplacement,
}

/// The expected maximum of `n` draws and its spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExpectedMax {
    /// Number of runs drawn.
    pub n: usize,
    /// `E[max]`.
    pub mean: f64,
    /// Standard deviation of the maximum, `sqrt(sum_i p_i (v(i) - E)^2)`.
    pub std: f64,
}

/// Expected maximum of `n` runs drawn from `values` (any order).
///
/// With the values sorted `v(1) <= ... <= v(N)`, the maximum is `v(i)` with probability
/// - with replacement (allentune): `p_i = (i / N)^n - ((i - 1) / N)^n`;
/// - without replacement: `p_i = C(i - 1, n - 1) / C(N, n)` (0 for `i < n`), computed by the exact
///   ratio `p_{i-1} = p_i (i - n) / (i - 1)` down from `p_N = n / N`.
///
/// Tied values need no special care: the formulas give the right distribution of the maximum's
/// value whatever the order among ties.
pub fn expected_max(values: &[f64], n: usize, sampling: Sampling) -> Result<ExpectedMax> {
    check_finite("expected_max", values)?;
    check_n(values.len(), n, sampling)?;
    Ok(expected_max_sorted(&sorted(values), n, sampling))
}

/// [`expected_max`] for every `n` from 1 to `N = values.len()`: the curve Dodge et al. plot.
pub fn expected_max_curve(values: &[f64], sampling: Sampling) -> Result<Vec<ExpectedMax>> {
    check_finite("expected_max_curve", values)?;
    let v = sorted(values);
    Ok((1..=v.len()).map(|n| expected_max_sorted(&v, n, sampling)).collect())
}

fn check_n(big_n: usize, n: usize, sampling: Sampling) -> Result<()> {
    if n == 0 {
        return Err(invalid("expected_max", "n must be at least 1"));
    }
    if sampling == Sampling::WithoutReplacement && n > big_n {
        return Err(StatsError::TooFew {
            what: format!("expected_max: values to draw {n} without replacement"),
            needed: n,
            got: big_n,
        });
    }
    Ok(())
}

fn expected_max_sorted(v: &[f64], n: usize, sampling: Sampling) -> ExpectedMax {
    let p = match sampling {
        Sampling::WithReplacement => with_replacement(v.len(), n),
        Sampling::WithoutReplacement => without_replacement(v.len(), n),
    };
    // An expected maximum lies within the range of the values; the probabilities sum to 1 only up
    // to rounding, which can push it an ulp outside. Clamping keeps the expected maximum of
    // constant runs at their value exactly, and so its standard deviation at exactly 0.
    let mean = sum(v.iter().zip(&p).map(|(x, p)| x * p)).clamp(v[0], v[v.len() - 1]);
    let var = sum(v.iter().zip(&p).map(|(x, p)| p * (x - mean) * (x - mean)));
    ExpectedMax { n, mean, std: var.sqrt() }
}

/// `p_i = (i / N)^n - ((i - 1) / N)^n`, i = 1..N.
fn with_replacement(big_n: usize, n: usize) -> Vec<f64> {
    let cdf = |i: usize| {
        let q = i as f64 / big_n as f64;
        match i32::try_from(n) {
            Ok(k) => q.powi(k),
            Err(_) => q.powf(n as f64),
        }
    };
    (1..=big_n).map(|i| cdf(i) - cdf(i - 1)).collect()
}

/// `p_i = C(i - 1, n - 1) / C(N, n)`, i = 1..N.
fn without_replacement(big_n: usize, n: usize) -> Vec<f64> {
    let mut p = vec![0.0; big_n];
    p[big_n - 1] = n as f64 / big_n as f64;
    for i in (n + 1..=big_n).rev() {
        // p[i - 1] holds p_i (1-based); p_{i-1} = p_i (i - n) / (i - 1).
        p[i - 2] = p[i - 1] * (i - n) as f64 / (i - 1) as f64;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_values() {
        let v = [1.0, 3.0];
        let w = expected_max(&v, 2, Sampling::WithReplacement).unwrap();
        // max is 1 with probability 1/4.
        assert_eq!(w.mean, 2.5);
        assert!((w.std - 0.75_f64.sqrt()).abs() < 1e-15);
        let wo = expected_max(&v, 2, Sampling::WithoutReplacement).unwrap();
        assert_eq!((wo.mean, wo.std), (3.0, 0.0));
        let one = expected_max(&v, 1, Sampling::WithoutReplacement).unwrap();
        assert_eq!((one.mean, one.std), (2.0, 1.0));
    }

    #[test]
    fn without_replacement_probabilities_sum_to_one() {
        for big_n in 1..30 {
            for n in 1..=big_n {
                let s: f64 = without_replacement(big_n, n).iter().sum();
                assert!((s - 1.0).abs() < 1e-13, "N={big_n} n={n} sum={s}");
            }
        }
    }

    #[test]
    fn invalid_input() {
        assert!(matches!(
            expected_max(&[1.0], 0, Sampling::WithReplacement),
            Err(StatsError::InvalidArgument { .. })
        ));
        assert!(matches!(
            expected_max(&[1.0, 2.0], 3, Sampling::WithoutReplacement),
            Err(StatsError::TooFew { .. })
        ));
        assert!(expected_max(&[1.0, 2.0], 3, Sampling::WithReplacement).is_ok());
        assert!(matches!(expected_max_curve(&[], Sampling::WithReplacement), Err(StatsError::Empty { .. })));
    }
}

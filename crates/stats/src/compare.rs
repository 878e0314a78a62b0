//! Comparing two recipes by their runs: Welch's t-test and the Mann-Whitney U test.
//! Resampling comparisons (permutation test, bootstrap) are in [`crate::resampling`].

use crate::descriptive::{mean_unchecked, sum_sq_dev_unchecked};
use crate::dist::{normal_sf, t_two_sided};
use crate::error::{check_sample, degenerate, invalid, Result};
use crate::rank::ranks_and_ties;
use crate::spread::{is_rounding_noise, magnitude, no_spread};

/// The result of Welch's t-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchTest {
    /// `t = (mean(x) - mean(y)) / sqrt(s_x^2 / n_x + s_y^2 / n_y)`.
    pub statistic: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// `mean(x) - mean(y)`.
    pub mean_difference: f64,
}

/// Welch's unequal-variances t-test, two-sided
/// (`scipy.stats.ttest_ind(x, y, equal_var=False)`).
///
/// Each sample needs two finite values. When both samples are constant the standard error is 0
/// and the statistic undefined (scipy returns `NaN` or `inf`): that is
/// [`StatsError::Degenerate`](crate::StatsError::Degenerate). A sample counts as constant when
/// its values are all equal, or differ by no more than rounding error at their magnitude
/// (`crate::spread`); such a sample contributes a variance of exactly 0, so with one constant
/// sample the test is that of the other sample's mean against the constant (df = `n - 1`).
pub fn welch_t_test(x: &[f64], y: &[f64]) -> Result<WelchTest> {
    check_sample("welch_t_test: x", x, 2)?;
    check_sample("welch_t_test: y", y, 2)?;
    // Squared standard error of a sample's mean, or `None` when the sample has no spread.
    let se2_of = |v: &[f64]| {
        let ss = sum_sq_dev_unchecked(v);
        let n = v.len() as f64;
        (!is_rounding_noise(ss, v.len(), magnitude(v))).then(|| ss / (n - 1.0) / n)
    };
    let (vx, vy) = match (se2_of(x), se2_of(y)) {
        (None, None) => {
            let why = format!("{} and {}, so the standard error is 0", no_spread("x", x), no_spread("y", y));
            return Err(degenerate("welch_t_test", why));
        }
        (vx, vy) => (vx.unwrap_or(0.0), vy.unwrap_or(0.0)),
    };
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    let se2 = vx + vy;
    let mean_difference = mean_unchecked(x) - mean_unchecked(y);
    let statistic = mean_difference / se2.sqrt();
    // Welch-Satterthwaite, (vx + vy)^2 / (vx^2 / (nx - 1) + vy^2 / (ny - 1)), with the shares of
    // the variance so that no fourth power overflows.
    let (sx, sy) = (vx / se2, vy / se2);
    let df = 1.0 / (sx * sx / (nx - 1.0) + sy * sy / (ny - 1.0));
    Ok(WelchTest { statistic, df, p_value: t_two_sided(statistic, df), mean_difference })
}

/// How the Mann-Whitney p-value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MannWhitneyMethod {
    /// scipy's `method="auto"`: exact unless both samples have more than 8 values or there are
    /// ties, else asymptotic.
    Auto,
    /// The exact null distribution of U (no tie correction: ties make it inexact).
    Exact,
    /// The normal approximation with tie correction and continuity correction.
    Asymptotic,
}

/// The result of a Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitneyTest {
    /// `U` of the first sample: `R_x - n_x (n_x + 1) / 2` with `R_x` its rank sum (scipy's
    /// `statistic`).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The method actually used (never `Auto`).
    pub method: MannWhitneyMethod,
}

/// The Mann-Whitney U test, two-sided, as `scipy.stats.mannwhitneyu(x, y)` with its defaults
/// (`use_continuity=True`, `alternative="two-sided"`, `method="auto"` when `method` is
/// [`MannWhitneyMethod::Auto`]).
///
/// - Asymptotic: `U = max(U_x, U_y)`, `z = (U - n_x n_y / 2 - 0.5) / s` with
///   `s^2 = n_x n_y / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1)))` over tie groups of size `t`;
///   `p = 2 P(Z >= z)`, clipped to 1. If every value is tied, `s = 0`, `z = -0.5 / 0 = -inf` and
///   p = 1, as in scipy.
/// - Exact: `p = 2 P(U >= max(U_x, U_y))` from the null distribution, clipped to 1, computed with
///   exact integer counts (the coefficients of the Gaussian binomial `[n choose n_x]_q`). Sizes
///   with `n_x n_y >` [`MAX_EXACT_U`], or a count beyond `i128` (far past what scipy can
///   compute) are an [`StatsError::InvalidArgument`](crate::StatsError::InvalidArgument).
pub fn mann_whitney_u(x: &[f64], y: &[f64], method: MannWhitneyMethod) -> Result<MannWhitneyTest> {
    check_sample("mann_whitney_u: x", x, 1)?;
    check_sample("mann_whitney_u: y", y, 1)?;
    let (n1, n2) = (x.len(), y.len());
    let joined: Vec<f64> = x.iter().chain(y).copied().collect();
    let (ranks, ties) = ranks_and_ties(&joined);
    let rank_sum_x: f64 = ranks[..n1].iter().sum();
    let u1 = rank_sum_x - (n1 * (n1 + 1)) as f64 / 2.0;
    let u2 = (n1 * n2) as f64 - u1;
    let u = u1.max(u2);
    let has_ties = ties.iter().any(|&t| t > 1);
    let method = match method {
        MannWhitneyMethod::Auto if (n1 > 8 && n2 > 8) || has_ties => MannWhitneyMethod::Asymptotic,
        MannWhitneyMethod::Auto => MannWhitneyMethod::Exact,
        m => m,
    };
    let p = match method {
        MannWhitneyMethod::Exact => {
            // With ties U can be a half-integer; scipy's exact method truncates it to an integer.
            2.0 * mann_whitney_exact_sf(n1, n2, u as u64)?
        }
        _ => {
            let n = (n1 + n2) as f64;
            let tie_term: f64 = ties
                .iter()
                .map(|&t| {
                    let t = t as f64;
                    t * t * t - t
                })
                .sum();
            let s = ((n1 * n2) as f64 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
            if s > 0.0 {
                let z = (u - (n1 * n2) as f64 / 2.0 - 0.5) / s;
                2.0 * normal_sf(z)
            } else {
                // Every value tied: U = n1 n2 / 2 and z = -0.5 / 0 = -inf.
                1.0
            }
        }
    };
    Ok(MannWhitneyTest { statistic: u1, p_value: p.clamp(0.0, 1.0), method })
}

/// The largest `n1 n2` for which [`mann_whitney_exact_sf`] builds the distribution (160 MB).
pub const MAX_EXACT_U: usize = 10_000_000;

/// `P(U >= u)` under the null hypothesis for samples of sizes `n1` and `n2` without ties.
///
/// The number of arrangements with `U = k` is the coefficient of `q^k` in the Gaussian binomial
/// `[n1 + n2 choose m]_q = prod_{i=1..m} (1 - q^{n+i}) / (1 - q^i)` with `m = min(n1, n2)`,
/// `n = max(n1, n2)`; every factor is applied exactly in integers.
pub fn mann_whitney_exact_sf(n1: usize, n2: usize, u: u64) -> Result<f64> {
    let (m, n) = (n1.min(n2), n1.max(n2));
    let max_u = m.checked_mul(n).filter(|&k| k <= MAX_EXACT_U).ok_or_else(|| {
        invalid(
            "mann_whitney_exact_sf",
            format!("sizes {n1} x {n2} exceed {MAX_EXACT_U}; use the asymptotic method"),
        )
    })?;
    if u > max_u as u64 {
        return Ok(0.0);
    }
    let overflow = || {
        invalid(
            "mann_whitney_exact_sf",
            format!("the exact distribution for sizes {n1} and {n2} overflows; use the asymptotic method"),
        )
    };
    let mut c = vec![0_i128; max_u + 1];
    c[0] = 1;
    // Degree so far: the polynomial after step i is [n + i choose i]_q, of degree i n.
    for i in 1..=m {
        let degree = i * n;
        // Multiply by (1 - q^(n + i)), from the top so each term uses the old coefficient.
        for k in (n + i..=degree).rev() {
            c[k] = c[k].checked_sub(c[k - n - i]).ok_or_else(overflow)?;
        }
        // Divide by (1 - q^i): c_k += c_{k-i}, from the bottom (an exact division).
        for k in i..=degree {
            c[k] = c[k].checked_add(c[k - i]).ok_or_else(overflow)?;
        }
    }
    // The sums can exceed i128 where single counts do not; in f64 they lose only rounding.
    let total: f64 = c.iter().map(|&k| k as f64).sum();
    // The distribution is symmetric: P(U >= u) = P(U <= max_u - u).
    let below: f64 = c[..=max_u - u as usize].iter().map(|&k| k as f64).sum();
    Ok(below / total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatsError;

    #[test]
    fn exact_distribution_small_cases() {
        // Sizes 2 and 2: U takes 0, 1, 2, 2, 3, 4 over the 6 arrangements.
        assert_eq!(mann_whitney_exact_sf(2, 2, 4).unwrap(), 1.0 / 6.0);
        assert_eq!(mann_whitney_exact_sf(2, 2, 2).unwrap(), 4.0 / 6.0);
        assert_eq!(mann_whitney_exact_sf(2, 2, 0).unwrap(), 1.0);
        assert_eq!(mann_whitney_exact_sf(2, 2, 5).unwrap(), 0.0);
        assert_eq!(mann_whitney_exact_sf(1, 3, 3).unwrap(), 0.25);
        assert!(matches!(mann_whitney_exact_sf(1, usize::MAX, 1), Err(StatsError::InvalidArgument { .. })));
    }

    #[test]
    fn exact_agrees_with_brute_force_enumeration() {
        // All C(7, 3) splits of 0..7: count those with U >= u.
        let (n1, n2) = (3usize, 4usize);
        let mut counts = vec![0u32; n1 * n2 + 1];
        for mask in 0u32..(1 << (n1 + n2)) {
            if mask.count_ones() as usize != n1 {
                continue;
            }
            // U of the first sample = pairs (x in first, y in second) with x > y.
            let u: usize = (0..n1 + n2)
                .filter(|&a| mask & (1 << a) != 0)
                .map(|a| (0..a).filter(|&b| mask & (1 << b) == 0).count())
                .sum();
            counts[u] += 1;
        }
        let total: u32 = counts.iter().sum();
        for u in 0..=n1 * n2 {
            let ge: u32 = counts[u..].iter().sum();
            let sf = mann_whitney_exact_sf(n1, n2, u as u64).unwrap();
            assert!((sf - f64::from(ge) / f64::from(total)).abs() < 1e-15);
        }
    }

    #[test]
    fn invalid_input() {
        assert!(matches!(welch_t_test(&[1.0], &[1.0, 2.0]), Err(StatsError::TooFew { .. })));
        assert!(matches!(welch_t_test(&[1.0, 1.0], &[2.0, 2.0]), Err(StatsError::Degenerate { .. })));
        assert!(matches!(
            mann_whitney_u(&[], &[1.0], MannWhitneyMethod::Auto),
            Err(StatsError::Empty { .. })
        ));
        let tied = mann_whitney_u(&[1.0, 1.0], &[1.0; 9], MannWhitneyMethod::Auto).unwrap();
        assert_eq!((tied.statistic, tied.p_value), (9.0, 1.0));
    }
}

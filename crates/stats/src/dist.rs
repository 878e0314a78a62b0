//! Tail probabilities of the reference distributions: Student's t and F from `statrs`' regularised
//! incomplete beta function (relative error below 1e-10 over the parameters this crate meets),
//! the normal distribution from `libm`'s complementary error function.
//!
//! The arguments of the beta function are formed so that no `1 - x` cancels: a tiny p-value keeps
//! its relative accuracy (scipy computes the same quantities with cephes' `incbet`).
//!
//! Quantiles (for confidence intervals) start from `statrs`' inverses and are polished by Newton
//! steps on the tail functions above, so a quantile is as accurate as the tail it inverts: `statrs`'
//! `inv_beta_reg` alone is good to about 1e-9, short of the goldens' 1e-10.

use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::beta::beta_reg;
use statrs::function::erf::erfc_inv;
use statrs::function::gamma::ln_gamma;

/// Two-sided p-value `P(|T| >= |t|)` of Student's t with `df` degrees of freedom:
/// `I_{df / (df + t^2)}(df / 2, 1 / 2)`.
pub(crate) fn t_two_sided(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    t_two_sided_from_x(df / (df + t * t), df)
}

/// [`t_two_sided`] given `x = df / (df + t^2)` directly; for a correlation `r` with `n - 2` degrees
/// of freedom, `x = (1 - r)(1 + r)`.
pub(crate) fn t_two_sided_from_x(x: f64, df: f64) -> f64 {
    beta_reg(df / 2.0, 0.5, x.clamp(0.0, 1.0))
}

/// Upper tail `P(F >= f)` of the F distribution with `(d1, d2)` degrees of freedom:
/// `I_{d2 / (d2 + d1 f)}(d2 / 2, d1 / 2)`.
pub(crate) fn f_sf(f: f64, d1: f64, d2: f64) -> f64 {
    if f.is_infinite() {
        return 0.0;
    }
    if f <= 0.0 {
        return 1.0;
    }
    beta_reg(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f))
}

/// Upper tail `P(Z >= z)` of the standard normal distribution (`scipy.special.ndtr(-z)`).
pub(crate) fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// `P(Z <= z)` of the standard normal distribution (`scipy.special.ndtr`).
pub(crate) fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile (`scipy.special.ndtri`): `-inf` at 0, `inf` at 1.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p > 0.5 {
        // 1 - p is exact for p in [0.5, 1], and the lower tail keeps its relative accuracy.
        return -normal_quantile(1.0 - p);
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    let z = -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p);
    // One Newton step on the accurate lower tail removes what error erfc_inv leaves.
    let density = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    if density > 0.0 {
        z - (normal_cdf(z) - p) / density
    } else {
        z
    }
}

/// Density of Student's t with `df` degrees of freedom.
fn t_pdf(t: f64, df: f64) -> f64 {
    let log_c = ln_gamma((df + 1.0) / 2.0) - ln_gamma(df / 2.0) - 0.5 * (df * std::f64::consts::PI).ln();
    (log_c - (df + 1.0) / 2.0 * (t * t / df).ln_1p()).exp()
}

/// The `t > 0` with `P(|T| >= t) = tail` for Student's t with `df` degrees of freedom, i.e.
/// `scipy.stats.t.ppf(1 - tail / 2, df)`; needs `0 < tail < 1`.
pub(crate) fn t_quantile_two_sided(tail: f64, df: f64) -> f64 {
    let start = StudentsT::new(0.0, 1.0, df).map(|d| d.inverse_cdf(1.0 - tail / 2.0)).unwrap_or(f64::NAN);
    let mut t = if start.is_finite() && start > 0.0 { start } else { -normal_quantile(tail / 2.0) };
    // The two-sided tail is convex and decreasing in t, so Newton's steps converge; a step that
    // would leave t > 0 halves t instead.
    for _ in 0..100 {
        let step = (t_two_sided(t, df) - tail) / (2.0 * t_pdf(t, df));
        if !step.is_finite() {
            break;
        }
        let next = if t + step > 0.0 { t + step } else { t / 2.0 };
        let done = (next - t).abs() <= 4.0 * f64::EPSILON * t;
        t = next;
        if done {
            break;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // scipy.stats.t.sf(2.0, 10) * 2, scipy.stats.f.sf(3.0, 2, 12), scipy.stats.norm.sf(1.96)
        assert!((t_two_sided(2.0, 10.0) - 0.073388034770740).abs() < 1e-12);
        assert!((f_sf(3.0, 2.0, 12.0) - 0.087791495198903).abs() < 1e-12);
        assert!((normal_sf(1.96) - 0.024997895148220435).abs() < 1e-12, "{}", normal_sf(1.96));
        assert_eq!(t_two_sided(0.0, 5.0), 1.0);
        assert_eq!(f_sf(0.0, 2.0, 5.0), 1.0);
        assert_eq!(f_sf(f64::INFINITY, 2.0, 5.0), 0.0);
    }

    #[test]
    fn quantiles() {
        // scipy.special.ndtri(0.025), scipy.special.ndtri(1e-300), scipy.stats.t.ppf(0.975, 9),
        // scipy.stats.t.ppf(0.995, 1)
        assert!((normal_quantile(0.025) + 1.9599639845400545).abs() < 1e-15);
        assert!((normal_quantile(1e-300) / -37.0470962993612 - 1.0).abs() < 1e-14);
        assert_eq!(normal_quantile(0.5), 0.0);
        assert_eq!((normal_quantile(0.0), normal_quantile(1.0)), (f64::NEG_INFINITY, f64::INFINITY));
        assert!((t_quantile_two_sided(0.05, 9.0) / 2.262157162798205 - 1.0).abs() < 1e-13);
        assert!((t_quantile_two_sided(0.01, 1.0) / 63.656741162871526 - 1.0).abs() < 1e-13);
    }
}

//! Branch-free `exp` and `erf` for `f32`, written so that loops over slices vectorise (no calls into libm,
//! no data-dependent branches). Both are accurate to a few units in the last place; the tests compare them
//! with f64 references over their whole useful range.

/// `e^x` (Cephes `expf`: range reduction by ln 2, a degree-6 polynomial, and exponent bits).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n·C1 is exact.
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * C1 - n * C2;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `e^x` rounded to f32 from an f64 evaluation (reduction by ln 2, a degree-11 Taylor polynomial on
/// |r| ≤ ln2/2, error below 1e-13): the correctly rounded result but in rare near-ties, as libm's `expf`,
/// yet branch-free so that loops over slices vectorise. For softmax, where [`exp`]'s few ulp would show
/// through Adam's normalisation.
#[inline(always)]
pub fn exp_exact(x: f32) -> f32 {
    const LN2: f64 = std::f64::consts::LN_2;
    let x = (x as f64).clamp(-110.0, 89.0);
    let n = (x * std::f64::consts::LOG2_E).round_ties_even();
    let r = x - n * LN2;
    let mut p = 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    (p * f64::from_bits(((n as i64 + 1023) as u64) << 52)) as f32
}

/// `tanh(x) = 1 - 2 / (e^{2x} + 1)`: absolute error below 2e-7 (relative error grows near 0, where
/// callers such as `gelu_new` multiply it by a small number anyway).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// The error function, as a rational function of `x` on [-4, 4] (outside it `erf` is ±1 in f32);
/// the coefficients are those of Eigen's `generic_fast_erf_float`.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_6e-3;
    p = p * x2 + -1.609_603_3e-2;
    let mut q = -1.456_607_2e-5f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = -80.0f32;
        while x < 80.0 {
            let want = (x as f64).exp();
            worst = worst.max((exp(x) as f64 - want).abs() / want);
            x += 0.001_3;
        }
        assert!(worst < 1.2e-7, "max relative error {worst:e}");
    }

    /// Against f64's `exp` rounded to f32: equal but in rare near-ties (off by one ulp there), and exact
    /// zero and infinity-free at the ends of the range.
    #[test]
    fn exp_exact_rounds_correctly() {
        let (mut differ, mut total) = (0, 0);
        let mut x = -110.0f32;
        while x < 88.7 {
            let (got, want) = (exp_exact(x), (x as f64).exp() as f32);
            if got != want {
                differ += 1;
                assert!(
                    (got.to_bits() as i64 - want.to_bits() as i64).abs() <= 1,
                    "exp_exact({x}): {got} vs {want}"
                );
            }
            total += 1;
            x += 0.000_37;
        }
        assert!(differ * 100_000 < total, "{differ} of {total} differ");
        assert_eq!(exp_exact(-200.0), 0.0);
        assert!(exp_exact(88.7).is_finite());
    }

    #[test]
    fn tanh_is_accurate() {
        let mut x = -12.0f32;
        while x < 12.0 {
            assert!((tanh(x) as f64 - (x as f64).tanh()).abs() < 2e-7, "tanh({x})");
            x += 0.000_9;
        }
    }

    #[test]
    fn erf_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = -6.0f32;
        while x < 6.0 {
            let want = libm::erf(x as f64);
            worst = worst.max((erf(x) as f64 - want).abs());
            x += 0.000_7;
        }
        assert!(worst < 4e-7, "max absolute error {worst:e}");
    }
}

//! Counter-based random numbers: the value at index `i` of a stream is a pure function of
//! (seed, stream id, step, i). Dropout masks and initial weights therefore do not depend on the number
//! of threads or on scheduling, and a backward pass can regenerate the forward pass's mask instead of
//! storing it.
//!
//! The generator is SplitMix64 (Steele, Lea and Flood 2014) used in counter mode: the key selects the
//! starting state and the i-th output is `mix(key + (i + 1) * GAMMA)`. Its outputs pass BigCrush, which is
//! far more than dropout masks and N(0, 0.02) initialisation need.

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function (a bijective 64-bit finaliser).
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One stream of random numbers, addressed by element index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomStream {
    key: u64,
}

impl RandomStream {
    /// The stream for `(seed, stream, step)`. Different streams (e.g. one per dropout site) and different
    /// steps give unrelated sequences.
    pub fn new(seed: u64, stream: u64, step: u64) -> Self {
        let k = mix64(seed.wrapping_add(GAMMA));
        let k = mix64(k ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93).wrapping_add(GAMMA));
        let key = mix64(k ^ step.wrapping_mul(0xA076_1D64_78BD_642F).wrapping_add(GAMMA));
        RandomStream { key }
    }

    /// The 64 random bits at index `i`.
    #[inline(always)]
    pub fn bits(&self, i: u64) -> u64 {
        mix64(self.key.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
    }

    /// A uniform number in [0, 1) with 24 random bits (every value exactly representable as `f32`).
    #[inline(always)]
    pub fn uniform(&self, i: u64) -> f32 {
        (self.bits(i) >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// A standard normal number (Box-Muller on two 32-bit halves, computed in f64).
    pub fn normal(&self, i: u64) -> f32 {
        let b = self.bits(i);
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1 = ((b >> 32) as f64 + 1.0) / 4_294_967_296.0;
        let u2 = (b & 0xFFFF_FFFF) as f64 / 4_294_967_296.0;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }

    /// Fill `out` with N(mean, std^2) draws at indices 0..len.
    pub fn fill_normal(&self, out: &mut [f32], mean: f32, std: f32) {
        for (i, x) in out.iter_mut().enumerate() {
            *x = mean + std * self.normal(i as u64);
        }
    }

    /// A uniform integer in 0..n (n > 0), by the multiply-shift method (bias below 2^-32 for any n that
    /// fits in 32 bits).
    pub fn below(&self, i: u64, n: u64) -> u64 {
        (((self.bits(i) >> 32) * n) >> 32).min(n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = RandomStream::new(7, 1, 3);
        assert_eq!(a.bits(10), RandomStream::new(7, 1, 3).bits(10));
        assert_ne!(a.bits(10), RandomStream::new(7, 2, 3).bits(10));
        assert_ne!(a.bits(10), RandomStream::new(7, 1, 4).bits(10));
        assert_ne!(a.bits(10), RandomStream::new(8, 1, 3).bits(10));
    }

    #[test]
    fn uniform_and_normal_moments() {
        let s = RandomStream::new(1, 0, 0);
        let n = 200_000;
        let mean_u: f64 = (0..n).map(|i| s.uniform(i) as f64).sum::<f64>() / n as f64;
        assert!((mean_u - 0.5).abs() < 0.005, "{mean_u}");
        let xs: Vec<f64> = (0..n).map(|i| s.normal(i) as f64).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.01, "mean {m} var {v}");
    }
}

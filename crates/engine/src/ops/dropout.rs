//! Inverted dropout with counter-based masks: element `i` is kept with probability `1 - p` and then
//! scaled by `1 / (1 - p)`. The mask is a pure function of the stream and the element index, so a
//! backward pass can regenerate it instead of storing it, and any thread count draws the same mask.
//!
//! Each 64-bit draw of the stream decides two elements (element `i` uses half `i % 2` of draw `i / 2`,
//! compared as a 32-bit integer with `p · 2³²`), which halves the hashing.

use crate::par::{for_each_row, ROWS_PER_TASK};
use crate::rng::RandomStream;
use rayon::prelude::*;

/// One dropout site in one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    pub p: f32,
    pub stream: RandomStream,
    /// Elements whose 32-bit draw is below this are dropped.
    threshold: u64,
    scale: f32,
}

/// Elements per rayon task (even, so tasks start on a draw boundary).
const CHUNK: usize = 1024 * ROWS_PER_TASK;

impl Dropout {
    /// `None` when `p` is zero: callers skip the pass entirely (evaluation, or dropout switched off).
    pub fn new(p: f32, stream: RandomStream) -> Option<Self> {
        let threshold = ((p.clamp(0.0, 1.0) as f64) * 4_294_967_296.0).round() as u64;
        let scale = if p >= 1.0 { 0.0 } else { 1.0 / (1.0 - p) };
        (p > 0.0).then_some(Dropout { p, stream, threshold, scale })
    }

    #[inline(always)]
    fn keep(&self, draw: u64, half: u64) -> f32 {
        let u = (draw >> (32 * half)) & 0xFFFF_FFFF;
        // Branch-free, so that block loops vectorise.
        self.scale * ((u >= self.threshold) as u32 as f32)
    }

    /// The factor element `i` is multiplied by: 0 (dropped) or `1 / (1 - p)` (kept).
    #[inline(always)]
    pub fn factor(&self, i: u64) -> f32 {
        self.keep(self.stream.bits(i >> 1), i & 1)
    }

    /// Writes the factors of elements `first..first + out.len()` into `out`, one draw per two elements.
    pub fn factors(&self, first: u64, out: &mut [f32]) {
        let mut k = 0usize;
        if first & 1 == 1 && !out.is_empty() {
            out[0] = self.factor(first);
            k = 1;
        }
        let pairs = (out.len() - k) / 2;
        let base = (first + k as u64) >> 1;
        for (j, pair) in out[k..k + 2 * pairs].chunks_exact_mut(2).enumerate() {
            let draw = self.stream.bits(base + j as u64);
            pair[0] = self.keep(draw, 0);
            pair[1] = self.keep(draw, 1);
        }
        if k + 2 * pairs < out.len() {
            let last = out.len() - 1;
            out[last] = self.factor(first + last as u64);
        }
    }

    /// Calls `f(k, factor)` for the elements `first + k`, `k` in `0..len`, computing the factors a block
    /// at a time on the stack.
    #[inline(always)]
    pub fn for_each_factor(&self, first: u64, len: usize, mut f: impl FnMut(usize, f32)) {
        const BLOCK: usize = 256;
        let mut buf = [0.0f32; BLOCK];
        for start in (0..len).step_by(BLOCK) {
            let n = BLOCK.min(len - start);
            self.factors(first + start as u64, &mut buf[..n]);
            for (j, &factor) in buf[..n].iter().enumerate() {
                f(start + j, factor);
            }
        }
    }

    /// Multiplies `x` (which holds elements `first_index..first_index + len`) by the mask, in place.
    /// The same call on the gradient is the backward pass.
    pub fn apply(&self, x: &mut [f32], first_index: u64) {
        crate::profile::timed(crate::profile::Kind::Elementwise, || {
            x.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
                self.for_each_factor(first_index + (c * CHUNK) as u64, chunk.len(), |k, f| chunk[k] *= f);
            });
        })
    }
}

impl Dropout {
    /// Multiplies the `cols`-wide rows of `x` by the mask, row `r` holding elements
    /// `keys[r]·cols..(keys[r] + 1)·cols`: packed token rows keyed by (sequence, position), so the
    /// mask does not depend on where a row is stored. The same call on the gradient is the backward pass.
    pub fn apply_rows(&self, x: &mut [f32], cols: usize, keys: &[u64]) {
        crate::profile::timed(crate::profile::Kind::Elementwise, || {
            assert_eq!(x.len(), keys.len() * cols, "one key per row");
            for_each_row(x, cols, |r, row| {
                self.for_each_factor(keys[r] * cols as u64, cols, |k, f| row[k] *= f);
            });
        })
    }
}

/// Applies an optional dropout in place (no-op for `None`).
pub fn apply_optional(dropout: Option<&Dropout>, x: &mut [f32], first_index: u64) {
    if let Some(d) = dropout {
        d.apply(x, first_index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_iteration_agrees_with_factor() {
        let d = Dropout::new(0.5, RandomStream::new(3, 4, 5)).unwrap();
        for first in [0u64, 1, 6, 7] {
            for len in [0usize, 1, 2, 5, 8] {
                let mut seen = vec![f32::NAN; len];
                d.for_each_factor(first, len, |k, f| seen[k] = f);
                let want: Vec<f32> = (0..len).map(|k| d.factor(first + k as u64)).collect();
                assert_eq!(seen, want, "first {first} len {len}");
            }
        }
    }
}

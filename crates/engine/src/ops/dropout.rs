//! Inverted dropout with counter-based masks: element `i` is kept when `uniform(i) >= p` and then
//! scaled by `1 / (1 - p)`. The mask is a pure function of the stream and the element index, so the
//! backward pass regenerates it instead of storing it, and any thread count draws the same mask.

use crate::par::ROWS_PER_TASK;
use crate::rng::RandomStream;
use rayon::prelude::*;

/// One dropout site in one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    pub p: f32,
    pub stream: RandomStream,
}

/// Elements per rayon task.
const CHUNK: usize = 1024 * ROWS_PER_TASK;

impl Dropout {
    /// `None` when `p` is zero: callers skip the pass entirely (evaluation, or dropout switched off).
    pub fn new(p: f32, stream: RandomStream) -> Option<Self> {
        (p > 0.0).then_some(Dropout { p, stream })
    }

    /// The factor element `i` is multiplied by: 0 (dropped) or `1 / (1 - p)` (kept).
    #[inline(always)]
    pub fn factor(&self, i: u64) -> f32 {
        if self.p >= 1.0 || self.stream.uniform(i) < self.p {
            0.0
        } else {
            1.0 / (1.0 - self.p)
        }
    }

    /// Multiplies `x` (which holds elements `first_index..first_index + len`) by the mask, in place.
    /// The same call on the gradient is the backward pass.
    pub fn apply(&self, x: &mut [f32], first_index: u64) {
        x.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
            let base = first_index + (c * CHUNK) as u64;
            for (j, v) in chunk.iter_mut().enumerate() {
                *v *= self.factor(base + j as u64);
            }
        });
    }
}

/// Applies an optional dropout in place (no-op for `None`).
pub fn apply_optional(dropout: Option<&Dropout>, x: &mut [f32], first_index: u64) {
    if let Some(d) = dropout {
        d.apply(x, first_index);
    }
}

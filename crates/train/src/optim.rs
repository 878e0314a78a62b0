//! The authors' AdamW (Hugging Face transformers 2.5.1, `optimization.AdamW`) and gradient clipping.
//!
//! Per parameter, step t = 1, 2, ...:
//!     m = b1·m + (1-b1)·g ;  v = b2·v + (1-b2)·g²
//!     step = lr ;  with bias correction: step = lr·sqrt(1-b2^t)/(1-b1^t)
//!     p -= step · m / (sqrt(v) + eps)      (eps outside the correction, as in the original)
//!     p -= lr · wd · p                     (decoupled, after the update, with the scheduled lr)
//! Hyperparameters are `f64` and each per-step scalar is computed in `f64` and rounded to `f32` once,
//! as PyTorch does with the Python floats of the original, so both produce the same bits. The update is a
//! pure element-wise function of (parameters, gradients, state): the same at any thread count.

use crate::lazy_rows::LazyRows;
use rayon::prelude::*;
use stabletune_engine::lanes::{add_f64, combine_f64, LANES};
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub bias_correction: bool,
}

/// A run of parameters updated alike: whether they decay, and their learning-rate multiplier
/// (layer-wise learning-rate decay; 1 otherwise).
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub range: Range<usize>,
    pub decay: bool,
    pub lr_scale: f64,
}

/// First and second moments, and the number of updates made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdamState {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    pub step: u64,
}

impl AdamState {
    pub fn new(len: usize) -> Self {
        AdamState { m: vec![0.0; len], v: vec![0.0; len], step: 0 }
    }
}

/// Elements per rayon task.
const CHUNK: usize = 1 << 14;

/// The per-step constants of one segment's update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct StepConsts {
    pub b1: f32,
    pub b2: f32,
    pub c1: f32,
    pub c2: f32,
    pub eps: f32,
    /// The gradient factor (clipping).
    pub scale: f32,
    /// `lr · correction`, rounded once.
    pub step_size: f32,
    pub decay: bool,
    /// `-lr · weight_decay`, rounded once.
    pub shrink: f32,
}

/// The update of one element: every path (dense, and the lazy replay of skipped steps) goes through this
/// one function, so they perform the same f32 operations in the same order.
#[inline(always)]
pub(crate) fn update_element(p: &mut f32, g: f32, m: &mut f32, v: &mut f32, k: &StepConsts) {
    let g = g * k.scale;
    *m = *m * k.b1 + k.c1 * g;
    *v = *v * k.b2 + k.c2 * g * g;
    *p -= k.step_size * *m / (v.sqrt() + k.eps);
    if k.decay {
        *p += k.shrink * *p;
    }
}

impl AdamW {
    /// The bias-correction factor `sqrt(1 - b2^t) / (1 - b1^t)` at step `t` (1 when switched off).
    pub fn correction(&self, t: u64) -> f64 {
        if !self.bias_correction {
            return 1.0;
        }
        let t = t as i32;
        (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t))
    }

    /// One update with learning rate `lr` (before each segment's multiplier). Together the segments
    /// must cover `params`.
    pub fn step(
        &self,
        params: &mut [f32],
        grads: &[f32],
        state: &mut AdamState,
        lr: f64,
        segments: &[Segment],
    ) {
        self.step_scaled(params, grads, state, lr, segments, &|_| 1.0);
    }

    /// [`AdamW::step`] on the gradients multiplied by `grad_scale(segment index)`: gradient clipping folded
    /// into the update, saving a pass over the gradients. The product is rounded to f32 before use, as
    /// PyTorch's in-place clipping does, so the result is the same bits as clipping first.
    pub fn step_scaled(
        &self,
        params: &mut [f32],
        grads: &[f32],
        state: &mut AdamState,
        lr: f64,
        segments: &[Segment],
        grad_scale: &(dyn Fn(usize) -> f32 + Sync),
    ) {
        assert!(
            params.len() == grads.len() && state.m.len() == params.len() && state.v.len() == params.len()
        );
        self.step_parts(params, grads, state, lr, segments, grad_scale, &mut None);
    }

    /// The constants of segment `seg`'s update at step `t` with learning rate `lr` and gradient factor
    /// `scale`.
    pub(crate) fn consts(&self, t: u64, lr: f64, seg: &Segment, scale: f32) -> StepConsts {
        let lr = lr * seg.lr_scale;
        StepConsts {
            b1: self.beta1 as f32,
            b2: self.beta2 as f32,
            c1: (1.0 - self.beta1) as f32,
            c2: (1.0 - self.beta2) as f32,
            eps: self.eps as f32,
            scale,
            step_size: (lr * self.correction(t)) as f32,
            decay: seg.decay && self.weight_decay > 0.0,
            shrink: (-lr * self.weight_decay) as f32,
        }
    }

    /// [`AdamW::step_scaled`], leaving the segment of `lazy` (when given) to it: its rows are brought up to
    /// date when touched ([`LazyRows`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step_parts(
        &self,
        params: &mut [f32],
        grads: &[f32],
        state: &mut AdamState,
        lr: f64,
        segments: &[Segment],
        grad_scale: &(dyn Fn(usize) -> f32 + Sync),
        lazy: &mut Option<(&mut LazyRows, &[u32])>,
    ) {
        state.step += 1;
        for (index, seg) in segments.iter().enumerate() {
            let k = self.consts(state.step, lr, seg, grad_scale(index));
            if let Some((rows, touched)) = lazy.as_mut().filter(|(rows, _)| rows.segment == index) {
                rows.step(params, grads, state, k, touched);
                continue;
            }
            let r = seg.range.clone();
            params[r.clone()]
                .par_chunks_mut(CHUNK)
                .zip(grads[r.clone()].par_chunks(CHUNK))
                .zip(state.m[r.clone()].par_chunks_mut(CHUNK))
                .zip(state.v[r].par_chunks_mut(CHUNK))
                .for_each(|(((p, g), m), v)| {
                    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                        update_element(p, *g, m, v, &k);
                    }
                });
        }
    }
}

/// Adds the squares of `g`, which starts at position `at` of its chunk, into the chunk's lanes.
fn add_squares(acc: &mut [f64; LANES], at: usize, g: &[f32]) {
    add_f64(acc, at, g, &|g| g as f64 * g as f64);
}

/// The L2 norm of `grads`, summed in f64 over fixed chunks (each in interleaved lanes) combined in order:
/// reproducible at any thread count.
pub fn global_norm(grads: &[f32]) -> f64 {
    let partial: Vec<f64> = grads
        .par_chunks(CHUNK)
        .map(|c| {
            let mut acc = [0.0; LANES];
            add_squares(&mut acc, 0, c);
            combine_f64(&acc)
        })
        .collect();
    partial.iter().sum::<f64>().sqrt()
}

/// [`global_norm`] when the `width`-wide rows of `sparse` are zero except `rows` (sorted, distinct): the
/// zero rows are skipped, and the rest is added in the same chunks and order, so the result is the same
/// bits (adding +0.0 to a sum changes nothing).
pub fn global_norm_sparse(grads: &[f32], sparse: Range<usize>, width: usize, rows: &[u32]) -> f64 {
    let starts: Vec<usize> = (0..grads.len()).step_by(CHUNK).collect();
    let partial: Vec<f64> = starts
        .par_iter()
        .map(|&start| {
            let end = (start + CHUNK).min(grads.len());
            let mut acc = [0.0; LANES];
            add_squares(&mut acc, 0, &grads[start..end.min(sparse.start).max(start)]);
            if start < sparse.end && sparse.start < end {
                // The touched rows overlapping this chunk, in order.
                let first = (start.max(sparse.start) - sparse.start) / width;
                let from = rows.partition_point(|&r| (r as usize) < first);
                for &r in &rows[from..] {
                    let row = sparse.start + r as usize * width..sparse.start + (r as usize + 1) * width;
                    if row.start >= end {
                        break;
                    }
                    let from = row.start.max(start);
                    add_squares(&mut acc, from - start, &grads[from..row.end.min(end)]);
                }
            }
            let from = sparse.end.max(start).min(end);
            add_squares(&mut acc, from - start, &grads[from..end]);
            combine_f64(&acc)
        })
        .collect();
    partial.iter().sum::<f64>().sqrt()
}

/// The factor `clip_grad_norm_` scales gradients by: `max_norm / (norm + 1e-6)`, at most 1.
pub fn clip_factor(norm: f64, max_norm: f64) -> f32 {
    (max_norm / (norm + 1e-6)).min(1.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clipping as `clip_grad_norm_` does it, in place before the update: the reference for the folded
    /// clipping of [`AdamW::step_scaled`]. Returns the norm before clipping.
    fn clip_global_norm(grads: &mut [f32], max_norm: f64) -> f64 {
        let norm = global_norm(grads);
        let f = clip_factor(norm, max_norm);
        grads.iter_mut().for_each(|g| *g *= f);
        norm
    }

    /// The update rule written out in f64 for one scalar.
    fn reference(p0: f64, grads: &[f64], lr: f64, opt: &AdamW, decay: bool) -> f64 {
        let (b1, b2, eps, wd) = (opt.beta1, opt.beta2, opt.eps, opt.weight_decay);
        let (mut p, mut m, mut v) = (p0, 0.0, 0.0);
        for (t, g) in grads.iter().enumerate() {
            let t = t as i32 + 1;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let mut step = lr;
            if opt.bias_correction {
                step *= (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            }
            p -= step * m / (v.sqrt() + eps);
            if decay {
                p -= lr * wd * p;
            }
        }
        p
    }

    #[test]
    fn matches_the_update_rule() {
        for bias_correction in [false, true] {
            let opt = AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-6, weight_decay: 0.01, bias_correction };
            let grads = [0.5, -0.25, 0.125, 1.0, -2.0];
            let mut params = vec![1.0f32, 1.0, 1.0];
            let mut state = AdamState::new(3);
            let segments = [
                Segment { range: 0..1, decay: true, lr_scale: 1.0 },
                Segment { range: 1..2, decay: false, lr_scale: 1.0 },
                Segment { range: 2..3, decay: true, lr_scale: 0.5 },
            ];
            for g in grads {
                opt.step(&mut params, &[g as f32; 3], &mut state, 0.1, &segments);
            }
            let want = [
                reference(1.0, &grads, 0.1, &opt, true),
                reference(1.0, &grads, 0.1, &opt, false),
                reference(1.0, &grads, 0.05, &opt, true),
            ];
            for (p, w) in params.iter().zip(want) {
                assert!((*p as f64 - w).abs() < 1e-6, "bias_correction={bias_correction}: {p} vs {w}");
            }
        }
    }

    #[test]
    fn folded_clipping_is_bit_identical() {
        let opt = AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-6, weight_decay: 0.01, bias_correction: true };
        let seg = [Segment { range: 0..4, decay: true, lr_scale: 1.0 }];
        let grads = vec![3.0f32, -4.0, 0.7, 12.5];
        let (mut a, mut b) = (vec![0.3f32, -0.1, 0.9, 0.0], vec![0.3f32, -0.1, 0.9, 0.0]);
        let (mut sa, mut sb) = (AdamState::new(4), AdamState::new(4));
        let mut clipped = grads.clone();
        let norm = clip_global_norm(&mut clipped, 1.0);
        opt.step(&mut a, &clipped, &mut sa, 1e-3, &seg);
        let f = clip_factor(norm, 1.0);
        opt.step_scaled(&mut b, &grads, &mut sb, 1e-3, &seg, &|_| f);
        assert_eq!((a, sa), (b, sb));
    }

    #[test]
    fn clipping() {
        let mut g = vec![3.0f32, 4.0];
        let norm = clip_global_norm(&mut g, 1.0);
        assert!((norm - 5.0).abs() < 1e-12);
        assert!((global_norm(&g) - 1.0).abs() < 1e-5);
        let mut small = vec![0.3f32, 0.4];
        clip_global_norm(&mut small, 1.0);
        assert_eq!(small, vec![0.3, 0.4]);
        assert_eq!(clip_factor(0.5, 1.0), 1.0);
        assert!((clip_factor(4.0, 1.0) - 0.25).abs() < 1e-6);
    }
}

//! The authors' AdamW (Hugging Face transformers 2.5.1, `optimization.AdamW`) and gradient clipping.
//!
//! Per parameter, step t = 1, 2, ...:
//!     m = b1·m + (1-b1)·g ;  v = b2·v + (1-b2)·g²
//!     step = lr ;  with bias correction: step = lr·sqrt(1-b2^t)/(1-b1^t)
//!     p -= step · m / (sqrt(v) + eps)      (eps outside the correction, as in the original)
//!     p -= lr · wd · p                     (decoupled, after the update, with the scheduled lr)
//! Written as a pure function of (parameters, gradients, state), element-wise, so it is the same at any
//! thread count.

use rayon::prelude::*;
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub bias_correction: bool,
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

impl AdamW {
    /// The bias-correction factor `sqrt(1 - b2^t) / (1 - b1^t)` at step `t` (1 when switched off).
    pub fn correction(&self, t: u64) -> f64 {
        if !self.bias_correction {
            return 1.0;
        }
        let t = t as i32;
        (1.0 - (self.beta2 as f64).powi(t)).sqrt() / (1.0 - (self.beta1 as f64).powi(t))
    }

    /// One update with learning rate `lr`. `segments` lists the parameter ranges and whether each gets
    /// weight decay (biases and LayerNorm parameters do not); together they must cover `params`.
    pub fn step(
        &self,
        params: &mut [f32],
        grads: &[f32],
        state: &mut AdamState,
        lr: f32,
        segments: &[(Range<usize>, bool)],
    ) {
        assert!(
            params.len() == grads.len() && state.m.len() == params.len() && state.v.len() == params.len()
        );
        state.step += 1;
        let step_size = (lr as f64 * self.correction(state.step)) as f32;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        for (range, decay) in segments {
            let decay = *decay && self.weight_decay > 0.0;
            let shrink = lr * self.weight_decay;
            params[range.clone()]
                .par_chunks_mut(CHUNK)
                .zip(grads[range.clone()].par_chunks(CHUNK))
                .zip(state.m[range.clone()].par_chunks_mut(CHUNK))
                .zip(state.v[range.clone()].par_chunks_mut(CHUNK))
                .for_each(|(((p, g), m), v)| {
                    for i in 0..p.len() {
                        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                        p[i] -= step_size * m[i] / (v[i].sqrt() + eps);
                        if decay {
                            p[i] -= shrink * p[i];
                        }
                    }
                });
        }
    }
}

/// The global L2 norm of `grads`, summed in f64 over fixed chunks combined in order (reproducible).
pub fn global_norm(grads: &[f32]) -> f64 {
    let partial: Vec<f64> =
        grads.par_chunks(CHUNK).map(|c| c.iter().map(|&g| g as f64 * g as f64).sum::<f64>()).collect();
    partial.iter().sum::<f64>().sqrt()
}

/// Scales `grads` so that their global norm is at most `max_norm` (as `clip_grad_norm_`: factor
/// `max_norm / (norm + 1e-6)` when below 1). Returns the norm before clipping.
pub fn clip_global_norm(grads: &mut [f32], max_norm: f64) -> f64 {
    let norm = global_norm(grads);
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        let f = factor as f32;
        grads.par_chunks_mut(CHUNK).for_each(|c| c.iter_mut().for_each(|g| *g *= f));
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The update rule written out in f64 for one scalar.
    fn reference(p0: f64, grads: &[f64], lr: f64, opt: &AdamW, decay: bool) -> f64 {
        let (b1, b2, eps, wd) = (opt.beta1 as f64, opt.beta2 as f64, opt.eps as f64, opt.weight_decay as f64);
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
            let mut params = vec![1.0f32, 1.0];
            let mut state = AdamState::new(2);
            for g in grads {
                opt.step(&mut params, &[g as f32, g as f32], &mut state, 0.1, &[(0..1, true), (1..2, false)]);
            }
            let want = [reference(1.0, &grads, 0.1, &opt, true), reference(1.0, &grads, 0.1, &opt, false)];
            for (p, w) in params.iter().zip(want) {
                assert!((*p as f64 - w).abs() < 1e-6, "bias_correction={bias_correction}: {p} vs {w}");
            }
        }
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
    }
}

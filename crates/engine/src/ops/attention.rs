//! Multi-head self-attention over packed sequences: `softmax(Q·Kᵀ/√d) · V` per (sequence, head).
//!
//! Q, K and V are read in place from the fused projection `qkv[tokens, 3·hidden]` (columns Q | K | V, head
//! `h` at columns `h·d..(h+1)·d` of each block), so no head is ever copied out. The tokens are packed
//! ([`Packing`]): sequence `b` owns its own rows, and attends over exactly those, so there is no padding
//! to mask and no work spent on it. The (sequence, head) pairs run in parallel, each writing its own
//! columns of its own rows of the outputs.
//!
//! Saved probabilities are laid out sequence by sequence, head by head: `[heads, len_b, len_b]` blocks.

use super::dropout::Dropout;
use crate::fastmath;
use crate::lanes::{max_f32, sum_f32};
use crate::matmul::{gemm_raw, gemm_view, Par, View};
use crate::packing::{Packing, MAX_POSITIONS};
use crate::par::SendPtr;
use rayon::prelude::*;

/// The heads of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    pub heads: usize,
    pub head_dim: usize,
}

/// One (sequence, head) pair: its rows and where its probabilities sit.
#[derive(Clone, Copy, Debug)]
struct Job {
    seq: usize,
    head: usize,
    first_row: usize,
    len: usize,
    probs_at: usize,
}

impl AttentionShape {
    pub fn hidden(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Length of the saved attention probabilities: `heads · Σ_b len_b²`.
    pub fn probs_len(&self, packing: &Packing) -> usize {
        self.heads * packing.squares()
    }

    fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }

    fn jobs(&self, packing: &Packing) -> Vec<Job> {
        let mut jobs = Vec::with_capacity(packing.sequences() * self.heads);
        let mut probs_at = 0;
        for seq in 0..packing.sequences() {
            let (first_row, len) = (packing.rows(seq).start, packing.len_of(seq));
            for head in 0..self.heads {
                jobs.push(Job { seq, head, first_row, len, probs_at });
                probs_at += len * len;
            }
        }
        jobs
    }

    /// Views of one job's Q, K and V inside `qkv`, and of its rows of the context.
    fn views(&self, job: &Job) -> (View, View, View, View) {
        let (hid, d) = (self.hidden(), self.head_dim);
        let base = job.first_row * 3 * hid + job.head * d;
        (
            View::row_major(base, job.len, d, 3 * hid),
            View::row_major(base + hid, job.len, d, 3 * hid),
            View::row_major(base + 2 * hid, job.len, d, 3 * hid),
            View::row_major(job.first_row * hid + job.head * d, job.len, d, hid),
        )
    }

    fn check(&self, packing: &Packing, qkv: &[f32], probs: &[f32]) {
        assert_eq!(qkv.len(), packing.tokens() * 3 * self.hidden());
        assert_eq!(probs.len(), self.probs_len(packing));
    }
}

/// The random key of the score of query `i` and key `j` of head `h` in sequence `b`: it names the
/// element, not where the element is stored.
fn score_key(heads: usize, job: &Job, i: usize) -> u64 {
    (((job.seq * heads + job.head) as u64) * MAX_POSITIONS + i as u64) * MAX_POSITIONS
}

/// Cuts `buf` into one slice per job, in job order.
fn per_job<'a>(mut buf: &'a mut [f32], jobs: &[Job]) -> Vec<&'a mut [f32]> {
    jobs.iter()
        .map(|j| {
            let (mine, rest) = std::mem::take(&mut buf).split_at_mut(j.len * j.len);
            buf = rest;
            mine
        })
        .collect()
}

/// Writes the attention probabilities into `probs` and the context into `ctx[tokens, hidden]`. With
/// dropout, the probabilities after dropout go to `dropped` (same length as `probs`), which the backward
/// pass then reads instead of regenerating the mask; without dropout `dropped` may be empty.
pub fn attention_forward(
    shape: AttentionShape,
    packing: &Packing,
    qkv: &[f32],
    probs: &mut [f32],
    dropped: &mut [f32],
    ctx: &mut [f32],
    dropout: Option<&Dropout>,
) {
    crate::profile::timed(crate::profile::Kind::Attention, || {
        shape.check(packing, qkv, probs);
        assert_eq!(ctx.len(), packing.tokens() * shape.hidden());
        assert!(
            dropout.is_none() || dropped.len() == probs.len(),
            "dropout needs a buffer for dropped probabilities"
        );
        let jobs = shape.jobs(packing);
        let ctx_ptr = SendPtr(ctx.as_mut_ptr());
        let job_fn = |job: &Job, p: &mut [f32], pd: Option<&mut [f32]>| {
            let len = job.len;
            let (q, k, v, out) = shape.views(job);
            let scores = View::dense(len, len);
            gemm_view(p, scores, qkv, q, qkv, k.t(), shape.scale(), false, Par::Serial);
            p.chunks_mut(len).for_each(softmax_in_place);
            let weights: &[f32] = match (dropout, pd) {
                (Some(dr), Some(pd)) => {
                    for (i, (prow, pdrow)) in p.chunks(len).zip(pd.chunks_mut(len)).enumerate() {
                        dr.for_each_factor(score_key(shape.heads, job, i), len, |j, f| {
                            pdrow[j] = prow[j] * f
                        });
                    }
                    pd
                }
                _ => p,
            };
            // SAFETY: this job alone writes the columns of its head in the rows of its sequence.
            unsafe { gemm_raw(ctx_ptr.get(), out, weights, scores, qkv, v, 1.0, false, Par::Serial) };
        };
        let p_slices = per_job(probs, &jobs);
        match dropout {
            Some(_) => {
                let pd_slices = per_job(dropped, &jobs);
                jobs.par_iter()
                    .zip(p_slices)
                    .zip(pd_slices)
                    .for_each(|((job, p), pd)| job_fn(job, p, Some(pd)));
            }
            None => jobs.par_iter().zip(p_slices).for_each(|(job, p)| job_fn(job, p, None)),
        }
    })
}

/// Softmax over one row, vectorised: lane-wise max and sum, and an `exp` rounded as libm's (the engine's
/// fastest `exp` is a few ulp off, which Adam without bias correction turns into visible differences).
fn softmax_in_place(row: &mut [f32]) {
    let max = max_f32(row);
    row.iter_mut().for_each(|v| *v = fastmath::exp_exact(*v - max));
    let inv = 1.0 / sum_f32(row, |_, v| v);
    row.iter_mut().for_each(|v| *v *= inv);
}

/// Backward of [`attention_forward`]: writes `dqkv[tokens, 3·hidden]` (overwriting it) from `dctx`.
/// `dropped` is the forward pass's `dropped` buffer when it ran with dropout, else empty.
///
/// With `Pd` the probabilities after dropout, the softmax backward needs no mask:
/// `dS = Pd ⊙ dPd − P · Σⱼ (Pd ⊙ dPd)`, because `P ⊙ dP = Pd ⊙ dPd` element by element.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    shape: AttentionShape,
    packing: &Packing,
    qkv: &[f32],
    probs: &[f32],
    dropped: &[f32],
    dctx: &[f32],
    dqkv: &mut [f32],
) {
    crate::profile::timed(crate::profile::Kind::Attention, || {
        shape.check(packing, qkv, probs);
        assert!(dropped.is_empty() || dropped.len() == probs.len());
        assert_eq!(dqkv.len(), qkv.len());
        assert_eq!(dctx.len(), packing.tokens() * shape.hidden());
        let jobs = shape.jobs(packing);
        let max_len = packing.max_len();
        let dqkv_ptr = SendPtr(dqkv.as_mut_ptr());
        jobs.par_iter().for_each_init(
            || vec![0.0f32; max_len * max_len],
            |scratch, job| {
                let len = job.len;
                let block = job.probs_at..job.probs_at + len * len;
                let p = &probs[block.clone()];
                let pd = if dropped.is_empty() { p } else { &dropped[block] };
                let dp = &mut scratch[..len * len];
                let (q, k, v, dout) = shape.views(job);
                let scores = View::dense(len, len);
                // SAFETY (all writes below): this job alone writes the Q, K and V columns of its head in the
                // rows of its sequence, and `dqkv` is a different buffer from every input.
                // dV = Pdᵀ · dctx.
                unsafe { gemm_raw(dqkv_ptr.get(), v, pd, scores.t(), dctx, dout, 1.0, false, Par::Serial) };
                // dPd = dctx · Vᵀ, then the softmax backward.
                gemm_view(dp, scores, dctx, dout, qkv, v.t(), 1.0, false, Par::Serial);
                for ((prow, pdrow), grow) in p.chunks(len).zip(pd.chunks(len)).zip(dp.chunks_mut(len)) {
                    let dot = sum_f32(pdrow, |j, a| a * grow[j]);
                    for ((g, pv), pdv) in grow.iter_mut().zip(prow).zip(pdrow) {
                        *g = *pdv * *g - *pv * dot;
                    }
                }
                let scale = shape.scale();
                unsafe {
                    gemm_raw(dqkv_ptr.get(), q, dp, scores, qkv, k, scale, false, Par::Serial);
                    gemm_raw(dqkv_ptr.get(), k, dp, scores.t(), qkv, q, scale, false, Par::Serial);
                }
            },
        );
    })
}

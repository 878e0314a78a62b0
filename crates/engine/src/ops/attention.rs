//! Multi-head self-attention with a padding mask: `softmax(Q·Kᵀ/√d) · V` per (sequence, head).
//!
//! Q, K and V are read in place from the fused projection `qkv[tokens, 3·hidden]` (columns Q | K | V, head
//! `h` at columns `h·d..(h+1)·d` of each block), so no head is ever copied out. Sequences are right-padded:
//! sequence `b` has `lens[b]` real tokens, and padded keys get exactly zero weight (they are left out of
//! the products altogether, which also saves their work). Padded queries are computed like real ones, as
//! in Hugging Face, so hidden states match at every position. The (sequence, head) pairs run in parallel,
//! each writing its own columns of the outputs.

use super::dropout::Dropout;
use crate::matmul::{gemm_raw, gemm_view, Par, View};
use crate::par::SendPtr;
use rayon::prelude::*;

/// The geometry of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    pub batch: usize,
    pub seq: usize,
    pub heads: usize,
    pub head_dim: usize,
}

impl AttentionShape {
    pub fn hidden(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Length of the saved attention probabilities, `[batch, heads, seq, seq]`.
    pub fn probs_len(&self) -> usize {
        self.batch * self.heads * self.seq * self.seq
    }

    fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }

    /// Views of head `h` of sequence `b` inside `qkv`: (Q for all positions, K and V for real tokens).
    fn qkv_views(&self, b: usize, h: usize, len: usize) -> (View, View, View) {
        let (s, hid, d) = (self.seq, self.hidden(), self.head_dim);
        let base = b * s * 3 * hid + h * d;
        (
            View::row_major(base, s, d, 3 * hid),
            View::row_major(base + hid, len, d, 3 * hid),
            View::row_major(base + 2 * hid, len, d, 3 * hid),
        )
    }

    fn check(&self, qkv: &[f32], lens: &[usize], probs: &[f32]) {
        assert_eq!(qkv.len(), self.batch * self.seq * 3 * self.hidden());
        assert_eq!(lens.len(), self.batch);
        assert!(lens.iter().all(|&l| l >= 1 && l <= self.seq), "sequence lengths must be in 1..=seq");
        assert_eq!(probs.len(), self.probs_len());
    }
}

/// Writes the attention probabilities into `probs` and the context into `ctx[tokens, hidden]`. With
/// dropout, the probabilities after dropout go to `dropped` (same length as `probs`), which the backward
/// pass then reads instead of regenerating the mask; without dropout `dropped` may be empty.
pub fn attention_forward(
    shape: AttentionShape,
    qkv: &[f32],
    lens: &[usize],
    probs: &mut [f32],
    dropped: &mut [f32],
    ctx: &mut [f32],
    dropout: Option<&Dropout>,
) {
    shape.check(qkv, lens, probs);
    assert_eq!(ctx.len(), shape.batch * shape.seq * shape.hidden());
    assert!(
        dropout.is_none() || dropped.len() == probs.len(),
        "dropout needs a buffer for dropped probabilities"
    );
    let (s, hid, d) = (shape.seq, shape.hidden(), shape.head_dim);
    let ctx_ptr = SendPtr(ctx.as_mut_ptr());
    let job = |job: usize, p: &mut [f32], pd: Option<&mut [f32]>| {
        let (b, h) = (job / shape.heads, job % shape.heads);
        let len = lens[b];
        let (q, k, v) = shape.qkv_views(b, h, len);
        let scores = View::row_major(0, s, len, s);
        gemm_view(p, scores, qkv, q, qkv, k.t(), shape.scale(), false, Par::Serial);
        for row in p.chunks_mut(s) {
            softmax_in_place(&mut row[..len]);
            row[len..].fill(0.0);
        }
        let weights: &[f32] = match (dropout, pd) {
            (Some(dr), Some(pd)) => {
                dr.for_each_factor((job * s * s) as u64, s * s, |i, f| pd[i] = p[i] * f);
                pd
            }
            _ => p,
        };
        let out = View::row_major(b * s * hid + h * d, s, d, hid);
        // SAFETY: this job alone writes the columns of head `h` in the rows of sequence `b`.
        unsafe { gemm_raw(ctx_ptr.get(), out, weights, scores, qkv, v, 1.0, false, Par::Serial) };
    };
    match dropout {
        Some(_) => probs
            .par_chunks_mut(s * s)
            .zip(dropped.par_chunks_mut(s * s))
            .enumerate()
            .for_each(|(i, (p, pd))| job(i, p, Some(pd))),
        None => probs.par_chunks_mut(s * s).enumerate().for_each(|(i, p)| job(i, p, None)),
    }
}

fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// Backward of [`attention_forward`]: writes `dqkv[tokens, 3·hidden]` (overwriting it) from `dctx`.
/// `dropped` is the forward pass's `dropped` buffer when it ran with dropout, else empty.
///
/// With `Pd` the probabilities after dropout, the softmax backward needs no mask:
/// `dS = Pd ⊙ dPd − P · Σⱼ (Pd ⊙ dPd)`, because `P ⊙ dP = Pd ⊙ dPd` element by element.
pub fn attention_backward(
    shape: AttentionShape,
    qkv: &[f32],
    lens: &[usize],
    probs: &[f32],
    dropped: &[f32],
    dctx: &[f32],
    dqkv: &mut [f32],
) {
    shape.check(qkv, lens, probs);
    assert!(dropped.is_empty() || dropped.len() == probs.len());
    assert_eq!(dqkv.len(), qkv.len());
    assert_eq!(dctx.len(), shape.batch * shape.seq * shape.hidden());
    let (s, hid, d) = (shape.seq, shape.hidden(), shape.head_dim);
    let dqkv_ptr = SendPtr(dqkv.as_mut_ptr());
    (0..shape.batch * shape.heads).into_par_iter().for_each_init(
        || vec![0.0f32; s * s],
        |dp, job| {
            let (b, h) = (job / shape.heads, job % shape.heads);
            let len = lens[b];
            let p = &probs[job * s * s..(job + 1) * s * s];
            let pd = if dropped.is_empty() { p } else { &dropped[job * s * s..(job + 1) * s * s] };
            let (q, k, v) = shape.qkv_views(b, h, len);
            let scores = View::row_major(0, s, len, s);
            let dout = View::row_major(b * s * hid + h * d, s, d, hid);
            // SAFETY (all writes below): this job alone writes the Q, K and V columns of head `h` in the
            // rows of sequence `b`, and `dqkv` is a different buffer from every input.
            unsafe {
                // dV = Pdᵀ · dctx, for the real keys; padded keys get zero.
                gemm_raw(dqkv_ptr.get(), v, pd, scores.t(), dctx, dout, 1.0, false, Par::Serial);
                zero_rows(dqkv_ptr, v.offset, len..s, d, 3 * hid);
                zero_rows(dqkv_ptr, k.offset, len..s, d, 3 * hid);
            }
            // dPd = dctx · Vᵀ, then the softmax backward.
            gemm_view(dp, scores, dctx, dout, qkv, v.t(), 1.0, false, Par::Serial);
            for i in 0..s {
                let (prow, pdrow) = (&p[i * s..i * s + len], &pd[i * s..i * s + len]);
                let grow = &mut dp[i * s..i * s + len];
                let dot: f32 = pdrow.iter().zip(grow.iter()).map(|(a, b)| a * b).sum();
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
}

/// Zeroes `cols` elements at `offset + r·ld` for each row `r` in `rows`.
///
/// # Safety
/// The caller must own those elements exclusively.
unsafe fn zero_rows(ptr: SendPtr, offset: usize, rows: std::ops::Range<usize>, cols: usize, ld: usize) {
    for r in rows {
        std::ptr::write_bytes(ptr.get().add(offset + r * ld), 0, cols);
    }
}

//! AdamW on the word embeddings, row by row as tokens appear: exact, and a fraction of the memory traffic.
//!
//! A batch of 16 short sentences touches a few hundred of the vocabulary's rows; every other row has a
//! gradient of exactly zero. The dense update still streams the whole table, both moments and the
//! gradient every step (half of MiniLM's parameters). But a zero-gradient step is known in advance: it
//! depends only on that step's constants (learning rate, bias correction, decay), which are recorded. So a
//! row's skipped steps are replayed when a batch next names it, before the forward pass reads it
//! (`catch_up`), and every row is brought up to date (`flush`) before anything else reads the weights or
//! moments (an evaluation, a checkpoint, the end): each row is loaded once for k steps instead of k times.
//!
//! The replay runs the same [`update_element`] the dense path runs, with the same zero gradient and the
//! same constants, so the result is the dense update's, bit for bit (tested in `tests/lazy_rows.rs`).

use crate::optim::{update_element, AdamState, StepConsts};
use rayon::prelude::*;
use std::ops::Range;

pub struct LazyRows {
    /// The optimizer segment (one tensor) updated lazily.
    pub segment: usize,
    range: Range<usize>,
    width: usize,
    /// The last step applied to each row.
    done: Vec<u64>,
    /// Every row is up to date at step `base`; `history[i]` holds the constants of step `base + 1 + i`.
    base: u64,
    history: Vec<StepConsts>,
    /// Rows touched by the current step (scratch).
    touched: Vec<bool>,
}

impl LazyRows {
    /// Lazy updates for the `width`-wide rows of `range`, segment `segment`, with every row up to date at
    /// optimizer step `step`.
    pub fn new(segment: usize, range: Range<usize>, width: usize, step: u64) -> LazyRows {
        let rows = range.len() / width;
        assert_eq!(rows * width, range.len(), "the lazy tensor must be whole rows");
        LazyRows {
            segment,
            range,
            width,
            done: vec![step; rows],
            base: step,
            history: Vec::new(),
            touched: vec![false; rows],
        }
    }

    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether some row still waits for a step.
    pub fn pending(&self) -> bool {
        !self.history.is_empty()
    }

    /// Brings the rows `rows` (sorted, distinct token ids) up to date with the optimizer's step, before a
    /// forward pass reads them.
    pub fn catch_up(&mut self, params: &mut [f32], state: &mut AdamState, rows: &[u32]) {
        let t = state.step;
        if self.history.is_empty() {
            return;
        }
        for &r in rows {
            self.touched[r as usize] = true;
        }
        let touched = std::mem::take(&mut self.touched);
        self.run(params, None, state, t, |r, done| touched[r] && done < t);
        self.touched = touched;
        for &r in rows {
            self.touched[r as usize] = false;
        }
    }

    /// Step `state.step` (already counted) with constants `k`: the rows in `rows` (sorted, distinct
    /// token ids, caught up before the forward pass) take this step's gradient; the others only record it.
    pub(crate) fn step(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        state: &mut AdamState,
        k: StepConsts,
        rows: &[u32],
    ) {
        let t = state.step;
        assert_eq!(self.base + self.history.len() as u64 + 1, t, "lazy rows out of step with the optimizer");
        self.history.push(k);
        for &r in rows {
            self.touched[r as usize] = true;
        }
        let touched = std::mem::take(&mut self.touched);
        self.run(params, Some(grads), state, t, |r, _| touched[r]);
        self.touched = touched;
        for &r in rows {
            self.touched[r as usize] = false;
        }
    }

    /// Brings every row up to date with the optimizer's step.
    pub fn flush(&mut self, params: &mut [f32], state: &mut AdamState) {
        let t = state.step;
        if self.history.is_empty() {
            return;
        }
        self.run(params, None, state, t, |_, done| done < t);
        self.base = t;
        self.history.clear();
    }

    /// For every row `r` with `select(r, done[r])`: replays its skipped steps up to `t - 1` (or `t`
    /// without `grads`) with a zero gradient, then step `t` with its gradient.
    fn run(
        &mut self,
        params: &mut [f32],
        grads: Option<&[f32]>,
        state: &mut AdamState,
        t: u64,
        select: impl Fn(usize, u64) -> bool + Sync,
    ) {
        let (r, w, base, history) = (self.range.clone(), self.width, self.base, &self.history);
        let g_rows = grads.map(|g| &g[r.clone()]);
        params[r.clone()]
            .par_chunks_mut(w)
            .zip(state.m[r.clone()].par_chunks_mut(w))
            .zip(state.v[r].par_chunks_mut(w))
            .zip(self.done.par_iter_mut())
            .enumerate()
            .for_each(|(row, (((p, m), v), done))| {
                if !select(row, *done) {
                    return;
                }
                let replay_to = if g_rows.is_some() { t - 1 } else { t };
                let skipped = &history[(*done - base) as usize..(replay_to - base) as usize];
                for k in skipped {
                    let k = *k;
                    for ((p, m), v) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()) {
                        update_element(p, 0.0, m, v, &k);
                    }
                }
                if let Some(g) = g_rows {
                    let (g, k) = (&g[row * w..(row + 1) * w], history[(t - base - 1) as usize]);
                    for (((p, m), v), g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                        update_element(p, *g, m, v, &k);
                    }
                }
                *done = t;
            });
    }
}

//! Fully connected layers in Hugging Face's layout: `y = x · Wᵀ + b` with `W` stored `[out, in]`.

use crate::matmul::matmul;
use crate::par::{add_column_sums, for_each_row};
use rayon::prelude::*;
use std::cell::RefCell;

thread_local! {
    /// Scratch for `Wᵀ`-shaped weight gradients, reused across calls (no allocation per step).
    static TRANSPOSED_GRAD: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Side of the square tiles of the transposed add (64 × 64 floats: 16 KiB, well inside L1 + L2).
const TILE: usize = 64;

/// `dst[o, i] += src[i, o]` for `dst` of `outputs × inputs`, tile by tile, rows of tiles in parallel.
fn add_transposed(dst: &mut [f32], src: &[f32], outputs: usize, inputs: usize) {
    dst.par_chunks_mut(TILE * inputs).enumerate().for_each(|(block, rows)| {
        let o0 = block * TILE;
        let n_rows = rows.len() / inputs;
        for i0 in (0..inputs).step_by(TILE) {
            for i in i0..(i0 + TILE).min(inputs) {
                let from = &src[i * outputs + o0..i * outputs + o0 + n_rows];
                for (r, v) in from.iter().enumerate() {
                    rows[r * inputs + i] += *v;
                }
            }
        }
    });
}

/// `y[rows × out] = x[rows × in] · Wᵀ (+ b)`.
pub fn linear_forward(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], inputs: usize, outputs: usize) {
    crate::profile::timed(crate::profile::Kind::MatMul, || {
        let rows = x.len() / inputs;
        assert!(w.len() == inputs * outputs && y.len() == rows * outputs);
        match b {
            Some(b) => {
                // Start from the broadcast bias and accumulate the product onto it: one pass over `y`.
                for_each_row(y, outputs, |_, row| row.copy_from_slice(b));
                matmul(y, x, w, rows, inputs, outputs, false, true, true);
            }
            None => matmul(y, x, w, rows, inputs, outputs, false, true, false),
        }
    })
}

/// Backward of [`linear_forward`]: `dW += dyᵀ·x`, `db += Σ dy`, and `dx (+)= dy·W` when `dx` is given.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    accumulate_dx: bool,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
    inputs: usize,
    outputs: usize,
) {
    crate::profile::timed(crate::profile::Kind::MatMul, || {
        let rows = x.len() / inputs;
        assert!(dy.len() == rows * outputs && dw.len() == w.len());
        // gemm runs the long-k product dyᵀ·x markedly faster (up to 25% here) with the smaller dimension
        // first: when outputs > inputs, compute dWᵀ = xᵀ·dy and add it back transposed.
        if outputs > inputs {
            TRANSPOSED_GRAD.with_borrow_mut(|tmp| {
                tmp.resize(outputs * inputs, 0.0);
                matmul(tmp, x, dy, inputs, rows, outputs, true, false, false);
                add_transposed(dw, tmp, outputs, inputs);
            });
        } else {
            matmul(dw, dy, x, outputs, rows, inputs, true, false, true);
        }
        if let Some(db) = db {
            add_column_sums(db, dy, outputs);
        }
        if let Some(dx) = dx {
            matmul(dx, dy, w, rows, outputs, inputs, false, false, accumulate_dx);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_add() {
        let (outputs, inputs) = (130, 70);
        let src: Vec<f32> = (0..outputs * inputs).map(|v| v as f32).collect();
        let mut dst = vec![1.0; outputs * inputs];
        add_transposed(&mut dst, &src, outputs, inputs);
        for o in 0..outputs {
            for i in 0..inputs {
                assert_eq!(dst[o * inputs + i], 1.0 + src[i * outputs + o]);
            }
        }
    }
}

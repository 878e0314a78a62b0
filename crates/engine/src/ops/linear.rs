//! Fully connected layers in Hugging Face's layout: `y = x · Wᵀ + b` with `W` stored `[out, in]`.

use crate::matmul::matmul;
use crate::par::{add_column_sums, for_each_row};

/// `y[rows × out] = x[rows × in] · Wᵀ (+ b)`.
pub fn linear_forward(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], inputs: usize, outputs: usize) {
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
    let rows = x.len() / inputs;
    assert!(dy.len() == rows * outputs && dw.len() == w.len());
    matmul(dw, dy, x, outputs, rows, inputs, true, false, true);
    if let Some(db) = db {
        add_column_sums(db, dy, outputs);
    }
    if let Some(dx) = dx {
        matmul(dx, dy, w, rows, outputs, inputs, false, false, accumulate_dx);
    }
}

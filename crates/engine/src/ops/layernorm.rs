//! Layer normalisation over the last dimension, and the fused "bias, dropout, residual add" that comes
//! before every LayerNorm of a post-LN encoder.

use super::dropout::Dropout;
use crate::lanes::{sum_f32, sum_f64};
use crate::par::{for_each_row, for_each_row_pair};
use rayon::prelude::*;

/// Columns handled by one task when reducing parameter gradients over rows.
const COLS_PER_TASK: usize = 32;

/// `y = (x - mean) / sqrt(var + eps) · gamma + beta` per row; saves `mean` and `rstd` (1 / std) per row.
pub fn layernorm_forward(
    x: &[f32],
    y: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        let cols = gamma.len();
        let rows = x.len() / cols;
        assert!(y.len() == x.len() && mean.len() == rows && rstd.len() == rows);
        for_each_row_pair(mean, rstd, 1, |r, m, s| {
            let row = &x[r * cols..(r + 1) * cols];
            // Two passes in f64: the variance of activations with a large mean loses digits otherwise.
            let mu = sum_f64(row, |v| v as f64) / cols as f64;
            let var = sum_f64(row, |v| (v as f64 - mu) * (v as f64 - mu)) / cols as f64;
            m[0] = mu as f32;
            s[0] = (1.0 / (var + eps as f64).sqrt()) as f32;
        });
        for_each_row(y, cols, |r, out| {
            let (mu, rs) = (mean[r], rstd[r]);
            let row = &x[r * cols..(r + 1) * cols];
            for (((o, v), g), b) in out.iter_mut().zip(row).zip(gamma).zip(beta) {
                *o = (*v - mu) * rs * *g + *b;
            }
        });
    })
}

/// Backward of [`layernorm_forward`]: `dx (+)= ...`, `dgamma += Σ dy·x̂`, `dbeta += Σ dy`.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward(
    x: &[f32],
    mean: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    accumulate_dx: bool,
) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        let cols = gamma.len();
        let rows = x.len() / cols;
        assert!(dy.len() == x.len() && dx.len() == x.len());
        for_each_row(dx, cols, |r, out| {
            let (mu, rs) = (mean[r], rstd[r]);
            let xr = &x[r * cols..(r + 1) * cols];
            let gr = &dy[r * cols..(r + 1) * cols];
            let sum_g = sum_f32(gr, |j, d| d * gamma[j]);
            let sum_gx = sum_f32(xr, |j, v| gr[j] * gamma[j] * ((v - mu) * rs));
            let (mean_g, mean_gx) = (sum_g / cols as f32, sum_gx / cols as f32);
            for (((o, v), d), g) in out.iter_mut().zip(xr).zip(gr).zip(gamma) {
                let xhat = (*v - mu) * rs;
                let val = rs * (*d * *g - mean_g - xhat * mean_gx);
                *o = if accumulate_dx { *o + val } else { val };
            }
        });
        // Parameter gradients: blocks of columns in parallel, rows summed in order (deterministic).
        dgamma.par_chunks_mut(COLS_PER_TASK).zip(dbeta.par_chunks_mut(COLS_PER_TASK)).enumerate().for_each(
            |(block, (dg, db))| {
                let c0 = block * COLS_PER_TASK;
                for r in 0..rows {
                    let (mu, rs) = (mean[r], rstd[r]);
                    let base = r * cols + c0;
                    for j in 0..dg.len() {
                        let d = dy[base + j];
                        dg[j] += d * (x[base + j] - mu) * rs;
                        db[j] += d;
                    }
                }
            },
        );
    })
}

/// `a = dropout(a + bias) + residual`, in place: the sum that feeds a post-LN LayerNorm. Row `r` draws
/// its mask from key `keys[r]` (see [`Dropout::apply_rows`]).
pub fn bias_dropout_residual(
    a: &mut [f32],
    bias: &[f32],
    residual: &[f32],
    dropout: Option<&Dropout>,
    keys: &[u64],
) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        let cols = bias.len();
        assert_eq!(a.len(), residual.len());
        assert!(dropout.is_none() || a.len() == keys.len() * cols, "one key per row");
        for_each_row(a, cols, |r, row| {
            let res = &residual[r * cols..(r + 1) * cols];
            match dropout {
                Some(d) => {
                    let first = keys[r] * cols as u64;
                    d.for_each_factor(first, cols, |j, f| row[j] = (row[j] + bias[j]) * f + res[j])
                }
                None => row.iter_mut().zip(bias).zip(res).for_each(|((v, b), s)| *v = *v + *b + *s),
            }
        });
    })
}

/// Backward of [`bias_dropout_residual`] for the branch: `da = dropout(ds)` and `dbias += Σ_rows da`.
/// (The residual's gradient is `ds` itself; the caller adds it where the residual came from.)
pub fn bias_dropout_backward(
    ds: &[f32],
    da: &mut [f32],
    dbias: &mut [f32],
    dropout: Option<&Dropout>,
    keys: &[u64],
) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        da.copy_from_slice(ds);
        if let Some(d) = dropout {
            d.apply_rows(da, dbias.len(), keys);
        }
        crate::par::add_column_sums(dbias, da, dbias.len());
    })
}

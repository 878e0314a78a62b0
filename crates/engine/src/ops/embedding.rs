//! Embedding lookup (a row gather) and its backward pass (a scatter-add into the table's gradient).

use crate::par::for_each_row;

/// `out[t] (+)= table[ids[t]]` for every token `t`; `table` is `[vocab, dim]`.
///
/// Panics on an id outside the table: models validate ids against their vocabulary first and report
/// a proper error.
pub fn gather_rows(out: &mut [f32], table: &[f32], ids: &[u32], dim: usize, accumulate: bool) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        assert_eq!(out.len(), ids.len() * dim);
        let vocab = table.len() / dim;
        for_each_row(out, dim, |t, row| {
            let id = ids[t] as usize;
            assert!(id < vocab, "embedding id {id} outside a table of {vocab} rows");
            let src = &table[id * dim..(id + 1) * dim];
            if accumulate {
                row.iter_mut().zip(src).for_each(|(o, s)| *o += *s);
            } else {
                row.copy_from_slice(src);
            }
        });
    })
}

/// `dtable[ids[t]] += dout[t]`. Sequential in token order, so repeated ids always add up in the same
/// order (the table gradient is bit-for-bit reproducible); this is a small fraction of a step.
pub fn scatter_add_rows(dtable: &mut [f32], dout: &[f32], ids: &[u32], dim: usize) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        assert_eq!(dout.len(), ids.len() * dim);
        for (t, &id) in ids.iter().enumerate() {
            let id = id as usize;
            let dst = &mut dtable[id * dim..(id + 1) * dim];
            dst.iter_mut().zip(&dout[t * dim..(t + 1) * dim]).for_each(|(d, g)| *d += *g);
        }
    })
}

//! Threading helpers that keep results independent of the thread count.

use rayon::prelude::*;

/// Rows handed to one rayon task by row-parallel kernels. Fixed, so that work splits the same way
/// whatever the pool size (results never depend on the split, but this keeps task counts predictable).
pub const ROWS_PER_TASK: usize = 16;

/// Columns summed by one task in [`add_column_sums`].
const COLS_PER_TASK: usize = 64;

/// A rayon pool with `threads` workers (0 means one per core).
pub fn thread_pool(threads: usize) -> rayon::ThreadPool {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if threads > 0 {
        builder = builder.num_threads(threads);
    }
    builder.build().expect("failed to start the rayon thread pool")
}

/// A raw pointer that may cross threads; users guarantee that concurrent writes are disjoint.
#[derive(Clone, Copy)]
pub struct SendPtr(pub *mut f32);
// SAFETY: the pointer is only dereferenced by kernels that write disjoint elements from each thread.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer. (A method, so closures capture the whole `SendPtr`, not its non-`Send` field.)
    #[inline(always)]
    pub fn get(self) -> *mut f32 {
        self.0
    }
}

/// `dst[c] += Σ_r src[r, c]` over a `rows × cols` row-major matrix.
///
/// Parallel over blocks of columns, each block summing its rows in order: the same additions in the
/// same order at any thread count, so the result is bit-for-bit reproducible.
pub fn add_column_sums(dst: &mut [f32], src: &[f32], cols: usize) {
    assert_eq!(dst.len(), cols);
    assert_eq!(src.len() % cols.max(1), 0);
    let rows = src.len().checked_div(cols).unwrap_or(0);
    dst.par_chunks_mut(COLS_PER_TASK).enumerate().for_each(|(block, out)| {
        let c0 = block * COLS_PER_TASK;
        for r in 0..rows {
            let row = &src[r * cols + c0..r * cols + c0 + out.len()];
            for (o, x) in out.iter_mut().zip(row) {
                *o += *x;
            }
        }
    });
}

/// Runs `f(row_index, row)` over every `cols`-wide row of `buf`, in parallel.
pub fn for_each_row(buf: &mut [f32], cols: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if cols == 0 {
        return;
    }
    buf.par_chunks_mut(cols * ROWS_PER_TASK).enumerate().for_each(|(task, block)| {
        for (i, row) in block.chunks_mut(cols).enumerate() {
            f(task * ROWS_PER_TASK + i, row);
        }
    });
}

/// Runs `f(row_index, a_row, b_row)` over matching `cols`-wide rows of two buffers, in parallel.
pub fn for_each_row_pair(
    a: &mut [f32],
    b: &mut [f32],
    cols: usize,
    f: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) {
    assert_eq!(a.len(), b.len());
    if cols == 0 {
        return;
    }
    let n = cols * ROWS_PER_TASK;
    a.par_chunks_mut(n).zip(b.par_chunks_mut(n)).enumerate().for_each(|(task, (ba, bb))| {
        for (i, (ra, rb)) in ba.chunks_mut(cols).zip(bb.chunks_mut(cols)).enumerate() {
            f(task * ROWS_PER_TASK + i, ra, rb);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_sums_add_up() {
        let cols = 70;
        let src: Vec<f32> = (0..cols * 5).map(|i| i as f32).collect();
        let mut dst = vec![1.0; cols];
        add_column_sums(&mut dst, &src, cols);
        for (c, got) in dst.iter().enumerate() {
            let want: f32 = 1.0 + (0..5).map(|r| (r * cols + c) as f32).sum::<f32>();
            assert_eq!(*got, want);
        }
    }
}

//! Matrix products through the `gemm` crate, over strided views of flat `f32` buffers.
//!
//! Weights follow Hugging Face's `nn.Linear` layout, `[out, in]` row-major, so a linear layer is
//! `y = x · Wᵀ`; views with swapped strides express every transpose without copying. Attention reads
//! Q, K and V in place out of the fused `[tokens, 3·hidden]` projection the same way.

use gemm::Parallelism;

/// Products smaller than this many multiply-adds run on one thread: splitting them costs more than it saves.
const PARALLEL_MIN_MACS: usize = 1 << 18;

/// Where a matrix lives inside a flat buffer: element (r, c) is at `offset + r·rs + c·cs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl View {
    /// A row-major matrix with leading dimension `ld` (the distance between rows) starting at `offset`.
    pub fn row_major(offset: usize, rows: usize, cols: usize, ld: usize) -> Self {
        View { offset, rows, cols, rs: ld, cs: 1 }
    }

    /// A dense row-major matrix at the start of a buffer.
    pub fn dense(rows: usize, cols: usize) -> Self {
        Self::row_major(0, rows, cols, cols)
    }

    /// The transpose of this view (no data moves).
    pub fn t(self) -> Self {
        View { offset: self.offset, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    /// One past the largest index the view touches (0 for an empty view).
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            self.offset + (self.rows - 1) * self.rs + (self.cols - 1) * self.cs + 1
        }
    }
}

/// Whether a product may use the threads of the current rayon pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Par {
    /// Use the current pool when the product is large enough to gain from it.
    Auto,
    /// Stay on the calling thread (used inside already-parallel loops such as attention heads).
    Serial,
}

fn parallelism(par: Par, macs: usize) -> Parallelism {
    match par {
        Par::Auto if macs >= PARALLEL_MIN_MACS && rayon::current_num_threads() > 1 => {
            Parallelism::Rayon(rayon::current_num_threads())
        }
        _ => Parallelism::None,
    }
}

fn check_shapes(cv: &View, av: &View, bv: &View) {
    assert!(
        av.rows == cv.rows && bv.cols == cv.cols && av.cols == bv.rows,
        "matmul shape mismatch: [{}x{}] = [{}x{}] . [{}x{}]",
        cv.rows,
        cv.cols,
        av.rows,
        av.cols,
        bv.rows,
        bv.cols
    );
}

/// `C = alpha·A·B` (or `C += alpha·A·B` when `accumulate`), over views of three buffers.
///
/// Panics if the shapes disagree or a view reaches past its buffer: both are programming errors in the
/// engine, never a consequence of user input.
#[allow(clippy::too_many_arguments)]
pub fn gemm_view(
    c: &mut [f32],
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    alpha: f32,
    accumulate: bool,
    par: Par,
) {
    assert!(cv.extent() <= c.len(), "matmul output view reaches past its buffer");
    // SAFETY: the output view lies inside `c` (gemm_raw checks the shapes and the input views), and `c`
    // is borrowed mutably, so it aliases neither `a` nor `b`.
    unsafe { gemm_raw(c.as_mut_ptr(), cv, a, av, b, bv, alpha, accumulate, par) }
}

/// As [`gemm_view`], writing through a raw pointer, for threads that write disjoint strided parts of one
/// buffer (attention heads interleave their columns).
///
/// # Safety
/// `c` must be valid for writes over every element of `cv`, no other thread may touch those elements
/// during the call, and they must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_raw(
    c: *mut f32,
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    alpha: f32,
    accumulate: bool,
    par: Par,
) {
    check_shapes(&cv, &av, &bv);
    assert!(av.extent() <= a.len() && bv.extent() <= b.len());
    let (m, n, k) = (cv.rows, cv.cols, av.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for col in 0..n {
                    *c.add(cv.offset + r * cv.rs + col * cv.cs) = 0.0;
                }
            }
        }
        return;
    }
    gemm::gemm(
        m,
        n,
        k,
        c.add(cv.offset),
        cv.cs as isize,
        cv.rs as isize,
        accumulate,
        a.as_ptr().add(av.offset),
        av.cs as isize,
        av.rs as isize,
        b.as_ptr().add(bv.offset),
        bv.cs as isize,
        bv.rs as isize,
        1.0,
        alpha,
        false,
        false,
        false,
        parallelism(par, m * n * k),
    );
}

/// `C[m×n] = op(A)·op(B)` (or `+=`) for dense row-major buffers, where `op(A)` is `A[m×k]`, or `Aᵀ` of a
/// stored `A[k×m]` when `trans_a`; likewise `op(B)` is `B[k×n]`, or `Bᵀ` of a stored `B[n×k]`.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
    trans_b: bool,
    accumulate: bool,
) {
    let av = if trans_a { View::dense(k, m).t() } else { View::dense(m, k) };
    let bv = if trans_b { View::dense(n, k).t() } else { View::dense(k, n) };
    gemm_view(c, View::dense(m, n), a, av, b, bv, 1.0, accumulate, Par::Auto);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RandomStream;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let x = if ta { a[p * m + i] } else { a[i * k + p] };
                    let y = if tb { b[j * k + p] } else { b[p * n + j] };
                    s += x as f64 * y as f64;
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut v = vec![0.0; len];
        RandomStream::new(seed, 0, 0).fill_normal(&mut v, 0.0, 1.0);
        v
    }

    #[test]
    fn all_transposes_match_naive() {
        let (m, k, n) = (7, 13, 5);
        for ta in [false, true] {
            for tb in [false, true] {
                let a = random(m * k, 1);
                let b = random(k * n, 2);
                let mut c = random(m * n, 3);
                let before = c.clone();
                matmul(&mut c, &a, &b, m, k, n, ta, tb, true);
                let want = naive(&a, &b, m, k, n, ta, tb);
                for i in 0..m * n {
                    assert!((c[i] - before[i] - want[i]).abs() < 1e-4);
                }
                matmul(&mut c, &a, &b, m, k, n, ta, tb, false);
                for i in 0..m * n {
                    assert!((c[i] - want[i]).abs() < 1e-4);
                }
            }
        }
    }

    #[test]
    fn same_bits_at_any_thread_count() {
        let (m, k, n) = (300, 200, 250);
        let a = random(m * k, 4);
        let b = random(k * n, 5);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut c = vec![0.0; m * n];
                matmul(&mut c, &a, &b, m, k, n, false, true, false);
                matmul(&mut c, &a, &b, m, k, n, false, true, true);
                c
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
        assert_eq!(one, run(4));
    }
}

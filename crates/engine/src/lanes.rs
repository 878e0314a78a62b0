//! Reductions that vectorise and stay deterministic: element `i` of a slice goes to accumulator
//! `i % LANES`, and the accumulators are combined in a fixed order at the end. A plain `fold` is a chain
//! of dependent additions (one per 4 cycles, whatever the vector width); eight independent chains run as
//! one vector instruction. The order of additions is fixed by the slice alone, so results never depend
//! on threads or timing.

/// Accumulators per reduction (one AVX-512 register of f64, two AVX2 registers).
pub const LANES: usize = 8;

/// `Σ f(x_i)` in f64, in [`LANES`] interleaved partial sums.
#[inline(always)]
pub fn sum_f64(x: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    add_f64(&mut acc, 0, x, &f);
    combine_f64(&acc)
}

/// Adds `f(x_j)` into `acc[(start + j) % LANES]`: a reduction continued over pieces of one slice (the
/// element at position `start + j` of the whole lands in the same lane as it would in one pass).
#[inline(always)]
pub fn add_f64(acc: &mut [f64; LANES], start: usize, x: &[f32], f: &impl Fn(f32) -> f64) {
    let head = ((LANES - start % LANES) % LANES).min(x.len());
    for (j, &v) in x[..head].iter().enumerate() {
        acc[(start + j) % LANES] += f(v);
    }
    let rest = &x[head..];
    let mut blocks = rest.chunks_exact(LANES);
    for block in &mut blocks {
        for l in 0..LANES {
            acc[l] += f(block[l]);
        }
    }
    for (l, &v) in blocks.remainder().iter().enumerate() {
        acc[l] += f(v);
    }
}

/// The lanes' total, added in a fixed order.
#[inline(always)]
pub fn combine_f64(acc: &[f64; LANES]) -> f64 {
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// `Σ f(i, x_i)` in f32, in [`LANES`] interleaved partial sums.
#[inline(always)]
pub fn sum_f32(x: &[f32], f: impl Fn(usize, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut blocks = x.chunks_exact(LANES);
    for (b, block) in (&mut blocks).enumerate() {
        for l in 0..LANES {
            acc[l] += f(b * LANES + l, block[l]);
        }
    }
    let base = x.len() - blocks.remainder().len();
    for (l, &v) in blocks.remainder().iter().enumerate() {
        acc[l] += f(base + l, v);
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// The largest element (`-inf` for an empty slice), in [`LANES`] interleaved maxima.
#[inline(always)]
pub fn max_f32(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut blocks = x.chunks_exact(LANES);
    for block in &mut blocks {
        for l in 0..LANES {
            acc[l] = acc[l].max(block[l]);
        }
    }
    for (l, &v) in blocks.remainder().iter().enumerate() {
        acc[l] = acc[l].max(v);
    }
    acc.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_agree_with_exact_sums() {
        for n in [0usize, 1, 7, 8, 9, 100, 1001] {
            let x: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 8.0).collect();
            let exact: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
            assert_eq!(
                sum_f64(&x, |v| v as f64 * v as f64),
                exact,
                "n={n}: small integers over 64 sum exactly"
            );
            let exact32: f64 = x.iter().map(|&v| v as f64).sum();
            assert_eq!(sum_f32(&x, |_, v| v) as f64, exact32, "n={n}");
            assert_eq!(max_f32(&x), x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)));
        }
    }

    /// Continuing a reduction over pieces puts every element in the lane one pass would.
    #[test]
    fn pieces_land_in_the_same_lanes() {
        let x: Vec<f32> = (0..203).map(|i| (i as f32 * 0.37).sin()).collect();
        let whole = sum_f64(&x, |v| v as f64 * 1.1);
        for cuts in [[0, 3, 203], [5, 64, 203], [13, 14, 203]] {
            let mut acc = [0.0; LANES];
            let mut start = 0;
            for end in cuts {
                add_f64(&mut acc, start, &x[start..end], &|v| v as f64 * 1.1);
                start = end;
            }
            assert_eq!(combine_f64(&acc), whole, "cuts {cuts:?}");
        }
    }
}

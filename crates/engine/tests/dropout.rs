//! Dropout masks: reproducible at any thread count and keeping the right fraction.

use stabletune_engine::ops::attention::{attention_backward, attention_forward};
use stabletune_engine::ops::{AttentionShape, Dropout};
use stabletune_engine::par::thread_pool;
use stabletune_engine::{Packing, RandomStream};

#[test]
fn same_mask_at_1_2_and_4_threads() {
    let drop = Dropout::new(0.1, RandomStream::new(42, 7, 3)).unwrap();
    let run = |threads| {
        thread_pool(threads).install(|| {
            let mut x = vec![1.0f32; 1 << 20];
            drop.apply(&mut x, 0);
            x
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(4));
    // A different seed gives a different mask.
    let other = Dropout::new(0.1, RandomStream::new(43, 7, 3)).unwrap();
    let mut y = vec![1.0f32; 1 << 20];
    other.apply(&mut y, 0);
    assert_ne!(one, y);
}

#[test]
fn kept_fraction_is_one_minus_p() {
    for p in [0.1f32, 0.5, 0.9] {
        let drop = Dropout::new(p, RandomStream::new(1, 0, 0)).unwrap();
        let mut x = vec![1.0f32; 4_000_000];
        drop.apply(&mut x, 0);
        let kept = x.iter().filter(|&&v| v != 0.0).count() as f64 / x.len() as f64;
        assert!((kept - (1.0 - p as f64)).abs() < 0.01 * (1.0 - p as f64), "p={p}: kept {kept}");
        // Kept elements are scaled by 1/(1-p), so the expectation is preserved.
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "p={p}: mean {mean}");
    }
}

#[test]
fn attention_is_bit_identical_across_thread_counts() {
    let shape = AttentionShape { heads: 4, head_dim: 8 };
    let packing = Packing::from_lens([17, 9, 1]);
    let tokens = packing.tokens();
    let mut qkv = vec![0.0; tokens * 3 * shape.hidden()];
    RandomStream::new(5, 0, 0).fill_normal(&mut qkv, 0.0, 1.0);
    let mut dctx = vec![0.0; tokens * shape.hidden()];
    RandomStream::new(6, 0, 0).fill_normal(&mut dctx, 0.0, 1.0);
    let drop = Dropout::new(0.1, RandomStream::new(7, 1, 2));
    let run = |threads| {
        thread_pool(threads).install(|| {
            let n = shape.probs_len(&packing);
            let (mut probs, mut ctx) = (vec![0.0; n], vec![0.0; tokens * shape.hidden()]);
            let mut dropped = vec![0.0; n];
            attention_forward(shape, &packing, &qkv, &mut probs, &mut dropped, &mut ctx, drop.as_ref());
            let mut dqkv = vec![0.0; qkv.len()];
            attention_backward(shape, &packing, &qkv, &probs, &dropped, &dctx, &mut dqkv);
            (ctx, dqkv)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(4));
}

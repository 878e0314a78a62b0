//! Finite-difference checks of every op's backward pass.
//!
//! Each op is reduced to a scalar `L = Σ out ⊙ R` with a fixed random `R`, so the analytic gradient is the
//! op's backward applied to `dout = R`. Central differences in f32 with a step of 1e-2 agree with it to
//! about 1e-3 relative; the checks allow 2e-2 relative on the gradient vector's norm and per element
//! 2e-2 relative plus a small absolute floor.

use stabletune_engine::ops::activation::{act_backward, act_forward, bias_act_backward, bias_act_forward};
use stabletune_engine::ops::attention::{attention_backward, attention_forward};
use stabletune_engine::ops::embedding::{gather_rows, scatter_add_rows};
use stabletune_engine::ops::layernorm::{
    bias_dropout_backward, bias_dropout_residual, layernorm_backward, layernorm_forward,
};
use stabletune_engine::ops::linear::{linear_backward, linear_forward};
use stabletune_engine::ops::loss::{mean_squared_error, softmax_cross_entropy};
use stabletune_engine::ops::{Activation, AttentionShape, Dropout};
use stabletune_engine::Packing;
use stabletune_engine::RandomStream;

fn randn(len: usize, seed: u64, std: f32) -> Vec<f32> {
    let mut v = vec![0.0; len];
    RandomStream::new(seed, 99, 0).fill_normal(&mut v, 0.0, std);
    v
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// Compares `analytic` with central differences of `loss` at `x`.
fn check(name: &str, x: &[f32], analytic: &[f32], loss: impl Fn(&[f32]) -> f64) {
    assert_eq!(x.len(), analytic.len(), "{name}: gradient length");
    let h = 1e-2f32;
    let mut numeric = vec![0.0f64; x.len()];
    let mut xp = x.to_vec();
    for i in 0..x.len() {
        let orig = xp[i];
        xp[i] = orig + h;
        let up = loss(&xp);
        xp[i] = orig - h;
        let down = loss(&xp);
        xp[i] = orig;
        numeric[i] = (up - down) / (2.0 * h as f64);
    }
    let norm: f64 = numeric.iter().map(|v| v * v).sum::<f64>().sqrt();
    let err: f64 = numeric.iter().zip(analytic).map(|(n, a)| (n - *a as f64).powi(2)).sum::<f64>().sqrt();
    assert!(norm > 1e-6, "{name}: gradient is zero, the check would prove nothing");
    assert!(err <= 2e-2 * norm, "{name}: |numeric - analytic| = {err:e}, |numeric| = {norm:e}");
    for (i, (n, a)) in numeric.iter().zip(analytic).enumerate() {
        assert!(
            (n - *a as f64).abs() <= 2e-2 * n.abs() + 2e-3 * norm / (x.len() as f64).sqrt() + 1e-4,
            "{name}[{i}]: numeric {n:e} analytic {a:e}"
        );
    }
}

#[test]
fn linear() {
    // Both orientations of the weight gradient: outputs < inputs and outputs > inputs.
    linear_case(5, 7, 4);
    linear_case(5, 4, 9);
}

fn linear_case(rows: usize, inp: usize, out: usize) {
    let (x, w, b, r) =
        (randn(rows * inp, 1, 1.0), randn(out * inp, 2, 1.0), randn(out, 3, 1.0), randn(rows * out, 4, 1.0));
    let f = |x: &[f32], w: &[f32], b: &[f32]| {
        let mut y = vec![0.0; rows * out];
        linear_forward(x, w, Some(b), &mut y, inp, out);
        dot(&y, &r)
    };
    let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; b.len()]);
    linear_backward(&x, &w, &r, Some(&mut dx), false, &mut dw, Some(&mut db), inp, out);
    check("linear dx", &x, &dx, |v| f(v, &w, &b));
    check("linear dw", &w, &dw, |v| f(&x, v, &b));
    check("linear db", &b, &db, |v| f(&x, &w, v));
}

#[test]
fn bias_and_activations() {
    let (rows, cols) = (4, 6);
    let x = randn(rows * cols, 5, 1.5);
    let bias = randn(cols, 6, 0.5);
    let r = randn(rows * cols, 7, 1.0);
    for act in [Activation::Gelu, Activation::GeluNew, Activation::Tanh, Activation::Relu] {
        let f = |x: &[f32], b: &[f32]| {
            let (mut pre, mut out) = (x.to_vec(), vec![0.0; x.len()]);
            bias_act_forward(&mut pre, &mut out, b, act, false);
            dot(&out, &r)
        };
        let (mut kept, mut out) = (x.clone(), vec![0.0; x.len()]);
        bias_act_forward(&mut kept, &mut out, &bias, act, true);
        let (mut dpre, mut dbias) = (vec![0.0; x.len()], vec![0.0; cols]);
        bias_act_backward(&kept, &r, &mut dpre, &mut dbias);
        check(&format!("{act:?} dx"), &x, &dpre, |v| f(v, &bias));
        check(&format!("{act:?} dbias"), &bias, &dbias, |v| f(&x, v));

        let g = |x: &[f32]| {
            let mut out = vec![0.0; x.len()];
            act_forward(x, &mut out, act);
            dot(&out, &r)
        };
        let mut dx = vec![0.0; x.len()];
        act_backward(&x, &r, &mut dx, act, false);
        check(&format!("{act:?} plain"), &x, &dx, g);
    }
}

#[test]
fn layernorm() {
    let (rows, cols) = (3, 8);
    let x = randn(rows * cols, 8, 2.0).iter().map(|v| v + 3.0).collect::<Vec<_>>();
    let gamma = randn(cols, 9, 0.5).iter().map(|v| v + 1.0).collect::<Vec<_>>();
    let beta = randn(cols, 10, 0.5);
    let r = randn(rows * cols, 11, 1.0);
    let f = |x: &[f32], g: &[f32], b: &[f32]| {
        let (mut y, mut m, mut s) = (vec![0.0; x.len()], vec![0.0; rows], vec![0.0; rows]);
        layernorm_forward(x, &mut y, &mut m, &mut s, g, b, 1e-5);
        dot(&y, &r)
    };
    let (mut y, mut m, mut s) = (vec![0.0; x.len()], vec![0.0; rows], vec![0.0; rows]);
    layernorm_forward(&x, &mut y, &mut m, &mut s, &gamma, &beta, 1e-5);
    let (mut dx, mut dg, mut db) = (vec![0.0; x.len()], vec![0.0; cols], vec![0.0; cols]);
    layernorm_backward(&x, &m, &s, &gamma, &r, &mut dx, &mut dg, &mut db, false);
    check("layernorm dx", &x, &dx, |v| f(v, &gamma, &beta));
    check("layernorm dgamma", &gamma, &dg, |v| f(&x, v, &beta));
    check("layernorm dbeta", &beta, &db, |v| f(&x, &gamma, v));
}

#[test]
fn bias_dropout_residual_branch() {
    let (rows, cols) = (4, 5);
    let (a, bias, res, r) = (
        randn(rows * cols, 12, 1.0),
        randn(cols, 13, 1.0),
        randn(rows * cols, 14, 1.0),
        randn(rows * cols, 15, 1.0),
    );
    let drop = Dropout::new(0.3, RandomStream::new(1, 2, 3));
    let keys = Packing::from_lens([3, 1]).row_keys().to_vec();
    let f = |a: &[f32], b: &[f32], s: &[f32]| {
        let mut out = a.to_vec();
        bias_dropout_residual(&mut out, b, s, drop.as_ref(), &keys);
        dot(&out, &r)
    };
    let (mut da, mut db) = (vec![0.0; a.len()], vec![0.0; cols]);
    bias_dropout_backward(&r, &mut da, &mut db, drop.as_ref(), &keys);
    check("branch da", &a, &da, |v| f(v, &bias, &res));
    check("branch dbias", &bias, &db, |v| f(&a, v, &res));
    check("branch dresidual", &res, &r, |v| f(&a, &bias, v));
}

#[test]
fn embedding() {
    let (vocab, dim) = (6, 4);
    let table = randn(vocab * dim, 16, 1.0);
    let ids = [3u32, 1, 3, 5, 0];
    let r = randn(ids.len() * dim, 17, 1.0);
    let f = |t: &[f32]| {
        let mut out = vec![0.0; ids.len() * dim];
        gather_rows(&mut out, t, &ids, dim, false);
        dot(&out, &r)
    };
    let mut dt = vec![0.0; table.len()];
    scatter_add_rows(&mut dt, &r, &ids, dim);
    check("embedding", &table, &dt, f);
}

fn attention_case(dropout: Option<Dropout>) {
    let shape = AttentionShape { heads: 2, head_dim: 3 };
    let packing = Packing::from_lens([5, 3, 1]);
    let tokens = packing.tokens();
    let probs_len = shape.probs_len(&packing);
    let qkv = randn(tokens * 3 * shape.hidden(), 18, 1.0);
    let r = randn(tokens * shape.hidden(), 19, 1.0);
    let f = |qkv: &[f32]| {
        let (mut probs, mut ctx) = (vec![0.0; probs_len], vec![0.0; tokens * shape.hidden()]);
        let mut dropped = vec![0.0; probs_len];
        attention_forward(shape, &packing, qkv, &mut probs, &mut dropped, &mut ctx, dropout.as_ref());
        dot(&ctx, &r)
    };
    let (mut probs, mut ctx) = (vec![0.0; probs_len], vec![0.0; tokens * shape.hidden()]);
    let mut dropped = vec![0.0; if dropout.is_some() { probs_len } else { 0 }];
    attention_forward(shape, &packing, &qkv, &mut probs, &mut dropped, &mut ctx, dropout.as_ref());
    let mut dqkv = vec![f32::NAN; qkv.len()];
    attention_backward(shape, &packing, &qkv, &probs, &dropped, &r, &mut dqkv);
    check("attention dqkv", &qkv, &dqkv, f);
    // Each (sequence, head) block holds len x len probabilities whose rows sum to one.
    let mut at = 0;
    for len in packing.lens() {
        for _ in 0..shape.heads {
            for row in probs[at..at + len * len].chunks(len) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            }
            at += len * len;
        }
    }
    assert_eq!(at, probs.len());
}

/// A sequence attends over itself alone: packed with others or on its own, its context is the same, and
/// with dropout its mask is the same too (keys name the sequence and the position, not the row).
#[test]
fn a_sequence_is_independent_of_its_batch_mates() {
    let shape = AttentionShape { heads: 2, head_dim: 4 };
    let (lens, hid) = ([4usize, 7, 2], shape.hidden());
    let packing = Packing::from_lens(lens);
    let qkv = randn(packing.tokens() * 3 * hid, 30, 1.0);
    let drop = Dropout::new(0.2, RandomStream::new(1, 1, 1));
    let run = |packing: &Packing, qkv: &[f32]| {
        let n = shape.probs_len(packing);
        let (mut probs, mut dropped) = (vec![0.0; n], vec![0.0; n]);
        let mut ctx = vec![0.0; packing.tokens() * hid];
        attention_forward(shape, packing, qkv, &mut probs, &mut dropped, &mut ctx, drop.as_ref());
        ctx
    };
    let together = run(&packing, &qkv);
    // Sequence 0 alone is keyed as sequence 0 of a batch of one.
    let rows = packing.rows(0);
    let alone = run(&Packing::from_lens([lens[0]]), &qkv[rows.start * 3 * hid..rows.end * 3 * hid]);
    assert_eq!(alone, together[rows.start * hid..rows.end * hid]);
}

#[test]
fn attention_without_dropout() {
    attention_case(None);
}

#[test]
fn attention_with_dropout() {
    attention_case(Dropout::new(0.25, RandomStream::new(4, 5, 6)));
}

#[test]
fn cross_entropy_and_mse() {
    let (rows, classes) = (4, 3);
    let logits = randn(rows * classes, 20, 2.0);
    let labels = [2i64, -100, 0, 1];
    let f = |l: &[f32]| {
        let mut g = vec![0.0; l.len()];
        softmax_cross_entropy(l, &labels, classes, &mut g) as f64
    };
    let mut g = vec![0.0; logits.len()];
    let loss = softmax_cross_entropy(&logits, &labels, classes, &mut g);
    assert!(g[classes..2 * classes].iter().all(|&v| v == 0.0), "ignored row has gradient");
    check("cross-entropy", &logits, &g, f);
    // Against a direct computation.
    let manual: f64 = [(0usize, 2usize), (2, 0), (3, 1)]
        .iter()
        .map(|&(r, c)| {
            let row = &logits[r * classes..(r + 1) * classes];
            let z: f64 = row.iter().map(|&v| (v as f64).exp()).sum();
            z.ln() - row[c] as f64
        })
        .sum::<f64>()
        / 3.0;
    assert!((loss as f64 - manual).abs() < 1e-6);

    let (pred, target) = (randn(5, 21, 1.0), randn(5, 22, 1.0));
    let mut d = vec![0.0; 5];
    mean_squared_error(&pred, &target, &mut d);
    check("mse", &pred, &d, |p| {
        let mut g = vec![0.0; 5];
        mean_squared_error(p, &target, &mut g) as f64
    });
}

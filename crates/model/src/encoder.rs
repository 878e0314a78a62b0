//! The post-LayerNorm transformer encoder shared by BERT, RoBERTa and ALBERT: embeddings, then layers of
//! self-attention and feed-forward, each followed by a residual add and LayerNorm. Forward and backward are
//! written out explicitly over the engine's kernels; there is no autograd graph.

use crate::batch::{fit, Batch, LayerCache, Mode, Site, Workspace};
use crate::config::{Architecture, EncoderConfig};
use crate::layout::{Layer, Layout, Linear, Norm};
use stabletune_engine::ops::activation::{bias_act_backward, bias_act_forward};
use stabletune_engine::ops::attention::{attention_backward, attention_forward};
use stabletune_engine::ops::embedding::{gather_rows, scatter_add_rows};
use stabletune_engine::ops::layernorm::{
    bias_dropout_backward, bias_dropout_residual, layernorm_backward, layernorm_forward,
};
use stabletune_engine::ops::linear::{linear_backward, linear_forward};
use stabletune_engine::ops::{AttentionShape, Dropout};
use std::ops::Range;

/// The parameters a pass reads: every tensor from `values`, except the linear layers' weight matrices,
/// which come from `linear`. That is `values` too, but for a training pass under Mixout, when it holds
/// the step's mixed matrices (same layout, see `Model::mixed`).
#[derive(Clone, Copy)]
pub(crate) struct Weights<'a> {
    pub values: &'a [f32],
    pub linear: &'a [f32],
}

/// `p[range]` reads the plain values (embeddings, biases, LayerNorms).
impl<I: std::slice::SliceIndex<[f32]>> std::ops::Index<I> for Weights<'_> {
    type Output = I::Output;
    fn index(&self, index: I) -> &I::Output {
        &self.values[index]
    }
}

/// Views of one linear layer's weight and bias.
pub(crate) fn weight<'a>(p: Weights<'a>, l: &Linear) -> &'a [f32] {
    &p.linear[l.w..l.w + l.inputs * l.outputs]
}

pub(crate) fn bias<'a>(p: Weights<'a>, l: &Linear) -> &'a [f32] {
    &p.values[l.b..l.b + l.outputs]
}

/// Two disjoint mutable ranges of one buffer (a weight's and a bias's gradient).
pub(crate) fn two_mut(g: &mut [f32], a: Range<usize>, b: Range<usize>) -> (&mut [f32], &mut [f32]) {
    assert!(a.end <= b.start, "ranges overlap or are out of order");
    let (lo, hi) = g.split_at_mut(b.start);
    (&mut lo[a], &mut hi[..b.end - b.start])
}

pub(crate) fn linear_grads<'a>(g: &'a mut [f32], l: &Linear) -> (&'a mut [f32], &'a mut [f32]) {
    two_mut(g, l.w..l.w + l.inputs * l.outputs, l.b..l.b + l.outputs)
}

pub(crate) fn norm_grads<'a>(g: &'a mut [f32], n: &Norm) -> (&'a mut [f32], &'a mut [f32]) {
    two_mut(g, n.gamma..n.gamma + n.dim, n.beta..n.beta + n.dim)
}

fn norm_params<'a>(p: Weights<'a>, n: &Norm) -> (&'a [f32], &'a [f32]) {
    (&p.values[n.gamma..n.gamma + n.dim], &p.values[n.beta..n.beta + n.dim])
}

/// Position ids: 0, 1, 2, ... for BERT and ALBERT; RoBERTa counts from `pad + 1` (as
/// `create_position_ids_from_input_ids` does over real tokens; packed batches hold no padding).
fn position_ids(cfg: &EncoderConfig, batch: &Batch, out: &mut Vec<u32>) {
    out.clear();
    out.extend(batch.packing.positions().map(|j| match cfg.arch {
        Architecture::Roberta => cfg.pad_token_id + 1 + j as u32,
        _ => j as u32,
    }));
}

fn attention_shape(cfg: &EncoderConfig) -> AttentionShape {
    AttentionShape { heads: cfg.num_heads, head_dim: cfg.head_dim() }
}

/// Token-level dropout over packed rows, keyed by (sequence, position).
fn drop_rows(dropout: Option<&Dropout>, x: &mut [f32], cols: usize, batch: &Batch) {
    if let Some(d) = dropout {
        d.apply_rows(x, cols, batch.packing.row_keys());
    }
}

/// The cache a layer at `depth` writes and the one holding its input (`None`: the embeddings). A
/// training pass keeps every layer for the backward pass; a forward-only pass keeps none of them and
/// alternates between two caches, so evaluation touches two layers' worth of memory, not all.
fn slots(depth: usize, backward: bool) -> (usize, Option<usize>) {
    let slot = |d: usize| if backward { d } else { d % 2 };
    (slot(depth), depth.checked_sub(1).map(slot))
}

/// The cache at `read` (immutably) and the one at `write` (mutably); `read != write`.
fn read_write(layers: &mut [LayerCache], read: usize, write: usize) -> (&LayerCache, &mut LayerCache) {
    if read < write {
        let (lo, hi) = layers.split_at_mut(write);
        (&lo[read], &mut hi[0])
    } else {
        let (lo, hi) = layers.split_at_mut(read);
        (&hi[0], &mut lo[write])
    }
}

/// Runs the encoder on `batch`; the last hidden state is then [`Workspace::hidden`]. With `backward`, it
/// keeps what [`backward`] needs (activation derivatives) rather than what only a forward pass needs.
pub(crate) fn forward(
    cfg: &EncoderConfig,
    layout: &Layout,
    p: Weights<'_>,
    batch: &Batch,
    mode: Mode,
    ws: &mut Workspace,
    backward: bool,
) {
    embeddings_forward(cfg, layout, p, batch, mode, ws);
    let t = batch.tokens();
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    let depth = layout.depth.len();
    let needed = if backward { depth } else { depth.min(2) };
    if ws.layers.len() < needed {
        ws.layers.resize_with(needed, LayerCache::default);
    }
    let shape = attention_shape(cfg);
    let probs_len = shape.probs_len(&batch.packing);
    ws.output_layer = usize::MAX;
    for (d, &li) in layout.depth.iter().enumerate() {
        let layer = &layout.layers[li];
        let (slot, input) = slots(d, backward);
        let (x, c): (&[f32], &mut LayerCache) = match input {
            Some(read) => {
                let (prev, c) = read_write(&mut ws.layers, read, slot);
                (&prev.out, c)
            }
            None if ws.emb_proj.is_empty() => (&ws.emb_out, &mut ws.layers[slot]),
            None => (&ws.emb_proj, &mut ws.layers[slot]),
        };
        ws.output_layer = slot;
        fit_layer(c, t, h, i, probs_len);
        layer_forward(cfg, layer, p, x, c, shape, batch, mode, d, backward);
    }
}

/// Sizes one layer cache for `t` tokens.
fn fit_layer(c: &mut LayerCache, t: usize, h: usize, i: usize, probs_len: usize) {
    for buf in [&mut c.ctx, &mut c.attn_sum, &mut c.attn_out, &mut c.ffn_sum, &mut c.out] {
        fit(buf, t * h);
    }
    fit(&mut c.qkv, t * 3 * h);
    fit(&mut c.probs, probs_len);
    fit(&mut c.ffn_deriv, t * i);
    fit(&mut c.ffn_act, t * i);
    for buf in [&mut c.attn_mean, &mut c.attn_rstd, &mut c.ffn_mean, &mut c.ffn_rstd] {
        fit(buf, t);
    }
}

/// Evaluation-mode forward of the encoder depths `depths` over `input`, the hidden state entering
/// `depths.start` (`[tokens, hidden]`); the output is then [`Workspace::hidden`]. The layer-reset
/// analysis runs a fine-tuned model's lower depths once and continues from each depth with other
/// weights, so the shared prefix is computed once rather than once per reset depth.
pub(crate) fn forward_depths(
    cfg: &EncoderConfig,
    layout: &Layout,
    p: Weights<'_>,
    batch: &Batch,
    depths: Range<usize>,
    input: &[f32],
    ws: &mut Workspace,
) {
    let t = batch.tokens();
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    assert_eq!(input.len(), t * h, "hidden state of the wrong shape");
    ws.tokens = t;
    if ws.layers.len() < 2 {
        ws.layers.resize_with(2, LayerCache::default);
    }
    // The input goes where the previous depth's output would be: the slot the first depth reads.
    let before = (depths.start + 1) % 2;
    ws.layers[before].out.clear();
    ws.layers[before].out.extend_from_slice(input);
    ws.output_layer = before;
    let shape = attention_shape(cfg);
    let probs_len = shape.probs_len(&batch.packing);
    for d in depths {
        let layer = &layout.layers[layout.depth[d]];
        let (slot, read) = (d % 2, (d + 1) % 2);
        let (prev, c) = read_write(&mut ws.layers, read, slot);
        fit_layer(c, t, h, i, probs_len);
        layer_forward(cfg, layer, p, &prev.out, c, shape, batch, Mode::Eval, d, false);
        ws.output_layer = slot;
    }
}

/// The embeddings (and ALBERT's projection): the encoder's input, read by the first layer.
pub(crate) fn embeddings_forward(
    cfg: &EncoderConfig,
    layout: &Layout,
    p: Weights<'_>,
    batch: &Batch,
    mode: Mode,
    ws: &mut Workspace,
) {
    let t = batch.tokens();
    let (e, h) = (cfg.embedding_size, cfg.hidden_size);
    ws.tokens = t;
    ws.output_layer = usize::MAX;
    let emb = &layout.embeddings;
    position_ids(cfg, batch, &mut ws.position_ids);
    fit(&mut ws.emb_sum, t * e);
    gather_rows(&mut ws.emb_sum, &p[emb.word..], &batch.input_ids, e, false);
    gather_rows(
        &mut ws.emb_sum,
        &p[emb.position..emb.position + cfg.max_position_embeddings * e],
        &ws.position_ids,
        e,
        true,
    );
    gather_rows(
        &mut ws.emb_sum,
        &p[emb.token_type..emb.token_type + cfg.type_vocab_size * e],
        &batch.token_type_ids,
        e,
        true,
    );
    fit(&mut ws.emb_mean, t);
    fit(&mut ws.emb_rstd, t);
    fit(&mut ws.emb_out, t * e);
    let (g, b) = norm_params(p, &emb.norm);
    layernorm_forward(&ws.emb_sum, &mut ws.emb_out, &mut ws.emb_mean, &mut ws.emb_rstd, g, b, emb.norm.eps);
    drop_rows(mode.dropout(cfg.hidden_dropout, Site::Embeddings).as_ref(), &mut ws.emb_out, e, batch);
    match &emb.projection {
        Some(proj) => {
            fit(&mut ws.emb_proj, t * h);
            linear_forward(&ws.emb_out, weight(p, proj), Some(bias(p, proj)), &mut ws.emb_proj, e, h);
        }
        None => ws.emb_proj.clear(),
    }
}

#[allow(clippy::too_many_arguments)]
fn layer_forward(
    cfg: &EncoderConfig,
    l: &Layer,
    p: Weights<'_>,
    x: &[f32],
    c: &mut LayerCache,
    shape: AttentionShape,
    batch: &Batch,
    mode: Mode,
    depth: usize,
    backward: bool,
) {
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    let keys = batch.packing.row_keys();
    linear_forward(x, weight(p, &l.qkv), Some(bias(p, &l.qkv)), &mut c.qkv, h, 3 * h);
    let attn_drop = mode.dropout(cfg.attention_dropout, Site::AttentionProbs(depth));
    fit(&mut c.dropped, if attn_drop.is_some() { c.probs.len() } else { 0 });
    let packing = &batch.packing;
    attention_forward(shape, packing, &c.qkv, &mut c.probs, &mut c.dropped, &mut c.ctx, attn_drop.as_ref());
    linear_forward(&c.ctx, weight(p, &l.attn_out), None, &mut c.attn_sum, h, h);
    let drop = mode.dropout(cfg.hidden_dropout, Site::AttentionOutput(depth));
    bias_dropout_residual(&mut c.attn_sum, bias(p, &l.attn_out), x, drop.as_ref(), keys);
    let (g, b) = norm_params(p, &l.attn_norm);
    layernorm_forward(
        &c.attn_sum,
        &mut c.attn_out,
        &mut c.attn_mean,
        &mut c.attn_rstd,
        g,
        b,
        l.attn_norm.eps,
    );

    linear_forward(&c.attn_out, weight(p, &l.ffn_in), None, &mut c.ffn_deriv, h, i);
    bias_act_forward(&mut c.ffn_deriv, &mut c.ffn_act, bias(p, &l.ffn_in), cfg.hidden_act, backward);
    linear_forward(&c.ffn_act, weight(p, &l.ffn_out), None, &mut c.ffn_sum, i, h);
    let drop = ffn_dropout(cfg, mode, depth);
    bias_dropout_residual(&mut c.ffn_sum, bias(p, &l.ffn_out), &c.attn_out, drop.as_ref(), keys);
    let (g, b) = norm_params(p, &l.ffn_norm);
    layernorm_forward(&c.ffn_sum, &mut c.out, &mut c.ffn_mean, &mut c.ffn_rstd, g, b, l.ffn_norm.eps);
}

/// ALBERT's layer defines a dropout after its feed-forward output but never applies it (Hugging Face's
/// `AlbertLayer.forward`); BERT and RoBERTa apply theirs.
fn ffn_dropout(cfg: &EncoderConfig, mode: Mode, depth: usize) -> Option<Dropout> {
    match cfg.arch {
        Architecture::Albert => None,
        _ => mode.dropout(cfg.hidden_dropout, Site::FfnOutput(depth)),
    }
}

/// What a LayerNorm's forward pass kept: its input (the residual sum) and row statistics.
struct NormCache<'a> {
    sum: &'a [f32],
    mean: &'a [f32],
    rstd: &'a [f32],
    norm: &'a Norm,
}

/// Backward through the end of a post-LN sublayer, `y = LN(dropout(a + bias) + residual)` where `a` is
/// the output of the linear layer `out` without its bias: from `dy`, writes the residual's gradient into
/// `ds` and the branch's gradient (after dropout) into `dbranch`, and adds the LayerNorm's and `out`'s
/// bias gradients into `grads`.
#[allow(clippy::too_many_arguments)]
fn sublayer_backward(
    p: Weights<'_>,
    grads: &mut [f32],
    cache: NormCache<'_>,
    out: &Linear,
    dropout: Option<&Dropout>,
    keys: &[u64],
    dy: &[f32],
    ds: &mut [f32],
    dbranch: &mut [f32],
) {
    let (dg, db) = norm_grads(grads, cache.norm);
    let gamma = norm_params(p, cache.norm).0;
    layernorm_backward(cache.sum, cache.mean, cache.rstd, gamma, dy, ds, dg, db, false);
    bias_dropout_backward(ds, dbranch, linear_grads(grads, out).1, dropout, keys);
}

/// Backward through the encoder. On entry `ws.grad.dhidden` holds the gradient of the loss with respect
/// to the last hidden state; parameter gradients are added into `grads`.
pub(crate) fn backward(
    cfg: &EncoderConfig,
    layout: &Layout,
    p: Weights<'_>,
    batch: &Batch,
    mode: Mode,
    ws: &mut Workspace,
    grads: &mut [f32],
) {
    let t = batch.tokens();
    let (e, h, i) = (cfg.embedding_size, cfg.hidden_size, cfg.intermediate_size);
    let shape = attention_shape(cfg);
    let keys = batch.packing.row_keys();
    let s = &mut ws.grad;
    for buf in [&mut s.dinput, &mut s.ds, &mut s.dbranch, &mut s.dattn_out, &mut s.dctx] {
        fit(buf, t * h);
    }
    fit(&mut s.dqkv, t * 3 * h);
    fit(&mut s.dffn_act, t * i);
    fit(&mut s.dffn_pre, t * i);

    for (d, &li) in layout.depth.iter().enumerate().rev() {
        let l = &layout.layers[li];
        let c = &ws.layers[d];
        let x: &[f32] = match d {
            0 if ws.emb_proj.is_empty() => &ws.emb_out,
            0 => &ws.emb_proj,
            _ => &ws.layers[d - 1].out,
        };
        let s = &mut ws.grad;
        // Output LayerNorm, then the feed-forward branch and its residual (the attention output).
        let drop = ffn_dropout(cfg, mode, d);
        let norm = NormCache { sum: &c.ffn_sum, mean: &c.ffn_mean, rstd: &c.ffn_rstd, norm: &l.ffn_norm };
        let (dy, ds, dbranch) = (&s.dhidden, &mut s.ds, &mut s.dbranch);
        sublayer_backward(p, grads, norm, &l.ffn_out, drop.as_ref(), keys, dy, ds, dbranch);
        s.dattn_out.copy_from_slice(&s.ds);
        let (dw, _) = linear_grads(grads, &l.ffn_out);
        linear_backward(
            &c.ffn_act,
            weight(p, &l.ffn_out),
            &s.dbranch,
            Some(&mut s.dffn_act),
            false,
            dw,
            None,
            i,
            h,
        );
        bias_act_backward(&c.ffn_deriv, &s.dffn_act, &mut s.dffn_pre, linear_grads(grads, &l.ffn_in).1);
        let (dw, _) = linear_grads(grads, &l.ffn_in);
        linear_backward(
            &c.attn_out,
            weight(p, &l.ffn_in),
            &s.dffn_pre,
            Some(&mut s.dattn_out),
            true,
            dw,
            None,
            h,
            i,
        );

        // Attention LayerNorm, the attention branch and its residual (the layer input).
        let drop = mode.dropout(cfg.hidden_dropout, Site::AttentionOutput(d));
        let norm = NormCache { sum: &c.attn_sum, mean: &c.attn_mean, rstd: &c.attn_rstd, norm: &l.attn_norm };
        sublayer_backward(
            p,
            grads,
            norm,
            &l.attn_out,
            drop.as_ref(),
            keys,
            &s.dattn_out,
            &mut s.ds,
            &mut s.dbranch,
        );
        s.dinput.copy_from_slice(&s.ds);
        let (dw, _) = linear_grads(grads, &l.attn_out);
        linear_backward(&c.ctx, weight(p, &l.attn_out), &s.dbranch, Some(&mut s.dctx), false, dw, None, h, h);
        attention_backward(shape, &batch.packing, &c.qkv, &c.probs, &c.dropped, &s.dctx, &mut s.dqkv);
        let (dw, dbias) = linear_grads(grads, &l.qkv);
        linear_backward(x, weight(p, &l.qkv), &s.dqkv, Some(&mut s.dinput), true, dw, Some(dbias), h, 3 * h);
        std::mem::swap(&mut s.dhidden, &mut s.dinput);
    }

    // Embeddings: (ALBERT's projection,) dropout, LayerNorm, then scatter into the three tables.
    let emb = &layout.embeddings;
    let s = &mut ws.grad;
    fit(&mut s.demb, t * e);
    match &emb.projection {
        Some(proj) => {
            let (dw, db) = linear_grads(grads, proj);
            linear_backward(
                &ws.emb_out,
                weight(p, proj),
                &s.dhidden[..t * h],
                Some(&mut s.demb),
                false,
                dw,
                Some(db),
                e,
                h,
            );
        }
        None => s.demb.copy_from_slice(&s.dhidden[..t * e]),
    }
    drop_rows(mode.dropout(cfg.hidden_dropout, Site::Embeddings).as_ref(), &mut s.demb, e, batch);
    let (dg, db) = norm_grads(grads, &emb.norm);
    fit(&mut s.ds, t * e);
    layernorm_backward(
        &ws.emb_sum,
        &ws.emb_mean,
        &ws.emb_rstd,
        norm_params(p, &emb.norm).0,
        &s.demb,
        &mut s.ds,
        dg,
        db,
        false,
    );
    scatter_add_rows(&mut grads[emb.word..emb.word + cfg.vocab_size * e], &s.ds, &batch.input_ids, e);
    scatter_add_rows(
        &mut grads[emb.position..emb.position + cfg.max_position_embeddings * e],
        &s.ds,
        &ws.position_ids,
        e,
    );
    scatter_add_rows(
        &mut grads[emb.token_type..emb.token_type + cfg.type_vocab_size * e],
        &s.ds,
        &batch.token_type_ids,
        e,
    );
}

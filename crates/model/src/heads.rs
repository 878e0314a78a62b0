//! Heads on top of the encoder: the pooler, the classification / regression head, and the masked-LM head
//! (decoder tied to the word embeddings). Each head reads a few rows of the last hidden state and writes
//! its gradient back into those rows of `dhidden`.

use crate::batch::{fit, HeadCache, Mode, Site, Workspace};
use crate::config::{Architecture, EncoderConfig};
use crate::encoder::{bias, linear_grads, norm_grads, weight, Weights};
use crate::layout::{Layout, Linear};
use stabletune_engine::ops::activation::{act_backward, act_forward, bias_act_backward, bias_act_forward};
use stabletune_engine::ops::dropout::apply_optional;
use stabletune_engine::ops::layernorm::{layernorm_backward, layernorm_forward};
use stabletune_engine::ops::linear::{linear_backward, linear_forward};
use stabletune_engine::ops::Activation;
use stabletune_engine::Packing;

/// Copies the hidden-state rows `rows` into `out` (`[rows.len(), hidden]`).
fn gather_hidden(hidden: &[f32], rows: &[usize], h: usize, out: &mut Vec<f32>) {
    out.clear();
    for &r in rows {
        out.extend_from_slice(&hidden[r * h..(r + 1) * h]);
    }
}

/// Records the head's rows and copies them out of the last hidden state into `ws.head.input`.
fn take_rows(ws: &mut Workspace, rows: Vec<usize>, h: usize) {
    let mut input = std::mem::take(&mut ws.head.input);
    gather_hidden(ws.hidden(), &rows, h, &mut input);
    ws.head.input = input;
    ws.head.rows = rows;
}

/// Zeroes `dhidden` and writes `d` (`[rows.len(), hidden]`) into the given rows.
fn scatter_hidden(dhidden: &mut Vec<f32>, tokens: usize, rows: &[usize], h: usize, d: &[f32]) {
    fit(dhidden, tokens * h);
    dhidden.fill(0.0);
    for (k, &r) in rows.iter().enumerate() {
        for (o, g) in dhidden[r * h..(r + 1) * h].iter_mut().zip(&d[k * h..(k + 1) * h]) {
            *o += *g;
        }
    }
}

/// `tanh(pooler(hidden[first token]))` for each sequence: the pooler output, `[batch, hidden]`.
pub(crate) fn pooled(
    cfg: &EncoderConfig,
    pooler: &Linear,
    p: Weights<'_>,
    ws: &Workspace,
    packing: &Packing,
) -> Vec<f32> {
    let h = cfg.hidden_size;
    let rows: Vec<usize> = packing.first_rows().collect();
    let mut x = Vec::new();
    gather_hidden(ws.hidden(), &rows, h, &mut x);
    let mut pre = vec![0.0; x.len()];
    linear_forward(&x, weight(p, pooler), Some(bias(p, pooler)), &mut pre, h, h);
    let mut out = vec![0.0; x.len()];
    act_forward(&pre, &mut out, Activation::Tanh);
    out
}

/// The classification head's dense layer: RoBERTa's own `classifier.dense`, else the pooler.
fn head_dense(layout: &Layout) -> Linear {
    let c = layout.classifier.as_ref().expect("model has no classification head");
    c.dense.or(layout.pooler).expect("BERT and ALBERT always have a pooler")
}

/// Classification head forward: logits `[batch, outputs]` into `ws.head.logits`.
///
/// BERT/ALBERT: `out(dropout(tanh(pooler(h₀))))`; RoBERTa: `out_proj(dropout(tanh(dense(dropout(h₀)))))`.
pub(crate) fn classifier_forward(
    cfg: &EncoderConfig,
    layout: &Layout,
    p: Weights<'_>,
    packing: &Packing,
    mode: Mode,
    ws: &mut Workspace,
) {
    let h = cfg.hidden_size;
    let out = layout.classifier.as_ref().expect("model has no classification head").out;
    let dense = head_dense(layout);
    let batch = packing.sequences();
    let rows: Vec<usize> = packing.first_rows().collect();
    take_rows(ws, rows, h);
    let hc: &mut HeadCache = &mut ws.head;
    hc.dropped_input.clone_from(&hc.input);
    if cfg.arch == Architecture::Roberta {
        apply_optional(
            mode.dropout(cfg.head_input_dropout, Site::HeadInput).as_ref(),
            &mut hc.dropped_input,
            0,
        );
    }
    fit(&mut hc.pre, batch * h);
    linear_forward(&hc.dropped_input, weight(p, &dense), Some(bias(p, &dense)), &mut hc.pre, h, h);
    fit(&mut hc.features, batch * h);
    act_forward(&hc.pre, &mut hc.features, Activation::Tanh);
    apply_optional(mode.dropout(cfg.classifier_dropout, Site::HeadPooled).as_ref(), &mut hc.features, 0);
    fit(&mut hc.logits, batch * out.outputs);
    linear_forward(&hc.features, weight(p, &out), Some(bias(p, &out)), &mut hc.logits, h, out.outputs);
}

/// Classification head backward from `ws.grad.dlogits`; leaves the encoder's output gradient in
/// `ws.grad.dhidden`.
pub(crate) fn classifier_backward(
    cfg: &EncoderConfig,
    layout: &Layout,
    p: Weights<'_>,
    mode: Mode,
    ws: &mut Workspace,
    grads: &mut [f32],
) {
    let h = cfg.hidden_size;
    let out = layout.classifier.as_ref().expect("model has no classification head").out;
    let dense = head_dense(layout);
    let (hc, s) = (&ws.head, &mut ws.grad);
    let batch = hc.rows.len();
    fit(&mut s.dhead_a, batch * h);
    fit(&mut s.dhead_b, batch * h);
    let (dw, db) = linear_grads(grads, &out);
    linear_backward(
        &hc.features,
        weight(p, &out),
        &s.dlogits,
        Some(&mut s.dhead_a),
        false,
        dw,
        Some(db),
        h,
        out.outputs,
    );
    apply_optional(mode.dropout(cfg.classifier_dropout, Site::HeadPooled).as_ref(), &mut s.dhead_a, 0);
    act_backward(&hc.pre, &s.dhead_a, &mut s.dhead_b, Activation::Tanh, false);
    let (dw, db) = linear_grads(grads, &dense);
    linear_backward(
        &hc.dropped_input,
        weight(p, &dense),
        &s.dhead_b,
        Some(&mut s.dhead_a),
        false,
        dw,
        Some(db),
        h,
        h,
    );
    if cfg.arch == Architecture::Roberta {
        apply_optional(mode.dropout(cfg.head_input_dropout, Site::HeadInput).as_ref(), &mut s.dhead_a, 0);
    }
    scatter_hidden(&mut s.dhidden, ws.tokens, &hc.rows, h, &s.dhead_a);
}

/// The masked-LM transform's activation: RoBERTa's `lm_head` always uses exact GELU; BERT and ALBERT use
/// `hidden_act`.
fn mlm_activation(cfg: &EncoderConfig) -> Activation {
    match cfg.arch {
        Architecture::Roberta => Activation::Gelu,
        _ => cfg.hidden_act,
    }
}

/// Masked-LM head forward at the token rows `rows`: logits `[rows.len(), vocab]` into `ws.head.logits`.
pub(crate) fn masked_lm_forward(
    cfg: &EncoderConfig,
    layout: &Layout,
    p: Weights<'_>,
    rows: &[usize],
    ws: &mut Workspace,
) {
    let (h, e, v) = (cfg.hidden_size, cfg.embedding_size, cfg.vocab_size);
    let head = layout.masked_lm.as_ref().expect("model has no masked-LM head");
    take_rows(ws, rows.to_vec(), h);
    let hc = &mut ws.head;
    let n = rows.len();
    fit(&mut hc.pre, n * e);
    fit(&mut hc.act, n * e);
    linear_forward(&hc.input, weight(p, &head.dense), None, &mut hc.pre, h, e);
    // The head only runs for a loss, so always keep the derivative for the backward pass.
    bias_act_forward(&mut hc.pre, &mut hc.act, bias(p, &head.dense), mlm_activation(cfg), true);
    fit(&mut hc.features, n * e);
    fit(&mut hc.mean, n);
    fit(&mut hc.rstd, n);
    let nm = &head.norm;
    layernorm_forward(
        &hc.act,
        &mut hc.features,
        &mut hc.mean,
        &mut hc.rstd,
        &p[nm.gamma..nm.gamma + e],
        &p[nm.beta..nm.beta + e],
        nm.eps,
    );
    fit(&mut hc.logits, n * v);
    let word = &p[layout.embeddings.word..layout.embeddings.word + v * e];
    linear_forward(&hc.features, word, Some(&p[head.bias..head.bias + v]), &mut hc.logits, e, v);
}

/// Masked-LM head backward from `ws.grad.dlogits`. The tied decoder adds its gradient to the word
/// embeddings' gradient.
pub(crate) fn masked_lm_backward(
    cfg: &EncoderConfig,
    layout: &Layout,
    p: Weights<'_>,
    ws: &mut Workspace,
    grads: &mut [f32],
) {
    let (h, e, v) = (cfg.hidden_size, cfg.embedding_size, cfg.vocab_size);
    let head = layout.masked_lm.as_ref().expect("model has no masked-LM head");
    let (hc, s) = (&ws.head, &mut ws.grad);
    let n = hc.rows.len();
    fit(&mut s.dhead_a, n * e);
    fit(&mut s.dhead_b, n * e);
    let word = layout.embeddings.word;
    let (dword, dbias) = crate::encoder::two_mut(grads, word..word + v * e, head.bias..head.bias + v);
    linear_backward(
        &hc.features,
        &p[word..word + v * e],
        &s.dlogits,
        Some(&mut s.dhead_a),
        false,
        dword,
        Some(dbias),
        e,
        v,
    );
    let nm = &head.norm;
    let (dg, db) = norm_grads(grads, nm);
    layernorm_backward(
        &hc.act,
        &hc.mean,
        &hc.rstd,
        &p[nm.gamma..nm.gamma + e],
        &s.dhead_a,
        &mut s.dhead_b,
        dg,
        db,
        false,
    );
    fit(&mut s.dhead_a, n * e);
    let (dw, db) = linear_grads(grads, &head.dense);
    bias_act_backward(&hc.pre, &s.dhead_b, &mut s.dhead_a, db);
    fit(&mut s.dhead_b, n * h);
    linear_backward(
        &hc.input,
        weight(p, &head.dense),
        &s.dhead_a,
        Some(&mut s.dhead_b),
        false,
        dw,
        None,
        h,
        e,
    );
    scatter_hidden(&mut s.dhidden, ws.tokens, &hc.rows, h, &s.dhead_b);
}

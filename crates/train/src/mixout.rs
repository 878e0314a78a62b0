//! Mixout (Lee et al. 2020), as its reference implementation (bloodwass/mixout, `Mixout` and
//! `MixLinear`) and as the revisit code (asappresearch/revisit-bert-finetuning) applies it: every
//! linear layer's weight matrix, the classifier's included, is replaced in each training forward pass by
//!
//! `W' = ((1 - M) u + M w - p u) / (1 - p)`,
//!
//! with `u` its target (the weights the run started from: pretrained, re-initialised or, for a new head,
//! its initial draw), `w` the weights being trained and `M ~ Bernoulli(1 - p)` a mask drawn anew each
//! forward pass. As in the reference the mask is one draw per *input column*, repeated over the rows
//! (`noise[0].bernoulli_(1 - p)` then `repeat(out_features, 1)`), so a column is either trained or
//! pulled back to its target as a whole. Biases are not mixed. Evaluation uses `w` itself.
//!
//! The reference's backward returns `grad_output * M` for `w`: without the `1 / (1 - p)` of the
//! derivative, so its gradients are `1 - p` times the exact ones (a tenth at p = 0.9). It is Lee et al.'s
//! own code, which the revisit code imports (Mosbach et al. do not say what made Table 1's Mixout row),
//! so it is the default here; `mixout_exact_gradient` gives the exact derivative `M / (1 - p)` instead.
//!
//! Masks come from the counter-based streams (init seed, the tensor's name, the update), so a run is the
//! same at any thread count.
//!
//! Which matrices: [`MixoutLayers::All`] mixes every linear layer on the forward path, the heads' included
//! (the masked-LM transform too): the revisit code replaces every `nn.Linear`.
//! [`MixoutLayers::AfterDropout`] is Lee et al.'s protocol, dropout replaced by Mixout of the linear layer
//! that reads the dropped units (their example.py mixes `linear2` and `linear3`, each right after a
//! dropout; the maintainer on bloodwass/mixout issue #4 and PR #13: the paper replaced dropout, skipping
//! BERT's intermediate layers). In Hugging Face's modules a linear layer's input comes out of a dropout
//! with nothing but linear maps between for exactly these (see [`follows_dropout`]):
//! - BERT, RoBERTa: layer 0's query, key and value (`BertEmbeddings` ends in dropout); every layer's
//!   attention output dense (its input is the attention probabilities, dropped, times the values);
//! - ALBERT: `embedding_hidden_mapping_in` (after the embeddings' dropout) and every attention dense;
//!   layer 0's query, key and value read that projection, not a dropout;
//! - the classifier (`classifier`, after the dropout on the pooled output; RoBERTa's head has a dropout
//!   before `classifier.dense` and before `classifier.out_proj`, so both).
//!
//! Not mixed: query, key and value of layers 1 and up, every intermediate dense, the FFN output dense, the
//! pooler and the masked-LM transform. Those read a LayerNorm's output (dropout comes before the residual
//! add and LayerNorm, `LayerNorm(dropout(dense(x)) + x)`) or the FFN activation, which has no dropout.
//! Unmixed linear weights are copied into the mixed buffer each step, so every pass reads current weights.

use crate::config::MixoutLayers;
use rayon::prelude::*;
use stabletune_engine::streams::{id, Family};
use stabletune_engine::RandomStream;
use stabletune_model::params::name_hash;
use stabletune_model::{Architecture, Model};
use std::ops::Range;

/// One mixed weight matrix: `[rows = out_features, cols = in_features]`, row-major as Hugging Face's.
struct Mixed {
    name: String,
    range: Range<usize>,
    cols: usize,
    stream: u64,
    target: Vec<f32>,
    /// This step's mask, one 0/1 per input column.
    mask: Vec<f32>,
    /// Whether its input comes out of a dropout ([`follows_dropout`]).
    after_dropout: bool,
}

pub struct Mixout {
    p: f64,
    exact_gradient: bool,
    seed: u64,
    tensors: Vec<Mixed>,
    /// Linear weights read by a training pass but not mixed: copied as they are into the mixed buffer.
    unmixed: Vec<Range<usize>>,
    /// Masks to use for the next [`Mixout::mix`] instead of drawing them (checks against a reference).
    given: Option<Vec<Vec<f32>>>,
}

/// Rows mixed per parallel task.
const ROWS_PER_TASK: usize = 64;

impl Mixout {
    /// Mixout of every linear weight matrix on the model's forward path ([`MixoutLayers::All`]; narrow it
    /// with [`Mixout::with_layers`]), toward the model's current values (call it before training, after
    /// any re-initialisation), with mix probability `p` in (0, 1) and masks from `seed` (the init seed).
    pub fn new(model: &Model, p: f64, exact_gradient: bool, seed: u64) -> Mixout {
        assert!(p > 0.0 && p < 1.0, "mixout probability {p} outside (0, 1)");
        let dropped = follows_dropout(model);
        let tensors = (0..model.params.infos.len())
            .filter(|&i| is_linear_weight(model, i))
            .map(|i| {
                let info = &model.params.infos[i];
                let range = info.range();
                Mixed {
                    name: info.name.clone(),
                    after_dropout: dropped.iter().any(|d| d.start <= range.start && range.end <= d.end),
                    cols: info.shape[1],
                    stream: id(Family::Mixout, name_hash(&info.name)),
                    target: model.params.values[range.clone()].to_vec(),
                    mask: vec![1.0; info.shape[1]],
                    range,
                }
            })
            .collect();
        Mixout { p, exact_gradient, seed, tensors, unmixed: Vec::new(), given: None }
    }

    /// Mixes only the matrices `layers` names; the others are trained as they are.
    pub fn with_layers(mut self, layers: MixoutLayers) -> Mixout {
        if layers == MixoutLayers::AfterDropout {
            let (keep, rest): (Vec<Mixed>, Vec<Mixed>) =
                self.tensors.into_iter().partition(|t| t.after_dropout);
            self.tensors = keep;
            self.unmixed.extend(rest.into_iter().map(|t| t.range));
        }
        self
    }

    /// The names of the mixed tensors, in parameter order.
    pub fn tensor_names(&self) -> Vec<&str> {
        self.tensors.iter().map(|t| t.name.as_str()).collect()
    }

    /// Draws the masks of update `step` (or takes those given by [`Mixout::give_masks`]) and writes the
    /// mixed weights into `model.mixed`.
    pub fn mix(&mut self, model: &mut Model, step: u64) {
        if let Some(masks) = self.given.take() {
            return self.mix_with_masks(model, &masks);
        }
        let keep = (1.0 - self.p) as f32;
        for t in &mut self.tensors {
            let stream = RandomStream::new(self.seed, t.stream, step);
            for (j, m) in t.mask.iter_mut().enumerate() {
                *m = if stream.uniform(j as u64) < keep { 1.0 } else { 0.0 };
            }
        }
        self.write_mixed(model);
    }

    /// [`Mixout::mix`] with given masks (one per mixed tensor, in [`Mixout::tensor_names`] order, one 0/1
    /// per input column): for checks against a reference that draws its own.
    pub fn mix_with_masks(&mut self, model: &mut Model, masks: &[Vec<f32>]) {
        assert_eq!(masks.len(), self.tensors.len(), "one mask per mixed tensor");
        for (t, m) in self.tensors.iter_mut().zip(masks) {
            assert_eq!(m.len(), t.cols, "{}: one mask value per input column", t.name);
            t.mask.copy_from_slice(m);
        }
        self.write_mixed(model);
    }

    /// Masks for the next [`Mixout::mix`] only, as [`Mixout::mix_with_masks`] takes them.
    pub fn give_masks(&mut self, masks: Vec<Vec<f32>>) {
        self.given = Some(masks);
    }

    /// The masks of the latest mix, in [`Mixout::tensor_names`] order.
    pub fn masks(&self) -> Vec<&[f32]> {
        self.tensors.iter().map(|t| t.mask.as_slice()).collect()
    }

    fn write_mixed(&self, model: &mut Model) {
        let mixed = model.mixed.get_or_insert_with(|| model.params.values.clone());
        // A pass reads every linear weight from this buffer: those not mixed must be today's weights, not
        // the copy taken at the first step.
        for r in &self.unmixed {
            mixed[r.clone()].copy_from_slice(&model.params.values[r.clone()]);
        }
        // As PyTorch computes `... - p * target) / (1 - p)` with Python floats: each scalar rounded to
        // f32 once (1 - p in f64 first), the arithmetic in f32.
        let (p, q) = (self.p as f32, (1.0 - self.p) as f32);
        for t in &self.tensors {
            let w = &model.params.values[t.range.clone()];
            let out = &mut mixed[t.range.clone()];
            let cols = t.cols;
            out.par_chunks_mut(cols * ROWS_PER_TASK).enumerate().for_each(|(k, chunk)| {
                let first = k * cols * ROWS_PER_TASK;
                for (r, row) in chunk.chunks_mut(cols).enumerate() {
                    let at = first + r * cols;
                    for (j, o) in row.iter_mut().enumerate() {
                        let (m, u, x) = (t.mask[j], t.target[at + j], w[at + j]);
                        // The reference's order of operations, in f32.
                        *o = ((1.0 - m) * u + m * x - p * u) / q;
                    }
                }
            });
        }
    }

    /// Turns the gradients of the mixed weights into those of the trained weights: `M ⊙ dW'` as the
    /// reference, or `M / (1 - p) ⊙ dW'` with the exact gradient.
    pub fn scale_grads(&self, grads: &mut [f32]) {
        let scale = if self.exact_gradient { (1.0 / (1.0 - self.p)) as f32 } else { 1.0 };
        for t in &self.tensors {
            let factors: Vec<f32> = t.mask.iter().map(|m| m * scale).collect();
            grads[t.range.clone()].par_chunks_mut(t.cols * ROWS_PER_TASK).for_each(|chunk| {
                for row in chunk.chunks_mut(t.cols) {
                    row.iter_mut().zip(&factors).for_each(|(g, f)| *g *= f);
                }
            });
        }
    }
}

/// A linear layer's weight matrix on the forward path: 2-D, named `*.weight`, not an embedding table.
/// The masked-LM head's transform dense is one (its decoder is the word embeddings, left out as the
/// embedding table it is): a head trained under Mixout reads mixed weights like the encoder.
fn is_linear_weight(model: &Model, index: usize) -> bool {
    let info = &model.params.infos[index];
    info.shape.len() == 2
        && info.name.ends_with(".weight")
        && !info.name.contains("embeddings.")
        && model.on_forward_path(index)
}

/// The parameter ranges of the linear weights whose input comes out of a dropout in Hugging Face's
/// modules (the list in the module comment), from the model's layout.
pub fn follows_dropout(model: &Model) -> Vec<Range<usize>> {
    let layout = &model.layout;
    let w = |l: &stabletune_model::layout::Linear| l.w..l.w + l.inputs * l.outputs;
    let mut out = Vec::new();
    match (model.config.arch, &layout.embeddings.projection) {
        // ALBERT's embeddings dropout feeds the projection up to the hidden size.
        (Architecture::Albert, Some(projection)) => out.push(w(projection)),
        // BERT and RoBERTa: the first layer's query, key and value (one fused range) read the
        // embeddings' dropout.
        _ => out.extend(layout.depth.first().map(|&l| w(&layout.layers[l].qkv))),
    }
    out.extend(layout.layers.iter().map(|l| w(&l.attn_out)));
    if let Some(c) = &layout.classifier {
        out.push(w(&c.out));
        out.extend(c.dense.as_ref().map(w));
    }
    out
}

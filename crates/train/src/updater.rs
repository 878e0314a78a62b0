//! One optimizer update as the authors' code does it: forward and backward, the global gradient norm
//! (before clipping), clipping, and AdamW with the scheduled learning rate.

use crate::config::{ClipMode, TrainConfig};
use crate::error::Result;
use crate::lazy_rows::LazyRows;
use crate::mixout::Mixout;
use crate::optim::{clip_factor, global_norm, global_norm_sparse, AdamState, AdamW, Segment};
use rayon::prelude::*;
use stabletune_engine::profile::{timed, Kind};
use stabletune_model::{Batch, Mode, Model, ParamGroup, Target, Workspace};

/// Parameter runs for the optimizer: weight decay except on biases and LayerNorm parameters, and the
/// layer-wise learning-rate multiplier `decay^(L - l)` (embeddings lowest, heads at the full rate).
/// Tensors off the forward path (RoBERTa's unused pooler) are left out: the authors' optimizer only sees
/// parameters that get a gradient, and weight decay must not shrink a tensor the run never uses.
pub fn segments(model: &Model, layerwise_decay: Option<f64>) -> Vec<Segment> {
    let layers = model.layout.layers.len() as i32;
    model
        .params
        .infos
        .iter()
        .enumerate()
        .filter(|(index, _)| model.on_forward_path(*index))
        .map(|(_, i)| {
            let lr_scale = match (layerwise_decay, i.group) {
                (None, _) => 1.0,
                (Some(d), ParamGroup::Embeddings) => d.powi(layers),
                (Some(d), ParamGroup::Layer(l)) => d.powi(layers - 1 - l as i32),
                (Some(_), _) => 1.0,
            };
            Segment { range: i.range(), decay: !i.no_decay, lr_scale }
        })
        .collect()
}

pub struct Updater {
    pub opt: AdamW,
    pub segments: Vec<Segment>,
    pub max_grad_norm: f64,
    pub clip: ClipMode,
    /// The word embeddings, updated row by row as tokens appear (`None`: every tensor densely).
    lazy: Option<LazyRows>,
    /// The lazy tensor's rows the last step's gradient wrote: the only ones to zero before the next.
    dirty_rows: Vec<u32>,
    /// Mixout of the linear layers' weights (`None`: off).
    mixout: Option<Mixout>,
}

/// The loss of the batch (before the update) and the global gradient norm before clipping. When
/// either is not finite the update is skipped: the run has diverged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Update {
    pub loss: f32,
    pub grad_norm: f64,
}

impl Update {
    pub fn diverged(&self) -> bool {
        !self.loss.is_finite() || !self.grad_norm.is_finite()
    }
}

impl Updater {
    pub fn new(model: &Model, cfg: &TrainConfig) -> Updater {
        Updater {
            opt: AdamW {
                beta1: cfg.adam_beta1,
                beta2: cfg.adam_beta2,
                eps: cfg.adam_eps,
                weight_decay: cfg.weight_decay,
                bias_correction: cfg.bias_correction,
            },
            segments: segments(model, cfg.layerwise_lr_decay),
            max_grad_norm: cfg.max_grad_norm,
            clip: cfg.clip,
            lazy: None,
            dirty_rows: Vec::new(),
            mixout: None,
        }
        .with_lazy_rows(model, true)
    }

    /// Trains under `mixout` (built on the model's starting weights, see [`Mixout::new`]).
    pub fn with_mixout(mut self, mixout: Option<Mixout>) -> Updater {
        self.mixout = mixout;
        self
    }

    pub fn mixout_mut(&mut self) -> Option<&mut Mixout> {
        self.mixout.as_mut()
    }

    /// Switches the lazy word-embedding update on (where the model allows it) or off. Both give the
    /// same bits; off streams the whole table every step.
    pub fn with_lazy_rows(mut self, model: &Model, on: bool) -> Updater {
        self.lazy = None;
        if let (true, Some((index, width))) = (on, model.sparse_rows()) {
            let range = model.params.infos[index].range();
            if let Some(segment) = self.segments.iter().position(|s| s.range == range) {
                self.lazy = Some(LazyRows::new(segment, range, width, 0));
            }
        }
        self
    }

    /// Continues from optimizer step `step` (after a resume): every row is up to date there.
    pub fn resume_at(&mut self, step: u64) {
        if let Some(l) = &self.lazy {
            self.lazy = Some(LazyRows::new(l.segment, l.range(), l.width(), step));
        }
    }

    /// Brings the lazily updated rows up to date: call before reading the weights or Adam's moments.
    pub fn flush(&mut self, model: &mut Model, adam: &mut AdamState) {
        if let Some(l) = &mut self.lazy {
            timed(Kind::Optimizer, || l.flush(&mut model.params.values, adam));
        }
    }

    /// Brings the lazily updated rows `rows` (sorted, distinct token ids) up to date: enough for a
    /// forward pass over sequences of those tokens.
    pub fn catch_up(&mut self, model: &mut Model, adam: &mut AdamState, rows: &[u32]) {
        if let Some(l) = &mut self.lazy {
            timed(Kind::Optimizer, || l.catch_up(&mut model.params.values, adam, rows));
        }
    }

    /// Zeroes the gradient buffer: all of it, but for the lazy tensor only the rows last written.
    fn zero(&self, grads: &mut [f32]) {
        let fill = |g: &mut [f32]| g.par_chunks_mut(1 << 16).for_each(|c| c.fill(0.0));
        match &self.lazy {
            None => fill(grads),
            Some(l) => {
                let (r, w) = (l.range(), l.width());
                let (head, rest) = grads.split_at_mut(r.start);
                fill(head);
                fill(&mut rest[r.len()..]);
                for &row in &self.dirty_rows {
                    rest[row as usize * w..(row as usize + 1) * w].fill(0.0);
                }
            }
        }
    }

    /// The global gradient norm, skipping the lazy tensor's zero rows (the same bits as the dense sum).
    fn norm(&self, grads: &[f32]) -> f64 {
        match &self.lazy {
            None => global_norm(grads),
            Some(l) => global_norm_sparse(grads, l.range(), l.width(), &self.dirty_rows),
        }
    }

    /// Computes the gradients of `batch` into `grads` and, unless they diverged, updates the model.
    /// `inspect` sees the raw gradients before clipping (for per-matrix norms).
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        model: &mut Model,
        batch: &Batch,
        target: Target<'_>,
        mode: Mode,
        lr: f64,
        ws: &mut Workspace,
        grads: &mut [f32],
        adam: &mut AdamState,
        inspect: &mut dyn FnMut(&[f32], &Update),
    ) -> Result<Update> {
        timed(Kind::Optimizer, || self.zero(grads));
        if let Some(lazy) = &mut self.lazy {
            // The batch's rows are read by the forward pass: bring them up to date first.
            self.dirty_rows.clone_from(&batch.input_ids);
            self.dirty_rows.sort_unstable();
            self.dirty_rows.dedup();
            timed(Kind::Optimizer, || lazy.catch_up(&mut model.params.values, adam, &self.dirty_rows));
        }
        if let (Some(mixout), Mode::Train { step, .. }) = (&mut self.mixout, mode) {
            timed(Kind::Elementwise, || mixout.mix(model, step));
        }
        let loss = model.loss_and_grads(batch, target, mode, ws, grads)?;
        if let Some(mixout) = &self.mixout {
            timed(Kind::Elementwise, || mixout.scale_grads(grads));
        }
        let update = Update { loss, grad_norm: timed(Kind::Optimizer, || self.norm(grads)) };
        inspect(grads, &update);
        if update.diverged() {
            return Ok(update);
        }
        timed(Kind::Optimizer, || self.apply(model, grads, adam, lr, &update));
        Ok(update)
    }

    /// The clipped AdamW update from gradients whose global norm is `update.grad_norm`.
    fn apply(&mut self, model: &mut Model, grads: &[f32], adam: &mut AdamState, lr: f64, update: &Update) {
        let rows = std::mem::take(&mut self.dirty_rows);
        let mut lazy = self.lazy.as_mut().map(|l| (l, rows.as_slice()));
        // Clipping is folded into the update as a per-segment gradient factor (segments are the tensors).
        let params = &mut model.params.values;
        let (opt, segments) = (&self.opt, &self.segments);
        match (self.max_grad_norm > 0.0, self.clip) {
            (false, _) => opt.step_parts(params, grads, adam, lr, segments, &|_| 1.0, &mut lazy),
            (true, ClipMode::Global) => {
                let f = clip_factor(update.grad_norm, self.max_grad_norm);
                opt.step_parts(params, grads, adam, lr, segments, &|_| f, &mut lazy);
            }
            (true, ClipMode::PerParameter) => {
                let factors: Vec<f32> = segments
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let g = &grads[s.range.clone()];
                        let norm = match &lazy {
                            Some((l, rows)) if l.segment == i => {
                                global_norm_sparse(g, 0..g.len(), l.width(), rows)
                            }
                            _ => global_norm(g),
                        };
                        clip_factor(norm, self.max_grad_norm)
                    })
                    .collect();
                opt.step_parts(params, grads, adam, lr, segments, &|i| factors[i], &mut lazy);
            }
        }
        self.dirty_rows = rows;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stabletune_model::HeadSpec;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
    }

    #[test]
    fn layerwise_learning_rates() {
        let (model, _) =
            Model::from_dir(&fixture("tiny-bert"), HeadSpec { classifier: Some(3), masked_lm: false }, 0)
                .unwrap();
        let segs = segments(&model, Some(0.5));
        let scale_of = |name: &str| {
            let i = model.params.infos.iter().position(|i| i.name == name).unwrap();
            segs[i].lr_scale
        };
        // Two layers: embeddings 0.5², layer 0 0.5, layer 1 (the top) and the heads at the full rate.
        assert_eq!(scale_of("bert.embeddings.word_embeddings.weight"), 0.25);
        assert_eq!(scale_of("bert.encoder.layer.0.output.dense.weight"), 0.5);
        assert_eq!(scale_of("bert.encoder.layer.1.attention.self.query.weight"), 1.0);
        assert_eq!(scale_of("classifier.weight"), 1.0);
        assert!(!segs[model.params.infos.iter().position(|i| i.name == "classifier.bias").unwrap()].decay);
        assert!(segments(&model, None).iter().all(|s| s.lr_scale == 1.0));
    }

    /// RoBERTa's pretrained pooler is off the classification head's path: no segment covers it, so weight
    /// decay leaves it as loaded. BERT's pooler is the head's dense layer and is trained.
    #[test]
    fn unused_tensors_are_not_optimised() {
        let heads = HeadSpec { classifier: Some(3), masked_lm: false };
        // The fixture has no pooler; give it one, as roberta-base's checkpoint has.
        let (plain, _) = Model::from_dir(&fixture("tiny-roberta"), heads, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut set = plain.params.clone();
        let h = plain.config.hidden_size;
        set.add("roberta.pooler.dense.weight".into(), &[h, h], ParamGroup::Pooler);
        set.add("roberta.pooler.dense.bias".into(), &[h], ParamGroup::Pooler);
        stabletune_model::checkpoint::save(&set, &dir.path().join("model.safetensors")).unwrap();
        std::fs::copy(fixture("tiny-roberta/config.json"), dir.path().join("config.json")).unwrap();
        let (roberta, _) = Model::from_dir(dir.path(), heads, 0).unwrap();
        let pooler = roberta.params.get("roberta.pooler.dense.weight").expect("the fixture has a pooler");
        let covered = |model: &Model, r: std::ops::Range<usize>| {
            segments(model, None).iter().any(|s| s.range.start < r.end && r.start < s.range.end)
        };
        assert!(!covered(&roberta, pooler.range()));
        let dense = roberta.params.get("classifier.dense.weight").unwrap().range();
        assert!(covered(&roberta, dense));
        let (bert, _) = Model::from_dir(&fixture("tiny-bert"), heads, 0).unwrap();
        assert!(covered(&bert, bert.params.get("bert.pooler.dense.weight").unwrap().range()));
    }
}

//! One optimizer update as the authors' code does it: forward and backward, the global gradient norm
//! (before clipping), clipping, and AdamW with the scheduled learning rate.

use crate::config::{ClipMode, MixoutLayers, TrainConfig};
use crate::error::Result;
use crate::lazy_rows::LazyRows;
use crate::mixout::Mixout;
use crate::optim::{clip_factor, global_norm, global_norm_sparse, AdamState, AdamW, Segment};
use rayon::prelude::*;
use stabletune_engine::profile::{timed, Kind};
use stabletune_model::{Batch, Mode, Model, ParamGroup, Target, Workspace};

/// Parameter runs for the optimizer: weight decay except on biases and LayerNorm parameters, and with
/// layer-wise learning-rate decay `d < 1` the grouping of the revisit code (asappresearch/revisit-bert-
/// finetuning, `run_glue.py`, `get_optimizer_grouped_parameters`), reproduced exactly:
///
/// ```text
/// [{"params": [p for n, p in model.named_parameters() if "classifier" in n or "pooler" in n],
///   "weight_decay": 0.0, "lr": args.learning_rate}]
/// layers = [model.bert.embeddings] + list(model.bert.encoder.layer); layers.reverse()
/// lr = args.learning_rate
/// for layer in layers:
///     lr *= args.layerwise_learning_rate_decay
///     # two groups: not any(nd in n for nd in ["bias", "LayerNorm.weight"]) -> args.weight_decay, else 0.0
/// ```
///
/// So with L layers the top layer trains at lr·d, layer l (0-based) at lr·d^(L - l), the embeddings at
/// lr·d^(L + 1), and the pooler and classifier at lr with no weight decay at all (weights included). At
/// `d = 1` the reference takes its plain grouping, as here. The masked-LM head, which the reference's
/// sequence classifier has not, keeps lr and the usual decay. ALBERT (refused there) counts its distinct
/// layers. Tensors off the forward path (RoBERTa's unused pooler) are left out: the authors' optimizer only
/// sees parameters that get a gradient, and weight decay must not shrink a tensor the run never uses.
pub fn segments(model: &Model, layerwise_decay: Option<f64>) -> Vec<Segment> {
    let layers = model.layout.layers.len() as i32;
    let decay = layerwise_decay.filter(|&d| d != 1.0);
    model
        .params
        .infos
        .iter()
        .enumerate()
        .filter(|(index, _)| model.on_forward_path(*index))
        .map(|(_, i)| {
            let (lr_scale, decays) = match (decay, i.group) {
                (None, _) => (1.0, !i.no_decay),
                (Some(_), ParamGroup::Pooler | ParamGroup::Classifier) => (1.0, false),
                (Some(d), ParamGroup::Embeddings) => (repeated(d, layers + 1), !i.no_decay),
                (Some(d), ParamGroup::Layer(l)) => (repeated(d, layers - l as i32), !i.no_decay),
                (Some(_), ParamGroup::MaskedLm) => (1.0, !i.no_decay),
            };
            Segment { range: i.range(), decay: decays, lr_scale }
        })
        .collect()
}

/// `d` multiplied in `n` times, one factor after another as the reference's `lr *= decay` (not `powi`,
/// whose rounding may differ in the last bit).
fn repeated(d: f64, n: i32) -> f64 {
    (0..n).fold(1.0, |x, _| x * d)
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
    /// Which of them the run's config mixes.
    mixout_layers: MixoutLayers,
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
            mixout_layers: cfg.mixout_layers.unwrap_or(MixoutLayers::All),
        }
        .with_lazy_rows(model, true)
    }

    /// Trains under `mixout` (built on the model's starting weights, see [`Mixout::new`]), narrowed to the
    /// config's `mixout_layers` here, where the rest of the config becomes the optimizer, so that no
    /// caller can train with the wrong set.
    pub fn with_mixout(mut self, mixout: Option<Mixout>) -> Updater {
        self.mixout = mixout.map(|m| m.with_layers(self.mixout_layers));
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
        let seg_of = |name: &str| {
            let i = model.params.infos.iter().position(|i| i.name == name).unwrap();
            segs[i].clone()
        };
        // Two layers: embeddings 0.5³, layer 0 0.5², layer 1 (the top) 0.5, the heads at the full rate
        // without weight decay (tools/make_llrd_goldens.py checks every tensor against the reference).
        assert_eq!(seg_of("bert.embeddings.word_embeddings.weight").lr_scale, 0.125);
        assert_eq!(seg_of("bert.encoder.layer.0.output.dense.weight").lr_scale, 0.25);
        assert_eq!(seg_of("bert.encoder.layer.1.attention.self.query.weight").lr_scale, 0.5);
        assert_eq!((seg_of("classifier.weight").lr_scale, seg_of("classifier.weight").decay), (1.0, false));
        assert!(!seg_of("bert.pooler.dense.weight").decay);
        assert!(segments(&model, None).iter().all(|s| s.lr_scale == 1.0));
        // A decay of 1 is the plain grouping, as in the reference.
        assert_eq!(segments(&model, Some(1.0)), segments(&model, None));
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

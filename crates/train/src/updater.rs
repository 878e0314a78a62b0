//! One optimizer update as the authors' code does it: forward and backward, the global gradient norm
//! (before clipping), clipping, and AdamW with the scheduled learning rate.

use crate::config::{ClipMode, TrainConfig};
use crate::error::Result;
use crate::optim::{clip_factor, global_norm, AdamState, AdamW, Segment};
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
        }
    }

    /// Computes the gradients of `batch` into `grads` and, unless they diverged, updates the model.
    /// `inspect` sees the raw gradients before clipping (for per-matrix norms).
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &self,
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
        grads.fill(0.0);
        let loss = model.loss_and_grads(batch, target, mode, ws, grads)?;
        let update = Update { loss, grad_norm: global_norm(grads) };
        inspect(grads, &update);
        if update.diverged() {
            return Ok(update);
        }
        // Clipping is folded into the update as a per-segment gradient factor (segments are the tensors).
        let params = &mut model.params.values;
        match (self.max_grad_norm > 0.0, self.clip) {
            (false, _) => self.opt.step(params, grads, adam, lr, &self.segments),
            (true, ClipMode::Global) => {
                let f = clip_factor(update.grad_norm, self.max_grad_norm);
                self.opt.step_scaled(params, grads, adam, lr, &self.segments, &|_| f);
            }
            (true, ClipMode::PerParameter) => {
                let factors: Vec<f32> = self
                    .segments
                    .iter()
                    .map(|s| clip_factor(global_norm(&grads[s.range.clone()]), self.max_grad_norm))
                    .collect();
                self.opt.step_scaled(params, grads, adam, lr, &self.segments, &|i| factors[i]);
            }
        }
        Ok(update)
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

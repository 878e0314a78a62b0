//! One fine-tuning run, top to bottom: load the data and the model, then for each epoch shuffle with the
//! data seed, and for each batch take one AdamW step (dropout keyed by the init seed and the step),
//! evaluating on dev a few times an epoch. Everything a run does is a pure function of its config and
//! seeds, which is what makes `--resume` end bit-identical to an uninterrupted run.

use crate::config::{ClipMode, TrainConfig};
use crate::data::{DataError, Result};
use crate::dataset::{epoch_order, sample_indices, Dataset, Labels};
use crate::metrics::{evaluate, majority_baseline, Metric, Metrics};
use crate::optim::{clip_factor, global_norm, AdamState, AdamW, Segment};
use crate::run_dir::{load_resume_state, RunDir, TrainerState, BEST};
use crate::schedule::Schedule;
use crate::source;
use serde::{Deserialize, Serialize};
use serde_json::json;
use stabletune_model::tokenizer::TextEncoder;
use stabletune_model::{hub, Batch, HeadSpec, Mode, Model, ParamGroup, Target, Workspace};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Completed,
    EarlyStopped,
    /// A loss or gradient became NaN or infinite; the run stopped there.
    Diverged,
    /// Stopped from outside (Ctrl-C); `--resume` continues it.
    Interrupted,
}

/// What one update did, for progress displays.
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub step: u64,
    pub total_steps: u64,
    pub epoch: f64,
    pub loss: f32,
    pub lr: f64,
    pub grad_norm: f64,
}

/// Receives progress and may ask the run to stop (after the current update, leaving a checkpoint).
pub trait Observer {
    fn on_step(&mut self, _record: &StepRecord) {}
    fn on_eval(&mut self, _step: u64, _metrics: &Metrics, _headline: &str) {}
    fn should_stop(&mut self) -> bool {
        false
    }
}

/// An observer that shows nothing and never stops a run.
pub struct Quiet;
impl Observer for Quiet {}

/// `summary.json`: everything a stability study needs from a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub status: Status,
    pub task: String,
    pub model: String,
    pub recipe: String,
    pub init_seed: u64,
    pub data_seed: u64,
    pub train_examples: usize,
    pub dev_examples: usize,
    pub steps: u64,
    pub total_steps: u64,
    pub epochs: f64,
    pub headline_metric: String,
    pub final_metrics: Metrics,
    pub best_metrics: Option<Metrics>,
    pub best_step: Option<u64>,
    pub majority_baseline: Option<f64>,
    /// Final headline metric at or below the majority baseline (Dodge et al.'s failed run).
    pub failed: Option<bool>,
    /// Wall-clock seconds of training, evaluations included (summed over the sessions of a resumed run).
    pub wall_seconds: f64,
    pub train_examples_per_second: f64,
    pub version: String,
    pub git_commit: String,
}

/// The data and model of a run, loaded.
struct Setup {
    source_name: String,
    metric: Metric,
    model_dir: PathBuf,
    model: Model,
    train: Dataset,
    dev: Dataset,
}

fn setup(cfg: &TrainConfig) -> Result<Setup> {
    let err = |e: stabletune_model::ModelError| DataError::Other(e.to_string());
    let mut source = source::load(cfg)?;
    let model_dir = hub::resolve_model(&cfg.model).map_err(err)?;
    if let Some(k) = cfg.train_limit {
        let keep = sample_indices(source.train.len(), k, cfg.data_seed);
        source.train = keep.into_iter().map(|i| source.train[i].clone()).collect();
    }
    let tokenizer = TextEncoder::from_dir(&model_dir, cfg.max_seq_length).map_err(err)?;
    let labels = source.label_set.as_deref();
    let train = Dataset::encode(labels, &source.train, &tokenizer, "train")?;
    let dev = Dataset::encode(labels, &source.dev, &tokenizer, "dev")?;
    let outputs = labels.map_or(1, |l| l.len());
    let heads = HeadSpec { classifier: Some(outputs), masked_lm: false };
    let (mut model, _) = Model::from_dir(&model_dir, heads, cfg.init_seed).map_err(err)?;
    model.config.hidden_dropout = cfg.hidden_dropout;
    model.config.attention_dropout = cfg.attention_dropout;
    model.config.classifier_dropout = cfg.classifier_dropout;
    Ok(Setup { source_name: source.name, metric: source.metric, model_dir, model, train, dev })
}

/// Parameter runs for the optimizer: weight decay except on biases and LayerNorm parameters, and the
/// layer-wise learning-rate multiplier `decay^(L - l)` (embeddings lowest, heads at the full rate).
fn segments(model: &Model, layerwise_decay: Option<f64>) -> Vec<Segment> {
    let layers = model.layout.layers.len() as i32;
    model
        .params
        .infos
        .iter()
        .map(|i| {
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

/// One optimizer update as the authors' code does it: forward and backward, the global gradient norm
/// (before clipping), clipping, and AdamW with the scheduled learning rate.
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
        let loss = model
            .loss_and_grads(batch, target, mode, ws, grads)
            .map_err(|e| DataError::Other(e.to_string()))?;
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

/// Dev-set logits, batched by length, in dev order.
fn predict(model: &Model, dev: &Dataset, batch_size: usize, ws: &mut Workspace) -> Result<Vec<f32>> {
    let outputs = model.heads.classifier.unwrap_or(1);
    let mut order: Vec<usize> = (0..dev.len()).collect();
    order.sort_by_key(|&i| dev.inputs[i].input_ids.len());
    let mut logits = vec![0.0f32; dev.len() * outputs];
    for chunk in order.chunks(batch_size) {
        let (batch, _) = dev.batch(chunk, model.config.pad_token_id);
        let out = model.classify(&batch, Mode::Eval, ws).map_err(|e| DataError::Other(e.to_string()))?;
        for (k, &i) in chunk.iter().enumerate() {
            logits[i * outputs..(i + 1) * outputs].copy_from_slice(&out[k * outputs..(k + 1) * outputs]);
        }
    }
    Ok(logits)
}

/// The batches after which to evaluate within an epoch: `evals` points spread evenly, the last at the
/// epoch's end (1-based batch counts).
fn eval_points(batches: usize, evals: usize) -> Vec<usize> {
    let mut p: Vec<usize> =
        (1..=evals).map(|j| ((j * batches) as f64 / evals as f64).round() as usize).collect();
    p.retain(|&b| b >= 1);
    p.dedup();
    p
}

/// Runs (or, with `resume`, continues) the run of `cfg` in `out`.
pub fn train(cfg: &TrainConfig, out: &Path, resume: bool, observer: &mut dyn Observer) -> Result<Summary> {
    let run = RunDir::create(out)?;
    let frozen = cfg.to_toml();
    let config_path = run.file("config.toml");
    if resume {
        // The thread count never changes a result, so a run may continue with another.
        let saved: Option<TrainConfig> =
            std::fs::read_to_string(&config_path).ok().and_then(|t| toml::from_str(&t).ok());
        if saved.map(|c| TrainConfig { threads: cfg.threads, ..c }).as_ref() != Some(cfg) {
            return Err(DataError::Other(format!(
                "{}: --resume needs the run's own configuration; it differs from the one given",
                config_path.display()
            )));
        }
    } else if config_path.exists() || run.file("metrics.jsonl").exists() {
        return Err(DataError::Other(format!(
            "{} already holds a run; use --resume to continue it, or choose another --out",
            out.display()
        )));
    }
    let Setup { source_name, metric, model_dir, mut model, train, dev } = setup(cfg)?;
    let head = metric.name();
    let baseline = majority_baseline(metric, &train.labels, &dev.labels);
    let pad = model.config.pad_token_id;

    let per_epoch = train.len().div_ceil(cfg.batch_size);
    let full = (cfg.epochs * per_epoch) as u64;
    let total = if cfg.max_steps > 0 { cfg.max_steps.min(full) } else { full };
    let warmup = cfg.warmup_steps.unwrap_or_else(|| Schedule::warmup_from_ratio(cfg.warmup_ratio, total));
    let schedule = Schedule { kind: cfg.schedule, lr: cfg.lr, warmup, total };
    let updater = Updater::new(&model, cfg);
    let matrices: Vec<(String, Range<usize>)> = model
        .params
        .infos
        .iter()
        .filter(|i| i.shape.len() == 2)
        .map(|i| (i.name.clone(), i.range()))
        .collect();

    let (mut state, mut adam) = match run.last_checkpoint().filter(|_| resume) {
        Some(dir) => {
            let heads = model.heads;
            let (loaded, _) =
                Model::from_dir(&dir, heads, cfg.init_seed).map_err(|e| DataError::Other(e.to_string()))?;
            model.params.values.copy_from_slice(&loaded.params.values);
            let (state, adam) = load_resume_state(&dir, &model.params)?;
            run.truncate_log(state.step)?;
            (state, adam)
        }
        None if resume => {
            return Err(DataError::Other(format!("{}: no checkpoint to resume from", out.display())))
        }
        None => {
            run.write_atomic("config.toml", frozen.as_bytes())?;
            (TrainerState::default(), AdamState::new(model.params.len()))
        }
    };

    let mut ws = Workspace::new();
    let mut grads = model.zero_grads();
    let mut last_metrics: Option<Metrics> = None;
    let mut status = Status::Completed;
    let started = Instant::now();
    let seconds_before = state.train_seconds;
    let evals = eval_points(per_epoch, cfg.evals_per_epoch);

    'epochs: while state.step < total {
        let order = epoch_order(train.len(), cfg.data_seed, state.epoch);
        let batches: Vec<&[usize]> = order.chunks(cfg.batch_size).collect();
        while state.batch_in_epoch < batches.len() && state.step < total {
            let idx = batches[state.batch_in_epoch];
            let (batch, labels) = train.batch(idx, pad);
            let mode = Mode::Train { seed: cfg.init_seed, step: state.step };
            let target = match &labels {
                Labels::Classes(y) => Target::Classes(y),
                Labels::Scores(y) => Target::Regression(y),
            };
            let lr = schedule.lr_at(state.step);
            let want_norms = (state.step + 1) % cfg.grad_norms_every == 0;
            let mut norms = None;
            let mut inspect = |g: &[f32], u: &Update| {
                if want_norms || u.diverged() {
                    norms = Some(matrix_norms(&matrices, g));
                }
            };
            let update = updater.step(
                &mut model,
                &batch,
                target,
                mode,
                lr,
                &mut ws,
                &mut grads,
                &mut adam,
                &mut inspect,
            )?;
            let (loss, norm) = (update.loss, update.grad_norm);
            let epoch_pos = state.epoch as f64 + (state.batch_in_epoch + 1) as f64 / batches.len() as f64;
            let mut record = json!({
                "step": state.step + 1, "epoch": epoch_pos, "loss": loss, "lr": lr, "grad_norm": norm,
            });
            if let Some(n) = norms {
                record["grad_norms"] = n.into();
            }
            if update.diverged() || (state.step + 1) % cfg.log_every == 0 || state.step + 1 == total {
                run.log(&record)?;
            }
            if update.diverged() {
                status = Status::Diverged;
                break 'epochs;
            }
            state.step += 1;
            state.batch_in_epoch += 1;
            state.examples_seen += idx.len() as u64;
            observer.on_step(&StepRecord {
                step: state.step,
                total_steps: total,
                epoch: epoch_pos,
                loss,
                lr,
                grad_norm: norm,
            });

            let at_eval = evals.contains(&state.batch_in_epoch) || state.step == total;
            if at_eval {
                let logits = predict(&model, &dev, cfg.eval_batch_size, &mut ws)?;
                let metrics = evaluate(metric, &logits, &dev.labels);
                run.log(&json!({ "step": state.step, "epoch": epoch_pos, "eval": metrics }))?;
                observer.on_eval(state.step, &metrics, head);
                let value = metrics.get(head).copied().unwrap_or(f64::NEG_INFINITY);
                let best = state.best_metrics.as_ref().and_then(|m| m.get(head)).copied();
                if best.is_none_or(|b| value > b) {
                    state.best_step = Some(state.step);
                    state.evals_without_improvement = 0;
                    state.best_metrics = Some(metrics.clone());
                    run.save_model(BEST, &model, &model_dir)?;
                } else {
                    state.evals_without_improvement += 1;
                }
                last_metrics = Some(metrics);
                if cfg.early_stopping_patience > 0
                    && state.evals_without_improvement >= cfg.early_stopping_patience
                {
                    status = Status::EarlyStopped;
                }
            }
            let stop = observer.should_stop();
            if stop {
                status = Status::Interrupted;
            }
            // The resume point (weights, moments, position): at each epoch's end, at the end, and when
            // stopping. A crash loses at most the current epoch.
            if state.batch_in_epoch == batches.len()
                || state.step == total
                || stop
                || status == Status::EarlyStopped
            {
                state.train_seconds = seconds_before + started.elapsed().as_secs_f64();
                run.save_last(&model, &model_dir, &adam, &state)?;
            }
            if status != Status::Completed {
                break 'epochs;
            }
        }
        if state.batch_in_epoch >= batches.len() {
            state.epoch += 1;
            state.batch_in_epoch = 0;
        }
    }

    state.train_seconds = seconds_before + started.elapsed().as_secs_f64();
    // The final metrics are those of the last evaluation, which a completed run always ends with. A run
    // stopped before any evaluation is evaluated now, unless it was interrupted (whoever pressed Ctrl-C
    // wants it to end) or diverged (its weights are not finite).
    let final_metrics = match (last_metrics, status) {
        (Some(m), _) => m,
        (None, Status::Interrupted | Status::Diverged) => Metrics::new(),
        (None, _) => evaluate(metric, &predict(&model, &dev, cfg.eval_batch_size, &mut ws)?, &dev.labels),
    };
    let failed = baseline.and_then(|b| final_metrics.get(head).map(|v| *v <= b));
    let summary = Summary {
        status,
        task: source_name,
        model: cfg.model.clone(),
        recipe: cfg.recipe.name().to_string(),
        init_seed: cfg.init_seed,
        data_seed: cfg.data_seed,
        train_examples: train.len(),
        dev_examples: dev.len(),
        steps: state.step,
        total_steps: total,
        epochs: state.epoch as f64 + state.batch_in_epoch as f64 / per_epoch as f64,
        headline_metric: head.to_string(),
        final_metrics,
        best_metrics: state.best_metrics.clone(),
        best_step: state.best_step,
        majority_baseline: baseline,
        failed,
        wall_seconds: state.train_seconds,
        train_examples_per_second: state.examples_seen as f64 / state.train_seconds.max(1e-9),
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: env!("STABLETUNE_GIT_COMMIT").to_string(),
    };
    run.write_json("summary.json", &summary)?;
    Ok(summary)
}

/// The L2 norm of each weight matrix's gradient, by Hugging Face name.
fn matrix_norms(
    matrices: &[(String, Range<usize>)],
    grads: &[f32],
) -> serde_json::Map<String, serde_json::Value> {
    matrices.iter().map(|(name, r)| (name.clone(), json!(global_norm(&grads[r.clone()])))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layerwise_learning_rates() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-bert");
        let (model, _) =
            Model::from_dir(&dir, HeadSpec { classifier: Some(3), masked_lm: false }, 0).unwrap();
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

    #[test]
    fn evaluation_points() {
        assert_eq!(eval_points(63, 3), vec![21, 42, 63]);
        assert_eq!(eval_points(10, 1), vec![10]);
        assert_eq!(eval_points(2, 3), vec![1, 2]);
    }
}

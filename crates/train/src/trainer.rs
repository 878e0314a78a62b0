//! One fine-tuning run, in parts a study runner can drive: [`Run::open`] (validate, load the data and the
//! model, start, resume or restart), [`Run::evaluate`], [`Run::update`] (one AdamW step and the
//! evaluations the authors' schedule puts after it), [`Run::checkpoint`] and [`Run::finish`] (the
//! summary); [`train`] strings them together.
//!
//! Everything a run does is a pure function of its config and seeds: each epoch's order comes from the
//! data seed, each update's dropout from the init seed and the update's index. That is what makes
//! `--resume` end bit-identical to an uninterrupted run.

use crate::config::TrainConfig;
use crate::dataset::{epoch_order, sample_indices, Dataset, Labels};
use crate::error::{Result, TrainError};
use crate::evaluation::{predict, EvalSchedule};
use crate::metrics::{evaluate, majority_metrics, Metric, Metrics};
use crate::mixout::Mixout;
use crate::optim::{global_norm, AdamState};
use crate::run_dir::{load_resume_state, RunDir, TrainerState, WriteFence, BEST};
use crate::schedule::Schedule;
use crate::sentinel::{self, Layers, Sentinel, Warning, RULE};
use crate::source;
use crate::summary::{failed, Status, Summary};
use crate::token_cache;
use crate::updater::{Update, Updater};
use serde_json::json;
use sha2::{Digest, Sha256};
use stabletune_engine::profile::{timed, Kind};
use stabletune_model::tokenizer::TextEncoder;
use stabletune_model::{hub, HeadSpec, Mode, Model, Target, Workspace};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// The run is about to train: where it starts, its length and its warmup.
    fn on_start(&mut self, _step: u64, _total_steps: u64, _warmup_steps: u64) {}
    /// The task's majority-class baseline on the headline metric (`None` for regression), before training.
    fn on_baseline(&mut self, _baseline: Option<f64>) {}
    fn on_step(&mut self, _record: &StepRecord) {}
    fn on_eval(&mut self, _step: u64, _metrics: &Metrics, _headline: &str) {}
    /// The failure sentinel flagged the run (once per run).
    fn on_sentinel(&mut self, _warning: &Warning) {}
    /// Asked before every write into the run directory ([`WriteFence`]); `None`: always allowed.
    fn write_fence(&self) -> Option<WriteFence> {
        None
    }
    fn should_stop(&mut self) -> bool {
        false
    }
}

/// An observer that shows nothing and never stops a run.
pub struct Quiet;
impl Observer for Quiet {}

/// The data of a run, loaded and tokenised, and the model with its new head.
struct Loaded {
    source_name: String,
    metric: Metric,
    model_dir: PathBuf,
    model: Model,
    train: Dataset,
    dev: Dataset,
    sample_sha256: String,
}

/// Reads and tokenises the data (through the token cache in `cache`, when given) and loads the model:
/// everything that can fail on bad input, done before the run directory is touched.
fn load(cfg: &TrainConfig, cache: Option<&Path>) -> Result<Loaded> {
    let mut source = source::load(cfg)?;
    let model_dir = hub::resolve_model(&cfg.model)?;
    let rows: Vec<usize> = match cfg.train_limit {
        Some(k) => sample_indices(source.train.len(), k, cfg.sample_seed),
        None => (0..source.train.len()).collect(),
    };
    let sample_sha256 = rows_sha256(&rows);
    if cfg.train_limit.is_some() {
        source.train = rows.iter().map(|&i| source.train[i].clone()).collect();
    }
    let tokenizer = TextEncoder::from_dir(&model_dir, cfg.max_seq_length)?;
    let labels = source.label_set.as_deref();
    let encode = |examples: &[crate::data::Example], what: &str| -> Result<Dataset> {
        let Some(dir) = cache else { return Ok(Dataset::encode(labels, examples, &tokenizer, what)?) };
        let path = token_cache::entry(dir, &model_dir, cfg.max_seq_length, labels, examples);
        if let Some(data) = token_cache::load(&path) {
            return Ok(data);
        }
        let data = Dataset::encode(labels, examples, &tokenizer, what)?;
        if let Err(e) = token_cache::save(&path, &data) {
            tracing::warn!("{}: cannot cache the tokenised {what} set: {e}", path.display());
        }
        Ok(data)
    };
    let train = encode(&source.train, "train")?;
    let dev = encode(&source.dev, "dev")?;
    let outputs = labels.map_or(1, |l| l.len());
    let heads = HeadSpec { classifier: Some(outputs), masked_lm: false };
    let (mut model, _) = Model::from_dir(&model_dir, heads, cfg.init_seed)?;
    if !cfg.keep_head {
        model.reinit_classifier(cfg.init_seed);
    }
    // Zhang et al.'s re-initialisation, before Mixout takes the weights as its targets (as the revisit code).
    model.reinit(cfg.reinit_layers, cfg.reinit_pooler, cfg.init_seed)?;
    model.config.hidden_dropout = cfg.hidden_dropout;
    model.config.attention_dropout = cfg.attention_dropout;
    model.config.classifier_dropout = cfg.classifier_dropout;
    model.config.head_input_dropout = cfg.head_input_dropout;
    Ok(Loaded {
        source_name: source.name,
        metric: source.metric,
        model_dir,
        model,
        train,
        dev,
        sample_sha256,
    })
}

/// SHA-256 of training-row indices as little-endian u64s.
pub fn rows_sha256(rows: &[usize]) -> String {
    let mut h = Sha256::new();
    for &r in rows {
        h.update((r as u64).to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`Run::open`] found.
pub enum Opened {
    /// A run ready to train (fresh, resumed or restarted).
    Ready(Box<Run>),
    /// `--resume` of a run that already ended: its summary, unchanged.
    Finished(Box<Summary>),
}

/// A run in progress.
pub struct Run {
    cfg: TrainConfig,
    dir: RunDir,
    loaded: Loaded,
    baseline: Option<f64>,
    /// Every metric of the majority-class prediction, for the summary.
    baseline_metrics: Option<Metrics>,
    schedule: Schedule,
    evals: EvalSchedule,
    per_epoch: usize,
    updater: Updater,
    matrices: Vec<(String, Range<usize>)>,
    pub state: TrainerState,
    adam: AdamState,
    ws: Workspace,
    grads: Vec<f32>,
    /// The current epoch's batches (of `order_epoch`).
    order: Vec<usize>,
    order_epoch: Option<usize>,
    started: Instant,
    seconds_before: f64,
    /// The best weights so far, when newer than `checkpoint-best` on disk. Kept in memory (one copy of the
    /// weights) and written with the next resume checkpoint or at the end, because nothing reads
    /// `checkpoint-best` during the run: writing it at every improvement cost a full save each time.
    best_unsaved: Option<Vec<f32>>,
    /// The token ids of the dev set, sorted and distinct: the word-embedding rows an evaluation reads.
    dev_rows: Vec<u32>,
    /// The loss of a constant prediction of the training labels.
    constant_loss: f64,
    /// The failure sentinel, when the run is watched, and which matrices it reads as lower and top layers.
    sentinel: Option<Sentinel>,
    layers: Layers,
}

impl Run {
    /// Validates `cfg` against `out` (a fresh run needs an unused directory; `resume` needs the run's own
    /// configuration), loads everything, and only then creates or continues the run directory. With
    /// `resume`, a run that ended is returned as its summary; one killed before its first checkpoint
    /// starts again from step 0.
    pub fn open(cfg: &TrainConfig, out: &Path, resume: bool) -> Result<Opened> {
        Run::open_cached(cfg, out, resume, None)
    }

    /// [`Run::open`], reading and writing tokenised data in the token cache folder `cache` (a study's).
    pub fn open_cached(cfg: &TrainConfig, out: &Path, resume: bool, cache: Option<&Path>) -> Result<Opened> {
        Run::open_fenced(cfg, out, resume, cache, None)
    }

    /// [`Run::open_cached`] whose every write into `out` first asks `fence` ([`WriteFence`]).
    pub fn open_fenced(
        cfg: &TrainConfig,
        out: &Path,
        resume: bool,
        cache: Option<&Path>,
        fence: Option<WriteFence>,
    ) -> Result<Opened> {
        let config_path = out.join("config.toml");
        let run_dir_err = |message: String| TrainError::RunDir { path: out.to_path_buf(), message };
        if resume {
            let text = std::fs::read_to_string(&config_path)
                .map_err(|_| run_dir_err("no run to resume (config.toml is missing)".into()))?;
            let saved: TrainConfig =
                crate::config::parse_toml(&config_path, &text).map_err(TrainError::Config)?;
            // The thread count never changes a result, so a run may continue with another; the sentinel's
            // setting may change too (a run it stopped continues with it off or on `flag`).
            if (TrainConfig { threads: cfg.threads, sentinel: cfg.sentinel, ..saved }) != *cfg {
                return Err(run_dir_err(
                    "--resume needs the run's own configuration; it differs from the one given".into(),
                ));
            }
            if let Some(summary) = read_summary(out).filter(|s| s.status.is_final()) {
                return Ok(Opened::Finished(Box::new(summary)));
            }
        } else if config_path.exists() || out.join("metrics.jsonl").exists() {
            return Err(run_dir_err(
                "already holds a run; use --resume to continue it, or choose another --out".into(),
            ));
        }
        let loaded = load(cfg, cache)?;
        let dir = RunDir::create_fenced(out, fence)?;
        let baseline_metrics = majority_metrics(loaded.metric, &loaded.train.labels, &loaded.dev.labels);
        let baseline = baseline_metrics.as_ref().and_then(|m| m.get(loaded.metric.name()).copied());
        let per_epoch = loaded.train.len().div_ceil(cfg.batch_size);
        // The authors' max_steps replaces t_total: the schedule spans it and the data is repeated as needed.
        let total = if cfg.max_steps > 0 { cfg.max_steps } else { (cfg.epochs * per_epoch) as u64 };
        let warmup = cfg.warmup_steps.unwrap_or_else(|| Schedule::warmup_from_ratio(cfg.warmup_ratio, total));
        let model = &loaded.model;
        let constant_loss = sentinel::constant_loss(&loaded.train.labels);
        let sentinel =
            cfg.sentinel.watches().then(|| Sentinel::new(RULE, constant_loss, baseline, warmup, total));
        let matrices: Vec<(String, Range<usize>)> = model
            .params
            .infos
            .iter()
            .enumerate()
            .filter(|(i, info)| info.shape.len() == 2 && model.on_forward_path(*i))
            .map(|(_, info)| (info.name.clone(), info.range()))
            .collect();
        let layers = Layers::of(matrices.iter().map(|(name, _)| name.as_str()));
        let mut run = Run {
            cfg: cfg.clone(),
            schedule: Schedule { kind: cfg.schedule, lr: cfg.lr, warmup, total },
            evals: EvalSchedule::new(per_epoch, cfg.evals_per_epoch, total),
            per_epoch,
            // Mixout's targets are the starting weights, taken here before a resume loads later ones.
            updater: Updater::new(model, cfg).with_mixout(
                (cfg.mixout > 0.0)
                    .then(|| Mixout::new(model, cfg.mixout, cfg.mixout_exact_gradient, cfg.init_seed)),
            ),
            matrices,
            state: TrainerState::default(),
            adam: AdamState::new(model.params.len()),
            ws: Workspace::new(),
            grads: model.zero_grads(),
            order: Vec::new(),
            order_epoch: None,
            started: Instant::now(),
            seconds_before: 0.0,
            best_unsaved: None,
            dev_rows: {
                let mut ids: Vec<u32> =
                    loaded.dev.inputs.iter().flat_map(|e| e.input_ids.iter().copied()).collect();
                ids.sort_unstable();
                ids.dedup();
                ids
            },
            baseline,
            baseline_metrics,
            dir,
            loaded,
            constant_loss,
            sentinel,
            layers,
        };
        match run.dir.last_checkpoint().filter(|_| resume) {
            Some(ck) => run.restore(&ck)?,
            None => {
                // A fresh run, or one killed before its first checkpoint: start from step 0.
                run.dir.truncate_log(None)?;
                run.dir.write_atomic("config.toml", cfg.to_toml().as_bytes())?;
            }
        }
        Ok(Opened::Ready(Box::new(run)))
    }

    fn restore(&mut self, ck: &Path) -> Result<()> {
        let (saved, _) = Model::from_dir(ck, self.loaded.model.heads, self.cfg.init_seed)?;
        self.loaded.model.params.values.copy_from_slice(&saved.params.values);
        let (state, adam) = load_resume_state(ck, &self.loaded.model.params)?;
        self.dir.truncate_log(Some(state.step))?;
        self.seconds_before = state.train_seconds;
        (self.state, self.adam) = (state, adam);
        self.updater.resume_at(self.adam.step);
        if let Some(sentinel) = &mut self.sentinel {
            match self.state.sentinel.take() {
                Some(saved) => sentinel.state = saved,
                // Started without the sentinel: its state is rebuilt from the log, which now ends at the
                // checkpoint (exact when every update's loss was logged, `log_every = 1`).
                None => {
                    let path = self.dir.path.join("metrics.jsonl");
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let trace = sentinel::Trace::parse(&text, self.loaded.metric.name())
                        .map_err(|message| TrainError::RunDir { path, message })?;
                    let fresh = Sentinel { state: Default::default(), ..sentinel.clone() };
                    sentinel.state = trace.replay_state(fresh);
                }
            }
        }
        Ok(())
    }

    pub fn headline(&self) -> &'static str {
        self.loaded.metric.name()
    }

    /// Evaluates on dev, logs the result and keeps the best (strictly better headline metric, as the
    /// authors' `eval_metric > last_eval_metric`; the step-0 evaluation is the first best).
    pub fn evaluate(&mut self, observer: &mut dyn Observer) -> Result<Metrics> {
        // Evaluation reads only the dev set's word embeddings; the other rows stay lazy.
        self.updater.catch_up(&mut self.loaded.model, &mut self.adam, &self.dev_rows);
        let Loaded { model, dev, metric, .. } = &self.loaded;
        let batch_size = self.cfg.eval_batch_size;
        let logits = timed(Kind::Evaluation, || predict(model, dev, batch_size, &mut self.ws))?;
        let metrics = evaluate(*metric, &logits, &dev.labels);
        let step = self.state.step;
        self.dir.log(&json!({ "step": step, "epoch": self.epoch_position(), "eval": metrics }))?;
        let head = metric.name();
        observer.on_eval(step, &metrics, head);
        let value = metrics.get(head).copied().unwrap_or(f64::NEG_INFINITY);
        if let Some(sentinel) = &mut self.sentinel {
            sentinel.observe_eval(step, value);
        }
        let best = self.state.best_metrics.as_ref().and_then(|m| m.get(head)).copied();
        if best.is_none_or(|b| value > b) {
            self.state.best_step = Some(step);
            self.state.evals_without_improvement = 0;
            self.state.best_metrics = Some(metrics.clone());
            self.updater.flush(&mut self.loaded.model, &mut self.adam);
            let values = &self.loaded.model.params.values;
            match &mut self.best_unsaved {
                Some(best) => best.copy_from_slice(values),
                None => self.best_unsaved = Some(values.clone()),
            }
        } else {
            self.state.evals_without_improvement += 1;
        }
        self.state.last_eval = Some((step, metrics.clone()));
        Ok(metrics)
    }

    /// Epochs done, as a fraction.
    fn epoch_position(&self) -> f64 {
        self.state.epoch as f64 + self.state.batch_in_epoch as f64 / self.per_epoch as f64
    }

    /// One update and the evaluation the schedule puts after it. Returns how the run ended when it did
    /// (`None`: it goes on).
    pub fn update(&mut self, observer: &mut dyn Observer) -> Result<Option<Status>> {
        if self.state.batch_in_epoch >= self.per_epoch {
            self.state.epoch += 1;
            self.state.batch_in_epoch = 0;
        }
        if self.order_epoch != Some(self.state.epoch) {
            self.order = epoch_order(self.loaded.train.len(), self.cfg.data_seed, self.state.epoch);
            self.order_epoch = Some(self.state.epoch);
        }
        let b = self.state.batch_in_epoch * self.cfg.batch_size;
        let idx = self.order[b..(b + self.cfg.batch_size).min(self.order.len())].to_vec();
        let model = &mut self.loaded.model;
        let (batch, labels) = self.loaded.train.batch(&idx);
        let target = match &labels {
            Labels::Classes(y) => Target::Classes(y),
            Labels::Scores(y) => Target::Regression(y),
        };
        let step = self.state.step;
        let lr = self.schedule.lr_at(step);
        // The authors log per-matrix norms before updates 0, 10, 20, ... of their 0-based count.
        let want_norms = step.is_multiple_of(self.cfg.grad_norms_every);
        let mut norms = None;
        let matrices = &self.matrices;
        let mut inspect = |g: &[f32], u: &Update| {
            if want_norms || u.diverged() {
                norms = Some(matrix_norms(matrices, g));
            }
        };
        let mode = Mode::Train { seed: self.cfg.init_seed, step };
        let update = self.updater.step(
            model,
            &batch,
            target,
            mode,
            lr,
            &mut self.ws,
            &mut self.grads,
            &mut self.adam,
            &mut inspect,
        )?;
        let epoch = self.state.epoch as f64 + (self.state.batch_in_epoch + 1) as f64 / self.per_epoch as f64;
        let mut record = json!({ "step": step + 1, "epoch": epoch, "loss": update.loss, "lr": lr, "grad_norm": update.grad_norm });
        if let Some(n) = &norms {
            record["grad_norms"] = json!(n);
        }
        if update.diverged()
            || (step + 1).is_multiple_of(self.cfg.log_every)
            || step + 1 == self.schedule.total
        {
            self.dir.log(&record)?;
        }
        if update.diverged() {
            return Ok(Some(Status::Diverged));
        }
        let mut flagged = None;
        if let Some(sentinel) = &mut self.sentinel {
            sentinel.observe_loss(update.loss as f64);
            if let Some(n) = &norms {
                let (lower, top) = self.layers.reduce(n);
                flagged = sentinel.check(step + 1, lower, top);
            }
        }
        if let Some(warning) = &flagged {
            self.dir.log(&json!({ "step": step + 1, "sentinel": warning }))?;
            observer.on_sentinel(warning);
        }
        self.state.step += 1;
        self.state.batch_in_epoch += 1;
        self.state.examples_seen += idx.len() as u64;
        let total_steps = self.schedule.total;
        let (loss, grad_norm) = (update.loss, update.grad_norm);
        observer.on_step(&StepRecord { step: step + 1, total_steps, epoch, loss, lr, grad_norm });

        let mut ended = None;
        if flagged.is_some() && self.cfg.sentinel.stops() {
            ended = Some(Status::StoppedBySentinel);
        }
        if self.evals.after(self.state.step, self.state.batch_in_epoch) {
            self.evaluate(observer)?;
            let patience = self.cfg.early_stopping_patience;
            if patience > 0 && self.state.evals_without_improvement >= patience {
                ended = ended.or(Some(Status::EarlyStopped));
            }
        }
        if self.state.step >= total_steps {
            ended = ended.or(Some(Status::Completed));
        }
        if ended.is_none() && observer.should_stop() {
            ended = Some(Status::Interrupted);
        }
        // The resume point: at each epoch's end, every `checkpoint_every` updates, and at the end.
        let every = self.cfg.checkpoint_every;
        if ended.is_none()
            && (self.state.batch_in_epoch == self.per_epoch
                || (every > 0 && self.state.step.is_multiple_of(every)))
        {
            self.checkpoint()?;
        }
        Ok(ended)
    }

    /// Writes `checkpoint-last` (weights, Adam's moments and the trainer state), after `checkpoint-best`
    /// when a better model was found since it was last written: the state names the best step, so the
    /// best weights go to disk first. Once the run has ended (a final status), the moments are left out
    /// and weights equal to the best ones are linked, not written twice.
    pub fn checkpoint(&mut self) -> Result<()> {
        self.updater.flush(&mut self.loaded.model, &mut self.adam);
        self.state.sentinel = self.sentinel.as_ref().map(|s| s.state.clone());
        timed(Kind::Io, || {
            self.state.train_seconds = self.seconds_before + self.started.elapsed().as_secs_f64();
            let Loaded { model, model_dir, .. } = &mut self.loaded;
            let ended = self.state.status.is_some_and(|s| s.is_final());
            let best_is_current =
                self.best_unsaved.is_some() && self.state.best_step == Some(self.state.step);
            if let Some(mut best) = self.best_unsaved.take() {
                std::mem::swap(&mut model.params.values, &mut best);
                let saved = self.dir.save_model(BEST, model, model_dir);
                std::mem::swap(&mut model.params.values, &mut best);
                if saved.is_err() {
                    self.best_unsaved = Some(best);
                }
                saved?;
            }
            let adam = (!ended).then_some(&self.adam);
            let weights_as = (ended && best_is_current).then_some(BEST);
            self.dir.save_last(model, model_dir, adam, &self.state, weights_as)
        })
    }

    /// Trains until the run ends: the step-0 evaluation first when starting from the beginning.
    pub fn run_to_end(&mut self, observer: &mut dyn Observer) -> Result<Status> {
        if let Some(status) = self.state.status {
            return Ok(status);
        }
        observer.on_start(self.state.step, self.schedule.total, self.schedule.warmup);
        observer.on_baseline(self.baseline);
        if self.state.step == 0 {
            self.evaluate(observer)?;
        }
        loop {
            if let Some(status) = self.update(observer)? {
                return Ok(status);
            }
        }
    }

    /// Records how the run ended in its last checkpoint and writes `summary.json`.
    pub fn finish(mut self, status: Status) -> Result<Summary> {
        if status.is_final() {
            self.state.status = Some(status);
        }
        let head = self.headline();
        // A completed or early-stopped run ended with an evaluation of its final weights.
        // A run the sentinel stopped is evaluated where it stopped: the value its failure is reported with.
        let final_metrics = match (status, &self.state.last_eval) {
            (Status::Completed | Status::EarlyStopped | Status::StoppedBySentinel, Some((step, m)))
                if *step == self.state.step =>
            {
                m.clone()
            }
            (Status::Completed | Status::EarlyStopped | Status::StoppedBySentinel, _) => {
                self.evaluate(&mut Quiet)?
            }
            (Status::Diverged | Status::Interrupted | Status::StoppedBySchedule, _) => Metrics::new(),
        };
        self.checkpoint()?;
        let cfg = &self.cfg;
        let summary = Summary {
            status,
            task: self.loaded.source_name.clone(),
            model: cfg.model.clone(),
            recipe: cfg.recipe.name().to_string(),
            init_seed: cfg.init_seed,
            data_seed: cfg.data_seed,
            sample_seed: cfg.sample_seed,
            train_examples: self.loaded.train.len(),
            train_sample_sha256: self.loaded.sample_sha256.clone(),
            dev_examples: self.loaded.dev.len(),
            steps: self.state.step,
            total_steps: self.schedule.total,
            warmup_steps: self.schedule.warmup,
            epochs: self.state.step as f64 / self.per_epoch as f64,
            headline_metric: head.to_string(),
            failed: failed(status, final_metrics.get(head).copied(), self.baseline),
            constant_loss: Some(self.constant_loss),
            sentinel: cfg.sentinel,
            sentinel_warning: self.sentinel.as_ref().and_then(|s| s.state.flagged.clone()),
            final_metrics,
            best_metrics: self.state.best_metrics.clone(),
            best_step: self.state.best_step,
            majority_baseline: self.baseline,
            majority_metrics: self.baseline_metrics.clone(),
            wall_seconds: self.state.train_seconds,
            train_examples_per_second: self.state.examples_seen as f64 / self.state.train_seconds.max(1e-9),
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: crate::summary::GIT_COMMIT.to_string(),
        };
        self.dir.write_json("summary.json", &summary)?;
        Ok(summary)
    }
}

/// A run's `summary.json`, when it has a readable one.
pub fn read_summary(out: &Path) -> Option<Summary> {
    let text = std::fs::read_to_string(out.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs (or, with `resume`, continues) the run of `cfg` in `out`.
pub fn train(cfg: &TrainConfig, out: &Path, resume: bool, observer: &mut dyn Observer) -> Result<Summary> {
    train_cached(cfg, out, resume, observer, None)
}

/// [`train`] with a token cache folder.
pub fn train_cached(
    cfg: &TrainConfig,
    out: &Path,
    resume: bool,
    observer: &mut dyn Observer,
    cache: Option<&Path>,
) -> Result<Summary> {
    let mut run = match Run::open_fenced(cfg, out, resume, cache, observer.write_fence())? {
        Opened::Finished(summary) => return Ok(*summary),
        Opened::Ready(run) => run,
    };
    let status = run.run_to_end(observer)?;
    run.finish(status)
}

/// The L2 norm of each weight matrix's gradient, by Hugging Face name.
fn matrix_norms(matrices: &[(String, Range<usize>)], grads: &[f32]) -> BTreeMap<String, f64> {
    matrices.iter().map(|(name, r)| (name.clone(), global_norm(&grads[r.clone()]))).collect()
}

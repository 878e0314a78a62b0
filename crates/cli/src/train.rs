//! `stabletune train`: one fine-tuning run. Settings resolve as flags over `--config FILE.toml` over the
//! recipe's defaults for the model family; the resolved config is frozen into the run directory.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use stabletune_model::{hub, EncoderConfig};
use stabletune_train::config::{ClipMode, Recipe};
use stabletune_train::metrics::{Metric, Metrics};
use stabletune_train::schedule::ScheduleKind;
use stabletune_train::trainer::StepRecord;
use stabletune_train::{locations, train, Observer, Overrides, Status, TrainConfig};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args)]
pub struct TrainArgs {
    /// Model folder or Hugging Face Hub id (default: the MiniLM model in the assets folder).
    #[arg(long)]
    model: Option<String>,
    /// GLUE task (rte, sst-2, mrpc, cola, qnli, qqp, mnli, sts-b, wnli, scitail).
    #[arg(long)]
    task: Option<String>,
    /// Folder with the task's TSV files (default: $GLUE_DIR/<TASK>, else $STABLETUNE_ASSETS/glue/<TASK>).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Your own training data: a .csv, .tsv or .jsonl file with a header naming its columns (with
    /// --dev-file; --task then only names the data).
    #[arg(long)]
    train_file: Option<PathBuf>,
    #[arg(long)]
    dev_file: Option<PathBuf>,
    /// Column of the first text in --train-file/--dev-file (default text_a).
    #[arg(long)]
    text_a_column: Option<String>,
    /// Column of the second text, for sentence pairs.
    #[arg(long)]
    text_b_column: Option<String>,
    /// Column of the label (default label).
    #[arg(long)]
    label_column: Option<String>,
    /// The label set, comma-separated (default: the training labels, sorted).
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Headline metric: acc, f1, mcc, acc_and_f1, or pearson (regression).
    #[arg(long, value_parser = parse_metric)]
    metric: Option<Metric>,
    /// devlin2019 or mosbach2021 (default mosbach2021).
    #[arg(long, value_parser = parse_recipe)]
    recipe: Option<Recipe>,
    /// A TOML file of settings (the keys of a run's config.toml); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run directory (default runs/<task>-<recipe>-seed<init>-<data>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Sets both the init seed and the data seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Seed of new weights and dropout masks.
    #[arg(long)]
    init_seed: Option<u64>,
    /// Seed of the training order (and of --train-limit's sample).
    #[arg(long)]
    data_seed: Option<u64>,
    /// Train on N training examples sampled with the data seed.
    #[arg(long)]
    train_limit: Option<usize>,
    #[arg(long)]
    epochs: Option<usize>,
    /// Stop after N updates (the schedule then spans N updates).
    #[arg(long)]
    max_steps: Option<u64>,
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    max_seq_length: Option<usize>,
    /// warmup-linear, warmup-constant or warmup-cosine.
    #[arg(long, value_parser = parse_schedule)]
    schedule: Option<ScheduleKind>,
    #[arg(long)]
    warmup_ratio: Option<f64>,
    #[arg(long)]
    warmup_steps: Option<u64>,
    #[arg(long)]
    bias_correction: Option<bool>,
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Gradient-norm clipping threshold (0: off).
    #[arg(long)]
    max_grad_norm: Option<f64>,
    /// global or per-parameter.
    #[arg(long, value_parser = parse_clip)]
    clip: Option<ClipMode>,
    /// Layer-wise learning-rate decay factor (lr of layer l = lr · decay^(L - l)).
    #[arg(long)]
    layerwise_lr_decay: Option<f64>,
    #[arg(long)]
    evals_per_epoch: Option<usize>,
    /// Stop after N evaluations without improvement.
    #[arg(long)]
    early_stopping_patience: Option<usize>,
    /// Worker threads (0: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_recipe(s: &str) -> Result<Recipe, String> {
    Recipe::parse(s).ok_or_else(|| format!("unknown recipe {s:?} (devlin2019, mosbach2021)"))
}

fn parse_metric(s: &str) -> Result<Metric, String> {
    serde_json::from_value(serde_json::Value::String(s.into())).map_err(|_| format!("unknown metric {s:?}"))
}

fn parse_schedule(s: &str) -> Result<ScheduleKind, String> {
    serde_json::from_value(serde_json::Value::String(s.into())).map_err(|_| format!("unknown schedule {s:?}"))
}

fn parse_clip(s: &str) -> Result<ClipMode, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| format!("unknown clip mode {s:?}"))
}

impl TrainArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            model: self.model.clone(),
            task: self.task.clone(),
            data_dir: self.data_dir.clone(),
            train_file: self.train_file.clone(),
            dev_file: self.dev_file.clone(),
            text_a_column: self.text_a_column.clone(),
            text_b_column: self.text_b_column.clone(),
            label_column: self.label_column.clone(),
            labels: self.labels.clone(),
            metric: self.metric,
            recipe: self.recipe,
            seed: self.seed,
            init_seed: self.init_seed,
            data_seed: self.data_seed,
            train_limit: self.train_limit,
            max_seq_length: self.max_seq_length,
            epochs: self.epochs,
            max_steps: self.max_steps,
            batch_size: self.batch_size,
            lr: self.lr,
            schedule: self.schedule,
            warmup_ratio: self.warmup_ratio,
            warmup_steps: self.warmup_steps,
            bias_correction: self.bias_correction,
            weight_decay: self.weight_decay,
            max_grad_norm: self.max_grad_norm,
            clip: self.clip,
            layerwise_lr_decay: self.layerwise_lr_decay,
            evals_per_epoch: self.evals_per_epoch,
            early_stopping_patience: self.early_stopping_patience,
            threads: self.threads,
            ..Default::default()
        }
    }
}

/// Progress: a bar on a terminal, plain lines otherwise; Ctrl-C asks the run to stop cleanly.
struct Progress {
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    last_eval: String,
    every: u64,
}

impl Observer for Progress {
    fn on_step(&mut self, r: &StepRecord) {
        let msg = format!("loss {:.4} lr {:.2e}{}", r.loss, r.lr, self.last_eval);
        match &self.bar {
            Some(bar) => {
                bar.set_length(r.total_steps);
                bar.set_position(r.step);
                bar.set_message(msg);
            }
            None if r.step.is_multiple_of(self.every) || r.step == r.total_steps => {
                eprintln!("step {}/{} epoch {:.2} {msg}", r.step, r.total_steps, r.epoch)
            }
            None => {}
        }
    }

    fn on_eval(&mut self, step: u64, metrics: &Metrics, headline: &str) {
        self.last_eval = format!(" dev {headline} {:.4}", metrics.get(headline).copied().unwrap_or(f64::NAN));
        if self.bar.is_none() {
            eprintln!("step {step}: dev {metrics:?}");
        }
    }

    fn should_stop(&mut self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    let mut o = args.overrides();
    if let Some(path) = &args.config {
        o = o.over(Overrides::from_toml_file(path).map_err(anyhow::Error::msg)?);
    }
    // Resuming: the run's own frozen config is the base, so `--resume --out DIR` is all it takes.
    if args.resume {
        let Some(out) = &args.out else { bail!("--resume needs --out, the run directory to continue") };
        let frozen = out.join("config.toml");
        if !frozen.exists() {
            bail!("{}: no run to resume (config.toml is missing)", out.display());
        }
        o = o.over(Overrides::from_toml_file(&frozen).map_err(anyhow::Error::msg)?);
    }
    if o.model.is_none() {
        o.model = Some(locations::default_model().display().to_string());
    }
    let model_dir = hub::resolve_model(o.model.as_deref().unwrap_or_default())?;
    let arch = EncoderConfig::from_file(&model_dir.join("config.json"))?.arch;
    if o.task.is_none() {
        bail!("give --task (or `task` in --config)");
    }
    let cfg = TrainConfig::resolve(o, arch).map_err(anyhow::Error::msg)?;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "runs/{}-{}-seed{}-{}",
            cfg.task.to_lowercase(),
            cfg.recipe.name(),
            cfg.init_seed,
            cfg.data_seed
        ))
    });
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A second Ctrl-C during the final checkpoint would be ignored; the process exits after saving.
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
                .expect("valid template"),
        );
        bar
    });
    let mut progress = Progress { bar, stop, last_eval: String::new(), every: 50 };
    tracing::info!("run directory {}", out.display());
    let summary = crate::with_threads(cfg.threads, || train(&cfg, &out, args.resume, &mut progress))
        .with_context(|| format!("training run in {}", out.display()))?;
    if let Some(bar) = &progress.bar {
        bar.finish();
    }
    let head = &summary.headline_metric;
    let show =
        |m: Option<&Metrics>| m.and_then(|m| m.get(head)).map_or("n/a".to_string(), |v| format!("{v:.4}"));
    println!(
        "{:?}: {} steps, final dev {head} {}, best {}{}, majority baseline {}, {:.1} examples/s",
        summary.status,
        summary.steps,
        show(Some(&summary.final_metrics)),
        show(summary.best_metrics.as_ref()),
        summary.best_step.map_or(String::new(), |s| format!(" (step {s})")),
        summary.majority_baseline.map_or("n/a".into(), |b| format!("{b:.4}")),
        summary.train_examples_per_second
    );
    if summary.status == Status::Interrupted {
        println!("interrupted; continue with --resume --out {}", out.display());
    }
    Ok(())
}

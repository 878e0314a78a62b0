//! `stabletune train`: one fine-tuning run. Settings resolve as flags over `--config FILE.toml` over the
//! recipe's defaults for the model family; the resolved config is frozen into the run directory.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use stabletune_model::{hub, EncoderConfig};
use stabletune_train::metrics::Metrics;
use stabletune_train::sentinel::Warning;
use stabletune_train::trainer::{read_summary, StepRecord};
use stabletune_train::{locations, train, Observer, Overrides, Status, Task, TrainConfig};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args)]
pub struct TrainArgs {
    /// Every setting of a run: the keys of config.toml, as flags.
    #[command(flatten)]
    settings: Overrides,
    /// A TOML file of settings (the keys of a run's config.toml); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run directory (default runs/<task>-<recipe>-seed<init>-<data>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint (a finished run is left as it is).
    #[arg(long)]
    resume: bool,
    /// Print where the time went at the end: matrix products, attention, element-wise kernels, the
    /// optimizer, evaluation, checkpoints (shares of the wall time).
    #[arg(long)]
    profile: bool,
}

/// Exit statuses besides 0 (completed or early-stopped) and 1 (an error): scripts and Slurm see how a
/// run ended.
pub const EXIT_DIVERGED: u8 = 3;
/// As a shell reports a process stopped by Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Stopped by the failure sentinel (`--sentinel stop`): a failed run, resumable.
pub const EXIT_STOPPED_BY_SENTINEL: u8 = 6;

/// Progress: a bar on a terminal, plain lines otherwise; Ctrl-C asks the run to stop cleanly.
struct Progress {
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    last_eval: String,
    every: u64,
}

impl Progress {
    fn say(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Observer for Progress {
    fn on_start(&mut self, step: u64, total: u64, warmup: u64) {
        let from = if step == 0 { String::new() } else { format!(", resuming after update {step}") };
        self.say(format!("training: {total} updates, {warmup} of them warmup{from}"));
    }

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
        let all: Vec<String> = metrics.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
        self.say(format!("step {step}: dev {}", all.join(", ")));
    }

    fn on_sentinel(&mut self, warning: &Warning) {
        self.say(format!("failure sentinel: {}", warning.sentence()));
    }

    fn should_stop(&mut self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let mut o = args.settings.clone();
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
    if cfg.train_file.is_none() && cfg.dataset.is_none() && Task::parse(&cfg.task).is_none() {
        bail!(
            "unknown task {:?}: use a GLUE task name, give --train-file and --dev-file, or a Hub --dataset",
            cfg.task
        );
    }
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
    // Ctrl-C, SIGTERM (Slurm's time limit and preemption, `kill`, `timeout`) and SIGHUP all ask the run
    // to stop after the current update and checkpoint; a second signal during that is ignored.
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C/SIGTERM handler")?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
                .expect("valid template"),
        );
        bar
    });
    let mut progress = Progress { bar, stop, last_eval: String::new(), every: 50 };
    if let Some(done) = read_summary(&out).filter(|s| args.resume && s.status.is_final()) {
        println!("the run in {} already ended ({:?}); nothing to do", out.display(), done.status);
    } else {
        tracing::info!("run directory {}", out.display());
    }
    stabletune_engine::profile::enable(args.profile);
    let started = std::time::Instant::now();
    let summary = crate::with_threads(cfg.threads, || train(&cfg, &out, args.resume, &mut progress))?;
    if let Some(bar) = &progress.bar {
        bar.finish();
    }
    if args.profile {
        print!("{}", stabletune_engine::profile::report(started.elapsed().as_secs_f64()));
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
    Ok(match summary.status {
        Status::Completed | Status::EarlyStopped => ExitCode::SUCCESS,
        Status::Diverged => {
            eprintln!("the run diverged (a loss or gradient was not finite): it counts as a failed run");
            ExitCode::from(EXIT_DIVERGED)
        }
        Status::StoppedBySentinel => {
            eprintln!(
                "stopped by the failure sentinel: it counts as a failed run; continue it anyway with: stabletune \
                 train --resume --sentinel flag --out {}",
                out.display()
            );
            ExitCode::from(EXIT_STOPPED_BY_SENTINEL)
        }
        Status::Interrupted | Status::StoppedBySchedule => {
            eprintln!("interrupted; continue with: stabletune train --resume --out {}", out.display());
            ExitCode::from(EXIT_INTERRUPTED)
        }
    })
}

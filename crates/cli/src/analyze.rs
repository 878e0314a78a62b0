//! `stabletune analyze`: the paper's analyses of failed and successful runs (Fig. 2, Fig. 7 and 13).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use stabletune_analysis::heads::FitOptions;
use stabletune_analysis::reset_runs::{analyze_runs, write_results, ResetOptions};
use stabletune_analysis::sentinel_eval;
use stabletune_analysis::surface::{analyze_surface, SurfaceOptions};
use stabletune_analysis::text::DEFAULT_BLOCK;
use stabletune_report::figures::layer_reset::layer_reset_figure;
use stabletune_report::figures::surface::{surface_figures, Surface};
use stabletune_report::figures::Figure;
use stabletune_train::sentinel::{Rule, RULE};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum AnalyzeCommand {
    /// Fig. 2: masked-LM perplexity on WikiText-2 test of each run with its top k layers reset to the
    /// pretrained weights, k = 0..L.
    LayerReset(LayerResetArgs),
    /// Fig. 7 and 13: the training loss and its gradient norm on the plane through the pretrained model,
    /// a failed and a successful run.
    Surface(SurfaceArgs),
    /// The failure sentinel measured on finished runs: precision and recall of its flag against each run's
    /// outcome at 10%, 25%, 50% and 100% of training, the updates `stop` would save, and two dev-metric
    /// detectors beside it; `--fit` searches its thresholds on these runs.
    Sentinel(SentinelArgs),
}

#[derive(Args)]
pub struct SentinelArgs {
    /// Run directories or study folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Search the rule's thresholds on these runs: the target at 25% of training first (the precision below,
    /// recall 0.8), then the best F1 of precision and recall at 25%.
    #[arg(long)]
    pub fit: bool,
    /// The precision of the target a fitted rule is checked against at 25% of training.
    #[arg(long, default_value_t = 0.95)]
    pub min_precision: f64,
    /// Thresholds to score instead of the built-in rule: `loss_ratio=0.9,lower_growth=3,persist=2,
    /// window=20,earliest=0.1,eval_margin=0.01` (any of them).
    #[arg(long)]
    pub rule: Option<String>,
    /// Also print each run's outcome and the sentinel's warning.
    #[arg(long)]
    pub runs: bool,
    /// Write the scores (and a fitted rule) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args)]
pub struct SurfaceArgs {
    /// A failed run's directory (θf).
    #[arg(long)]
    pub failed: PathBuf,
    /// A successful run's directory (θs).
    #[arg(long)]
    pub successful: PathBuf,
    /// The pretrained model [default: the failed run's own model].
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    #[command(flatten)]
    pub grid: GridFlags,
    /// Where to write surface.json and the figures.
    #[arg(long, default_value = "analyses/surface")]
    pub out: PathBuf,
    /// Threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// The surface's grid.
#[derive(Args, Clone)]
pub struct GridFlags {
    /// Grid points per axis.
    #[arg(long, default_value_t = 40)]
    pub points: usize,
    /// The grid spans [-range, range] on both axes.
    #[arg(long, default_value_t = 1.5)]
    pub range: f64,
    /// Training examples the loss is computed on (the first of the runs' sample).
    #[arg(long, default_value_t = 128)]
    pub examples: usize,
    /// Skip the gradient norms (Fig. 13): forward passes only.
    #[arg(long)]
    pub no_grad_norm: bool,
}

#[derive(Args)]
pub struct LayerResetArgs {
    /// Run directories (each with checkpoint-last/).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The pretrained model [default: the runs' own model].
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    #[command(flatten)]
    pub reset: ResetFlags,
    /// Where to write <run>/layer_reset.json and fig2-layer-reset.svg.
    #[arg(long, default_value = "analyses")]
    pub out: PathBuf,
    /// Threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// The layer-reset settings.
#[derive(Args, Clone)]
pub struct ResetFlags {
    /// The text whose perplexity is measured [default: ASSETS/wikitext-2-raw/wiki.test.raw].
    #[arg(long)]
    pub text: Option<PathBuf>,
    /// Seed of the masks (the same for every k and every run).
    #[arg(long, default_value_t = 42)]
    pub mask_seed: u64,
    /// Tokens per block, special tokens not counted (at most the model's positions less two).
    #[arg(long, default_value_t = DEFAULT_BLOCK)]
    pub block: usize,
    /// Use only the first N blocks of the text (quicker, for a look).
    #[arg(long)]
    pub max_blocks: Option<usize>,
    /// Fit the family's masked-LM head on frozen pretrained features when the pretrained checkpoint has
    /// none (the shipped MiniLM has none).
    #[arg(long)]
    pub fit_head: bool,
    /// The text the head is fitted on [default: ASSETS/wikitext-2-raw/wiki.valid.raw; never the test text].
    #[arg(long)]
    pub fit_text: Option<PathBuf>,
    /// Epochs of the head fit.
    #[arg(long, default_value_t = 3)]
    pub fit_epochs: usize,
    /// Use only the first N blocks of the fitting text.
    #[arg(long)]
    pub fit_max_blocks: Option<usize>,
    /// Where fitted heads are cached [default: $STABLETUNE_CACHE/mlm-heads, else ~/.cache/stabletune/mlm-heads].
    #[arg(long)]
    pub head_cache: Option<PathBuf>,
}

/// `stabletune study analyze DIR`.
#[derive(Args)]
pub struct StudyAnalyzeArgs {
    /// The study's folder.
    pub dir: PathBuf,
    /// The pretrained model [default: each run's own model].
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    #[command(flatten)]
    pub reset: ResetFlags,
    #[command(flatten)]
    pub grid: GridFlags,
    /// Threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(command: AnalyzeCommand) -> Result<()> {
    match command {
        AnalyzeCommand::LayerReset(args) => layer_reset(args),
        AnalyzeCommand::Surface(args) => surface(args),
        AnalyzeCommand::Sentinel(args) => sentinel(args),
    }
}

fn parse_rule(text: &str) -> Result<Rule> {
    let mut rule = RULE;
    for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) =
            pair.split_once('=').with_context(|| format!("--rule: {pair:?} is not key=value"))?;
        let v: f64 =
            value.trim().parse().with_context(|| format!("--rule: {key} = {value:?} is not a number"))?;
        match key.trim() {
            "loss_ratio" => rule.loss_ratio = v,
            "lower_growth" => rule.lower_growth = v,
            "persist" => rule.persist = v as u32,
            "window" => rule.window = v as usize,
            "earliest" => rule.earliest = v,
            "eval_margin" => rule.eval_margin = v,
            other => anyhow::bail!(
                "--rule: unknown key {other:?} (loss_ratio, lower_growth, persist, window, earliest, eval_margin)"
            ),
        }
    }
    Ok(rule)
}

fn sentinel(args: SentinelArgs) -> Result<()> {
    let (runs, left_out) = sentinel_eval::load(&args.paths)?;
    if runs.is_empty() {
        anyhow::bail!("no finished run with an outcome among the given paths ({} left out)", left_out.len());
    }
    let failed = runs.iter().filter(|r| r.failed).count();
    let tasks: std::collections::BTreeSet<&str> = runs.iter().map(|r| r.task.as_str()).collect();
    println!(
        "{} runs ({failed} failed) on {} task(s): {}",
        runs.len(),
        tasks.len(),
        tasks.into_iter().collect::<Vec<_>>().join(", ")
    );
    for why in &left_out {
        println!("left out {why}");
    }
    let mut rule = match &args.rule {
        Some(text) => parse_rule(text)?,
        None => RULE,
    };
    let mut fitted = None;
    if args.fit {
        match sentinel_eval::fit(&runs, args.min_precision) {
            Some(fit) => {
                println!(
                    "fitted over {} rules: loss_ratio={},lower_growth={},persist={},window={},earliest={},eval_margin={}",
                    fit.rules_tried,
                    fit.rule.loss_ratio,
                    fit.rule.lower_growth,
                    fit.rule.persist,
                    fit.rule.window,
                    fit.rule.earliest,
                    fit.rule.eval_margin
                );
                rule = fit.rule;
                fitted = Some(fit);
            }
            None => println!("no rule of the grid flags any run by 25% of training"),
        }
    }
    let scores = sentinel_eval::evaluate(&runs, rule);
    println!("\n{}", sentinel_eval::table(&scores));
    if args.runs {
        for line in sentinel_eval::run_lines(&runs, rule) {
            println!("{line}");
        }
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({ "rule": rule, "fitted": fitted.is_some(), "runs": runs.len(),
            "failed": failed, "left_out": left_out, "scores": scores });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn wikitext(file: &str) -> PathBuf {
    stabletune_train::locations::assets_dir().join("wikitext-2-raw").join(file)
}

/// The default cache of fitted heads.
pub fn head_cache() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("STABLETUNE_CACHE") {
        return Some(PathBuf::from(dir).join("mlm-heads"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/stabletune/mlm-heads"))
}

/// The layer-reset settings of the command line (also used by `study analyze`).
pub fn reset_options(args: &ResetFlags, pretrained: Option<PathBuf>) -> ResetOptions {
    ResetOptions {
        pretrained,
        text: args.text.clone().unwrap_or_else(|| wikitext("wiki.test.raw")),
        mask_seed: args.mask_seed,
        block: args.block,
        max_blocks: args.max_blocks,
        fit: args.fit_head.then(|| FitOptions {
            text: args.fit_text.clone().unwrap_or_else(|| wikitext("wiki.valid.raw")),
            mask_seed: args.mask_seed,
            block: args.block,
            max_blocks: args.fit_max_blocks,
            epochs: args.fit_epochs,
            batch: 256,
            lr: 2e-3,
            seed: 1,
        }),
        head_cache: args.head_cache.clone().or_else(head_cache),
    }
}

fn layer_reset(args: LayerResetArgs) -> Result<()> {
    let opts = reset_options(&args.reset, args.pretrained.clone());
    let pool = stabletune_engine::par::thread_pool(args.threads);
    let started = std::time::Instant::now();
    let results = pool.install(|| analyze_runs(&args.runs, &opts))?;
    let written = write_results(&args.out, &results)?;
    for p in &written {
        println!("{}", p.display());
    }
    if let Some(fig) =
        layer_reset_figure("fig2-layer-reset", "Perplexity after resetting the top k layers", &results)?
    {
        println!("{}", write_figure(&args.out, &fig)?.display());
    }
    for r in &results {
        let ppl: Vec<String> = r.points.iter().map(|p| format!("{:.2}", p.perplexity)).collect();
        let state = match r.failed {
            Some(true) => "failed",
            Some(false) => "successful",
            None => "unfinished",
        };
        println!("{} ({state}): perplexity for k = 0..{}: {}", r.name, r.layers, ppl.join(", "));
    }
    if let Some(r) = results.first() {
        println!(
            "pretrained model: {:.2}; {:.0} s",
            r.pretrained_perplexity,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The surface settings of the command line.
pub fn surface_options(args: &GridFlags) -> SurfaceOptions {
    SurfaceOptions {
        points: args.points,
        range: args.range,
        examples: args.examples,
        grad_norm: !args.no_grad_norm,
        ..SurfaceOptions::default()
    }
}

fn surface(args: SurfaceArgs) -> Result<()> {
    let opts = surface_options(&args.grid);
    let pool = stabletune_engine::par::thread_pool(args.threads);
    let s =
        pool.install(|| analyze_surface(args.pretrained.as_deref(), &args.failed, &args.successful, &opts))?;
    let path = write_surface(&args.out, &s)?;
    println!("{}", path.display());
    for a in &s.anchors {
        match a.grad_norm {
            Some(g) => println!("{}: loss {:.4}, gradient norm {:.4}", a.name, a.loss, g),
            None => println!("{}: loss {:.4}", a.name, a.loss),
        }
    }
    println!("{} x {} points on {} examples in {:.1} s", s.points, s.points, s.examples, s.seconds);
    Ok(())
}

/// `stabletune study analyze DIR`.
pub fn study(args: StudyAnalyzeArgs) -> Result<()> {
    let reset = reset_options(&args.reset, args.pretrained.clone());
    let surface = surface_options(&args.grid);
    let pool = stabletune_engine::par::thread_pool(args.threads);
    let started = std::time::Instant::now();
    let pairs = stabletune_analysis::study::pairs(&args.dir)?;
    if pairs.is_empty() {
        println!(
            "{}: no task and configuration has both a failed and a successful finished run",
            args.dir.display()
        );
        return Ok(());
    }
    for p in &pairs {
        println!(
            "{} / {}: failed {}, successful {}",
            p.task,
            p.configuration,
            p.failed.display(),
            p.successful.display()
        );
    }
    let done = pool.install(|| stabletune_analysis::study::analyze_study(&args.dir, &reset, &surface))?;
    for p in &done.layer_reset {
        println!("{}", p.display());
    }
    for (path, s) in &done.surfaces {
        println!("{}", path.display());
        let dir = path.parent().expect("surface.json has a folder");
        for fig in surface_figures(s, "")? {
            println!("{}", write_figure(dir, &fig)?.display());
        }
    }
    println!(
        "analyses in {}/analyses ({:.0} s); `stabletune report {}` draws them",
        args.dir.display(),
        started.elapsed().as_secs_f64(),
        args.dir.display()
    );
    Ok(())
}

/// Writes `surface.json` and the figures into `dir`.
pub fn write_surface(dir: &Path, s: &Surface) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("surface.json");
    let text = serde_json::to_string_pretty(s).expect("surface serialises") + "\n";
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    for fig in surface_figures(s, "")? {
        println!("{}", write_figure(dir, &fig)?.display());
    }
    Ok(path)
}

/// Writes a figure's SVG into `dir` and returns its path.
pub fn write_figure(dir: &Path, fig: &Figure) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{}.svg", fig.id));
    std::fs::write(&path, &fig.svg).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

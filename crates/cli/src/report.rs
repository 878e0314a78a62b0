//! `stabletune report` and `stabletune export tensorboard`.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use stabletune_report::{build_with, tensorboard, write_report, EvpValue, Format, Options};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ReportArgs {
    /// Study directories, folders of run directories, or run directories.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the report [default: DIR/report for one study directory, else ./report].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Settings that name a configuration, comma-separated (e.g. recipe,lr) [default: those that tell
    /// runs apart other than by seed].
    #[arg(long, value_delimiter = ',')]
    pub group_by: Option<Vec<String>>,
    /// Files to write, comma-separated: html, md, csv, json.
    #[arg(long, value_delimiter = ',', default_value = "html,md,csv,json")]
    pub format: Vec<String>,
    /// Add Dodge et al.'s early-stopping simulation: for budgets of 1 to N full runs, the expected best found
    /// by training that many runs fully and by the best plan that stops the worst runs early.
    #[arg(long)]
    pub early_stopping_simulation: bool,
    /// Each run's value on the expected-validation-performance curves: its best evaluation (Dodge et al.,
    /// allentune) or its final model's.
    #[arg(long, default_value = "best", value_parser = ["best", "final"])]
    pub evp: String,
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// TensorBoard event files, one folder per run (loss, lr, grad norm, dev metrics, per-layer grad norms).
    Tensorboard {
        /// Study directories, folders of run directories, or run directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The log directory to write (open it with `tensorboard --logdir DIR`).
        #[arg(long)]
        out: PathBuf,
    },
    /// The runs as `runs.csv` (a row per run: configuration, varying settings, seeds, status, metrics),
    /// without computing the report; what the Python module's `read_runs` reads.
    Runs {
        /// Study directories, folders of run directories, or run directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Settings that name a configuration, comma-separated [default: as the report names them].
        #[arg(long, value_delimiter = ',')]
        group_by: Option<Vec<String>>,
        /// Where to write the CSV [default: standard output].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(args: ReportArgs) -> Result<()> {
    let formats = parse_formats(&args.format)?;
    let out = match (&args.out, args.dirs.as_slice()) {
        (Some(o), _) => o.clone(),
        (None, [one]) if one.join("runs").is_dir() => one.join("report"),
        (None, _) => PathBuf::from("report"),
    };
    let options = Options { evp: EvpValue::parse(&args.evp).context("--evp: best or final")? };
    write(&args.dirs, &out, args.group_by.as_deref(), &formats, args.early_stopping_simulation, &options)
}

/// Builds and writes a report, and prints its recommendations and where it is.
pub fn write(
    dirs: &[PathBuf],
    out: &Path,
    group_by: Option<&[String]>,
    formats: &[Format],
    simulate: bool,
    options: &Options,
) -> Result<()> {
    let mut report = build_with(dirs, group_by, options)?;
    if simulate {
        report.simulate_early_stopping()?;
        for s in &report.simulations {
            let gain = s.budgets.iter().map(|b| b.best - b.train_fully).fold(0.0, f64::max);
            eprintln!(
                "{}, {}: early stopping's largest gain over training fully at equal compute: {gain:+.4} {}",
                s.task, s.configuration, s.metric
            );
        }
    }
    let files = write_report(&report, out, formats)
        .with_context(|| format!("writing the report to {}", out.display()))?;
    announce(&report, &files);
    Ok(())
}

/// Prints each task's recommendation and where the report is.
pub fn announce(report: &stabletune_report::Report, files: &[PathBuf]) {
    for t in &report.tasks {
        eprintln!("{}: {}", t.task, t.recommendation.text);
    }
    let main = files.iter().find(|f| f.ends_with("report.html")).or(files.first());
    if let Some(f) = main {
        eprintln!("report: {} ({} runs, {} figures)", f.display(), report.runs.len(), report.figures.len());
    }
}

fn parse_formats(list: &[String]) -> Result<Vec<Format>> {
    let mut out = Vec::new();
    for s in list {
        match Format::parse(s) {
            Some(f) if !out.contains(&f) => out.push(f),
            Some(_) => {}
            None => bail!("--format {s}: not one of html, md, csv, json"),
        }
    }
    Ok(out)
}

pub fn export(command: ExportCommand) -> Result<()> {
    match command {
        ExportCommand::Tensorboard { dirs, out } => {
            let runs = stabletune_report::load_runs(&dirs)?;
            let written = tensorboard::export(&runs, &out)?;
            eprintln!(
                "{} runs written to {} (tensorboard --logdir {})",
                written,
                out.display(),
                out.display()
            );
            Ok(())
        }
        ExportCommand::Runs { dirs, group_by, out } => {
            let runs = stabletune_report::load_runs(&dirs)?;
            let csv = stabletune_report::runs_csv_of(&runs, group_by.as_deref())?;
            match out {
                Some(path) => stabletune_model::checkpoint::write_atomic(&path, csv.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::Write::write_all(&mut std::io::stdout().lock(), csv.as_bytes())
                    .context("writing to standard output")?,
            }
            Ok(())
        }
    }
}

//! `stabletune`: fine-tune BERT-style encoders reliably and measure how stable fine-tuning is.

mod analyze;
mod bench;
mod cpu;
mod data_stats;
mod encode;
mod report;
mod study;
mod train;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "stabletune", about = "Stable fine-tuning of BERT, RoBERTa and ALBERT, and its measurement")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Encode examples with a pretrained model: token ids, the [CLS] hidden state and the pooler output.
    Encode(encode::EncodeArgs),
    /// Fine-tune a model on a task with a recipe and seeds, writing a run directory.
    Train(Box<train::TrainArgs>),
    /// Facts about a task's data: rows, labels, token lengths, the majority baseline.
    Data {
        #[command(subcommand)]
        command: data_stats::DataCommand,
    },
    /// Stability studies: a grid of runs (tasks x configurations x seeds) as one command.
    Study {
        #[command(subcommand)]
        command: study::StudyCommand,
    },
    /// The stability report of studies or runs: Table 1, the tests, the figures (HTML, Markdown, CSV, JSON).
    Report(report::ReportArgs),
    /// Export runs for other viewers.
    Export {
        #[command(subcommand)]
        command: report::ExportCommand,
    },
    /// Time training steps (forward, backward, AdamW) of a randomly initialised encoder.
    Bench(bench::BenchArgs),
    /// The paper's analyses of why runs fail: layer reset (Fig. 2), loss and gradient-norm surfaces (Fig. 7, 13).
    Analyze {
        #[command(subcommand)]
        command: analyze::AnalyzeCommand,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        // Colour codes only for a terminal: run logs and Slurm output files get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = match Cli::from_arg_matches(&Cli::command().version(version().leak() as &str).get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Encode(args) => encode::run(args).map(|()| ExitCode::SUCCESS),
        Command::Train(args) => train::run(*args),
        Command::Data { command } => data_stats::run(command).map(|()| ExitCode::SUCCESS),
        Command::Study { command } => study::run(command),
        Command::Report(args) => report::run(args).map(|()| ExitCode::SUCCESS),
        Command::Export { command } => report::export(command).map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => bench::run(args).map(|()| ExitCode::SUCCESS),
        Command::Analyze { command } => analyze::run(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The version and the commit it was built from: `0.1.0 (commit 4484cff1a2b3)`, or `(commit unknown)` for a
/// build outside a git checkout (a source archive).
fn version() -> String {
    let commit = stabletune_train::summary::GIT_COMMIT;
    let short = if commit.len() > 12 && commit.chars().all(|c| c.is_ascii_hexdigit()) {
        &commit[..12]
    } else {
        commit
    };
    format!("{} (commit {short})", env!("CARGO_PKG_VERSION"))
}

/// Runs `f` on a rayon pool of `threads` workers (0: one per core).
pub(crate) fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    stabletune_engine::par::thread_pool(threads).install(f)
}

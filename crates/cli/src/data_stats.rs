//! `stabletune data stats --task T`: rows per split, label counts, token-length percentiles (with the
//! model's tokenizer) and the majority-class baseline on dev.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use stabletune_model::hub;
use stabletune_model::tokenizer::TextEncoder;
use stabletune_train::data::read_task;
use stabletune_train::dataset::Dataset;
use stabletune_train::metrics::{majority_baseline, Metric};
use stabletune_train::{locations, Split, Task};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Print statistics of a task's train and dev splits.
    Stats(StatsArgs),
}

#[derive(Args)]
pub struct StatsArgs {
    #[arg(long)]
    task: String,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Model whose tokenizer measures lengths (default: the MiniLM model in the assets folder).
    #[arg(long)]
    model: Option<String>,
    #[arg(long, default_value_t = 128)]
    max_seq_length: usize,
}

pub fn run(command: DataCommand) -> Result<()> {
    let DataCommand::Stats(args) = command;
    let task = Task::parse(&args.task).with_context(|| format!("unknown task {:?}", args.task))?;
    let dir = locations::task_dir(task, args.data_dir.as_deref());
    let model_dir = match &args.model {
        Some(spec) => hub::resolve_model(spec)?,
        None => locations::default_model(),
    };
    // Lengths before truncation: encode with a limit no example reaches.
    let tokenizer = TextEncoder::from_dir(&model_dir, 1 << 20)?;
    let mut labelled = BTreeMap::new();
    println!("task {} ({})", task.dir_name(), dir.display());
    for (name, split) in [("train", Split::Train), ("dev", Split::Dev)] {
        let examples = read_task(task, split, &dir)?;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for e in &examples {
            *counts.entry(e.label.clone().unwrap_or_default()).or_default() += 1;
        }
        let label_set: Option<Vec<String>> = task.labels().map(|l| l.iter().map(|s| s.to_string()).collect());
        let data = Dataset::encode(label_set.as_deref(), &examples, &tokenizer, name)?;
        let lengths: Vec<f64> = data.inputs.iter().map(|e| e.input_ids.len() as f64).collect();
        let q = stabletune_stats::quantiles(&lengths, &[0.5, 0.9, 0.99, 1.0])?;
        let truncated = lengths.iter().filter(|&&l| l > args.max_seq_length as f64).count();
        println!("{name}: {} rows; labels {counts:?}", examples.len());
        println!(
            "  tokens: median {:.0}, p90 {:.0}, p99 {:.0}, max {:.0}; {truncated} longer than {}",
            q[0], q[1], q[2], q[3], args.max_seq_length
        );
        labelled.insert(name, data.labels);
    }
    let metric = Metric::of_task(task);
    match majority_baseline(metric, &labelled["train"], &labelled["dev"]) {
        Some(b) => println!("majority-class baseline on dev: {} {b:.4}", metric.name()),
        None => println!("majority-class baseline: undefined for a regression task"),
    }
    Ok(())
}

//! `stabletune data stats`: rows per split, label counts, token-length percentiles (with the model's
//! tokenizer) and the majority-class baseline on dev, for every data source a run reads: GLUE TSV
//! files, a Hub dataset, or the user's own files.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use stabletune_model::hub;
use stabletune_model::tokenizer::TextEncoder;
use stabletune_train::dataset::Dataset;
use stabletune_train::locations;
use stabletune_train::metrics::{majority_baseline, Metric};
use stabletune_train::source::{self, DataSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Print statistics of a task's splits (GLUE TSV files, a Hub dataset, or your own files).
    Stats(StatsArgs),
}

#[derive(Args)]
pub struct StatsArgs {
    /// A GLUE task, or the name of your own data.
    #[arg(long)]
    task: String,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A Hugging Face Hub dataset (org/name), as `train --dataset`.
    #[arg(long)]
    dataset: Option<String>,
    #[arg(long)]
    dataset_config: Option<String>,
    #[arg(long)]
    dataset_revision: Option<String>,
    /// Your own data (.csv, .tsv, .jsonl, .parquet, .arrow, .feather, or a save_to_disk folder).
    #[arg(long)]
    train_file: Option<PathBuf>,
    #[arg(long)]
    dev_file: Option<PathBuf>,
    #[arg(long)]
    text_a_column: Option<String>,
    #[arg(long)]
    text_b_column: Option<String>,
    #[arg(long)]
    label_column: Option<String>,
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    #[arg(long)]
    metric: Option<Metric>,
    /// Model whose tokenizer measures lengths (default: the MiniLM model in the assets folder).
    #[arg(long)]
    model: Option<String>,
    #[arg(long, default_value_t = 128)]
    max_seq_length: usize,
}

pub fn run(command: DataCommand) -> Result<()> {
    let DataCommand::Stats(args) = command;
    let spec = DataSpec {
        task: args.task,
        data_dir: args.data_dir,
        train_file: args.train_file,
        dev_file: args.dev_file,
        text_a_column: args.text_a_column,
        text_b_column: args.text_b_column,
        label_column: args.label_column,
        labels: args.labels,
        metric: args.metric,
        dataset: args.dataset,
        dataset_config: args.dataset_config,
        dataset_revision: args.dataset_revision,
    };
    let read = source::read(&spec, true)?;
    if read.splits.is_empty() {
        bail!("{}: none of {}'s splits is there", read.origin, read.name);
    }
    let model_dir = match &args.model {
        Some(spec) => hub::resolve_model(spec)?,
        None => locations::default_model(),
    };
    // Lengths before truncation: encode with a limit no example reaches.
    let tokenizer = TextEncoder::from_dir(&model_dir, 1 << 20)?;
    println!("task {} ({})", read.name, read.origin);
    let mut labelled = Vec::new();
    for split in &read.splits {
        let name = &split.name;
        let examples = &split.examples;
        let skipped = match split.skipped_lines.len() {
            0 => String::new(),
            n => format!(" ({n} malformed rows skipped)"),
        };
        if !split.labelled {
            println!("{name}: {} rows, unlabelled{skipped}", examples.len());
            // Lengths only: test rows have no labels to encode.
            let ids: Vec<f64> = examples
                .iter()
                .map(|e| tokenizer.encode(&e.text_a, e.text_b.as_deref()).map(|x| x.input_ids.len() as f64))
                .collect::<std::result::Result<_, _>>()?;
            print_lengths(&ids, args.max_seq_length)?;
            continue;
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for e in examples {
            *counts.entry(e.label.clone().unwrap_or_default()).or_default() += 1;
        }
        println!("{name}: {} rows; labels {counts:?}{skipped}", examples.len());
        let data = Dataset::encode(read.label_set.as_deref(), examples, &tokenizer, name)?;
        let lengths: Vec<f64> = data.inputs.iter().map(|e| e.input_ids.len() as f64).collect();
        print_lengths(&lengths, args.max_seq_length)?;
        labelled.push(data.labels);
    }
    if !read.missing.is_empty() {
        println!("missing: {}", read.missing.join(", "));
    }
    // Splits come train first, then dev (MNLI's matched set): the baseline needs both.
    let has_train = read.splits.first().is_some_and(|s| s.name == "train");
    match (labelled.first().filter(|_| has_train), labelled.get(1)) {
        (Some(train), Some(dev)) => match majority_baseline(read.metric, train, dev) {
            Some(b) => println!("majority-class baseline on dev: {} {b:.4}", read.metric.name()),
            None => println!("majority-class baseline: undefined for a regression task"),
        },
        _ => println!("majority-class baseline: needs both train and dev"),
    }
    Ok(())
}

fn print_lengths(lengths: &[f64], max_seq_length: usize) -> Result<()> {
    let q = stabletune_stats::quantiles(lengths, &[0.5, 0.9, 0.99, 1.0])?;
    let truncated = lengths.iter().filter(|&&l| l > max_seq_length as f64).count();
    println!(
        "  tokens: median {:.0}, p90 {:.0}, p99 {:.0}, max {:.0}; {truncated} longer than {max_seq_length}",
        q[0], q[1], q[2], q[3]
    );
    Ok(())
}

//! `stabletune data stats --task T`: rows per split, label counts, token-length percentiles (with the
//! model's tokenizer) and the majority-class baseline on dev.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use stabletune_model::hub;
use stabletune_model::tokenizer::TextEncoder;
use stabletune_train::data::read_task_split;
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
    let mut splits = vec![("train", Split::Train), ("dev", Split::Dev)];
    if task == Task::Mnli {
        splits.push(("dev_mismatched", Split::DevMismatched));
    }
    splits.push(("test", Split::Test));
    let (present, missing): (Vec<_>, Vec<_>) =
        splits.into_iter().partition(|(_, split)| dir.join(task.file_name(*split)).is_file());
    if present.is_empty() {
        bail!("{}: none of {}'s files is there", dir.display(), task.dir_name());
    }
    println!("task {} ({})", task.dir_name(), dir.display());
    let label_set: Option<Vec<String>> = task.labels().map(|l| l.iter().map(|s| s.to_string()).collect());
    let mut labelled = BTreeMap::new();
    for (name, split) in present {
        let read = read_task_split(task, split, &dir)?;
        let examples = &read.examples;
        let skipped = match read.skipped_lines.len() {
            0 => String::new(),
            n => format!(" ({n} malformed rows skipped)"),
        };
        let data = if split == Split::Test {
            println!("{name}: {} rows, unlabelled{skipped}", examples.len());
            // Lengths only: test rows have no labels to encode.
            let ids: Vec<f64> = examples
                .iter()
                .map(|e| tokenizer.encode(&e.text_a, e.text_b.as_deref()).map(|x| x.input_ids.len() as f64))
                .collect::<std::result::Result<_, _>>()?;
            print_lengths(&ids, args.max_seq_length)?;
            continue;
        } else {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for e in examples {
                *counts.entry(e.label.clone().unwrap_or_default()).or_default() += 1;
            }
            println!("{name}: {} rows; labels {counts:?}{skipped}", examples.len());
            Dataset::encode(label_set.as_deref(), examples, &tokenizer, name)?
        };
        let lengths: Vec<f64> = data.inputs.iter().map(|e| e.input_ids.len() as f64).collect();
        print_lengths(&lengths, args.max_seq_length)?;
        labelled.insert(name, data.labels);
    }
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|(_, s)| task.file_name(*s).to_string()).collect();
        println!("missing: {}", names.join(", "));
    }
    let metric = Metric::of_task(task);
    match (labelled.get("train"), labelled.get("dev")) {
        (Some(train), Some(dev)) => match majority_baseline(metric, train, dev) {
            Some(b) => println!("majority-class baseline on dev: {} {b:.4}", metric.name()),
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

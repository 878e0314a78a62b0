//! `stabletune encode`: one JSON object per example with `input_ids`, `cls` (last hidden state at
//! position 0) and `pooled` (pooler output), in input order.

use anyhow::{bail, Context, Result};
use clap::Args;
use stabletune_model::tokenizer::{Encoded, TextEncoder, DEFAULT_MAX_SEQ_LENGTH};
use stabletune_model::{hub, Batch, HeadSpec, Mode, Model, Workspace};
use stabletune_train::data::{read_jsonl, read_task};
use stabletune_train::{locations, Example, Split, Task};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct EncodeArgs {
    /// Model folder or Hugging Face Hub id (default: the MiniLM model in the assets folder).
    #[arg(long)]
    model: Option<String>,
    /// GLUE task to read (rte, sst-2, mrpc, cola, qnli, qqp, mnli, sts-b, wnli, scitail).
    #[arg(long, conflicts_with = "input")]
    task: Option<String>,
    /// Split of the task: train, dev, dev_mismatched (MNLI) or test.
    #[arg(long, default_value = "dev")]
    split: String,
    /// Folder with the task's TSV files (default: $GLUE_DIR/<TASK>, else $STABLETUNE_ASSETS/glue/<TASK>).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// JSON Lines file with `text_a` and optional `text_b` fields, instead of a task.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Encode only the first N examples.
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, default_value_t = DEFAULT_MAX_SEQ_LENGTH)]
    max_seq_length: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Output file (JSON Lines).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: EncodeArgs) -> Result<()> {
    let examples = read_examples(&args)?;
    let model_dir = match &args.model {
        Some(spec) => hub::resolve_model(spec)?,
        None => locations::default_model(),
    };
    let tokenizer = TextEncoder::from_dir(&model_dir, args.max_seq_length)?;
    let (model, report) = Model::from_dir(&model_dir, HeadSpec::default(), 0)
        .with_context(|| format!("loading the model from {}", model_dir.display()))?;
    if !report.initialised.is_empty() {
        tracing::warn!("the checkpoint lacks {:?}; they were initialised randomly", report.initialised);
    }
    tracing::info!("encoding {} examples with {}", examples.len(), model_dir.display());
    let encoded: Vec<Encoded> = examples
        .iter()
        .map(|e| tokenizer.encode(&e.text_a, e.text_b.as_deref()))
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    let outputs = crate::with_threads(args.threads, || encode_all(&model, &encoded, args.batch_size.max(1)))?;
    let secs = start.elapsed().as_secs_f64();
    write_output(&args.out, &encoded, &outputs)?;
    tracing::info!(
        "wrote {} in {:.2} s ({:.1} examples/s)",
        args.out.display(),
        secs,
        encoded.len() as f64 / secs
    );
    Ok(())
}

fn read_examples(args: &EncodeArgs) -> Result<Vec<Example>> {
    let mut examples = match (&args.task, &args.input) {
        (Some(name), None) => {
            let task = Task::parse(name).with_context(|| format!("unknown task {name:?}"))?;
            let split =
                Split::parse(&args.split).with_context(|| format!("unknown split {:?}", args.split))?;
            let dir = locations::task_dir(task, args.data_dir.as_deref());
            read_task(task, split, &dir)?
        }
        (None, Some(path)) => read_jsonl(path)?,
        _ => bail!("give either --task or --input"),
    };
    if let Some(n) = args.limit {
        examples.truncate(n);
    }
    if examples.is_empty() {
        bail!("no examples to encode");
    }
    Ok(examples)
}

/// One example's outputs: the `[CLS]` hidden state and the pooler output (absent without a pooler).
struct Output {
    cls: Vec<f32>,
    pooled: Option<Vec<f32>>,
}

/// The `[CLS]` hidden state and pooler output of every example, in input order. Examples are batched by
/// length (similar lengths share a batch), and results put back in place.
fn encode_all(model: &Model, encoded: &[Encoded], batch_size: usize) -> Result<Vec<Output>> {
    let h = model.config.hidden_size;
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| encoded[i].input_ids.len());
    let mut out: Vec<Output> = (0..encoded.len()).map(|_| Output { cls: Vec::new(), pooled: None }).collect();
    let mut ws = Workspace::new();
    for chunk in order.chunks(batch_size) {
        let seqs: Vec<(Vec<u32>, Vec<u32>)> = chunk
            .iter()
            .map(|&i| (encoded[i].input_ids.clone(), encoded[i].token_type_ids.clone()))
            .collect();
        let batch = Batch::pack(&seqs);
        model.forward(&batch, Mode::Eval, &mut ws)?;
        let pooled = model.pooled(&batch, &ws);
        for (k, &i) in chunk.iter().enumerate() {
            let row = batch.row(k, 0);
            let cls = ws.hidden()[row * h..(row + 1) * h].to_vec();
            out[i] = Output { cls, pooled: pooled.as_ref().map(|p| p[k * h..(k + 1) * h].to_vec()) };
        }
    }
    Ok(out)
}

/// Writes the JSON Lines file through a temporary file and a rename: never a half-written output.
fn write_output(path: &PathBuf, encoded: &[Encoded], outputs: &[Output]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = path.with_extension("jsonl.tmp");
    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    for (e, o) in encoded.iter().zip(outputs) {
        let line = serde_json::json!({ "input_ids": e.input_ids, "cls": o.cls, "pooled": o.pooled });
        writeln!(w, "{line}")?;
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

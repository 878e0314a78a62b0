//! `stabletune bench`: the median time of a training step (forward, backward, gradient clipping, AdamW)
//! of a randomly initialised BERT-shaped encoder with a classification head, dropout 0.1. The same step
//! in PyTorch is `bench/torch_step.py`; `bench/compare.sh` runs both in one sitting.

use anyhow::{Context, Result};
use clap::Args;
use stabletune_engine::RandomStream;
use stabletune_model::{Batch, EncoderConfig, HeadSpec, Mode, Model, Target, Workspace};
use stabletune_train::optim::{clip_factor, global_norm, AdamState, AdamW, Segment};
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 6)]
    layers: usize,
    #[arg(long, default_value_t = 384)]
    hidden: usize,
    #[arg(long, default_value_t = 12)]
    heads: usize,
    #[arg(long, default_value_t = 1536)]
    ffn: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Untimed steps first (buffers grow to size, caches warm up).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    #[arg(long, default_value_t = 30522)]
    vocab: usize,
    /// Dropout probability of every dropout site (as BERT's recipe: 0.1).
    #[arg(long, default_value_t = 0.1)]
    dropout: f32,
    /// Activation of the feed-forward layers (gelu, gelu_new, relu).
    #[arg(long, default_value = "gelu")]
    act: String,
}

/// Multiply-adds ×2 of the matrix products of one forward pass (the formula `bench/torch_step.py` uses):
/// per layer 2·T·(4H² + 2HF) for the projections and 2·2·B·heads·S²·(H/heads) for attention, plus the
/// pooler. A training step counts three forward passes (the backward pass is twice the forward).
pub fn step_flops(a: &BenchArgs) -> f64 {
    let (b, s, h, f) = (a.batch as f64, a.seq as f64, a.hidden as f64, a.ffn as f64);
    let t = b * s;
    let per_layer =
        2.0 * t * (4.0 * h * h + 2.0 * h * f) + 2.0 * 2.0 * b * a.heads as f64 * s * s * (h / a.heads as f64);
    3.0 * (a.layers as f64 * per_layer + 2.0 * b * h * h)
}

pub fn run(args: BenchArgs) -> Result<()> {
    let mut config = EncoderConfig::bert_shape(args.layers, args.hidden, args.heads, args.ffn, args.vocab);
    config.hidden_dropout = args.dropout;
    config.attention_dropout = args.dropout;
    config.classifier_dropout = args.dropout;
    config.hidden_act = stabletune_engine::ops::Activation::from_hf_name(&args.act)
        .ok_or_else(|| anyhow::anyhow!("unknown activation {:?}", args.act))?;
    let threads = if args.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.threads
    };
    let model_config = config.clone();
    let times = crate::with_threads(threads, move || -> Result<Vec<f64>> {
        let mut model = Model::random(model_config, HeadSpec { classifier: Some(2), masked_lm: false }, 0);
        let rng = RandomStream::new(1, 0, 0);
        let n = args.batch * args.seq;
        let seqs: Vec<(Vec<u32>, Vec<u32>)> = (0..args.batch)
            .map(|b| {
                let ids = (0..args.seq)
                    .map(|j| rng.below((b * args.seq + j) as u64, args.vocab as u64) as u32)
                    .collect();
                (ids, vec![0; args.seq])
            })
            .collect();
        let batch = Batch::pack(&seqs);
        let labels: Vec<i64> = (0..args.batch).map(|b| rng.below((n + b) as u64, 2) as i64).collect();
        let opt = AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-6, weight_decay: 0.01, bias_correction: true };
        let segments: Vec<_> = model
            .params
            .infos
            .iter()
            .map(|i| Segment { range: i.range(), decay: !i.no_decay, lr_scale: 1.0 })
            .collect();
        let mut state = AdamState::new(model.params.len());
        let mut grads = model.zero_grads();
        let mut ws = Workspace::new();
        let mut times = Vec::new();
        for step in 0..args.warmup + args.steps {
            let start = Instant::now();
            grads.fill(0.0);
            let mode = Mode::Train { seed: 0, step: step as u64 };
            model.loss_and_grads(&batch, Target::Classes(&labels), mode, &mut ws, &mut grads)?;
            let backward_done = Instant::now();
            // Clipping folded into the update, as `stabletune train` does it.
            let factor = clip_factor(global_norm(&grads), 1.0);
            opt.step_scaled(&mut model.params.values, &grads, &mut state, 2e-5, &segments, &|_| factor);
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let update_ms = backward_done.elapsed().as_secs_f64() * 1e3;
            let kind = if step < args.warmup { "warmup" } else { "step" };
            println!(
                "{kind} {step}: {ms:.1} ms (forward+backward {:.1}, clip+AdamW {update_ms:.1})",
                ms - update_ms
            );
            if step >= args.warmup {
                times.push(ms);
            }
        }
        Ok(times)
    })?;
    let median = stabletune_stats::median(&times).context("no timed steps (use --steps 1 or more)")?;
    let tokens_per_s = (args.batch * args.seq) as f64 / (median / 1e3);
    let gflops = step_flops(&args) / (median / 1e3) / 1e9;
    println!(
        "shape: layers {} hidden {} heads {} ffn {} batch {} seq {} threads {threads}; {:.2} GFLOP a step",
        args.layers,
        args.hidden,
        args.heads,
        args.ffn,
        args.batch,
        args.seq,
        step_flops(&args) / 1e9
    );
    println!(
        "RESULT impl=stabletune median_ms={median:.1} tokens_per_s={tokens_per_s:.1} gflops={gflops:.1}"
    );
    Ok(())
}

//! `stabletune bench`: the median time of a training step (forward, backward, gradient clipping, AdamW)
//! of a randomly initialised BERT-shaped encoder with a classification head, dropout 0.1. The same step
//! in PyTorch is `bench/torch_step.py`; `bench/compare.sh` runs both in one sitting.

use anyhow::{Context, Result};
use clap::Args;
use stabletune_engine::RandomStream;
use stabletune_model::Architecture;
use stabletune_model::{Batch, EncoderConfig, HeadSpec, Mode, Model, Target, Workspace};
use stabletune_train::config::{Overrides, Recipe, TrainConfig};
use stabletune_train::optim::AdamState;
use stabletune_train::updater::Updater;
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
        // The update `stabletune train` makes (mosbach2021: AdamW with bias correction, weight decay
        // 0.01, global clipping at 1, the word embeddings updated lazily).
        let recipe = Overrides {
            model: Some("bench".into()),
            task: Some("rte".into()),
            recipe: Some(Recipe::Mosbach2021),
            ..Default::default()
        };
        let cfg = TrainConfig::resolve(recipe, Architecture::Bert).map_err(anyhow::Error::msg)?;
        let mut updater = Updater::new(&model, &cfg);
        let mut state = AdamState::new(model.params.len());
        let mut grads = model.zero_grads();
        let mut ws = Workspace::new();
        let mut times = Vec::new();
        for step in 0..args.warmup + args.steps {
            if step == args.warmup {
                stabletune_engine::profile::enable(true);
            }
            let start = Instant::now();
            let mode = Mode::Train { seed: 0, step: step as u64 };
            let target = Target::Classes(&labels);
            let (ws, grads, state) = (&mut ws, &mut grads, &mut state);
            updater.step(&mut model, &batch, target, mode, 2e-5, ws, grads, state, &mut |_, _| {})?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let kind = if step < args.warmup { "warmup" } else { "step" };
            println!("{kind} {step}: {ms:.1} ms");
            if step >= args.warmup {
                times.push(ms);
            }
        }
        Ok(times)
    })?;
    let timed: f64 = times.iter().sum::<f64>() / 1e3;
    print!("{}", stabletune_engine::profile::report(timed));
    stabletune_engine::profile::enable(false);
    let peak = crate::with_threads(threads, matmul_peak);
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
        "matrix-product peak on {threads} threads (2048x768 by 768x3072): {peak:.0} GFLOP/s; the step runs at {:.0}% of it",
        100.0 * gflops / peak
    );
    println!(
        "RESULT impl=stabletune median_ms={median:.1} tokens_per_s={tokens_per_s:.1} gflops={gflops:.1} peak_gflops={peak:.1}"
    );
    Ok(())
}

/// The machine's measured matrix-product rate: the best of five 2048×768 by 768×3072 products (the
/// shape of BERT-base's feed-forward layer over a 16×128 batch), in GFLOP/s.
fn matmul_peak() -> f64 {
    let (m, k, n) = (2048, 768, 3072);
    let mut a = vec![0.0f32; m * k];
    let mut b = vec![0.0f32; k * n];
    RandomStream::new(2, 0, 0).fill_normal(&mut a, 0.0, 1.0);
    RandomStream::new(3, 0, 0).fill_normal(&mut b, 0.0, 1.0);
    let mut c = vec![0.0f32; m * n];
    let best = (0..6)
        .map(|_| {
            let start = Instant::now();
            stabletune_engine::matmul(&mut c, &a, &b, m, k, n, false, false, false);
            start.elapsed().as_secs_f64()
        })
        .skip(1)
        .fold(f64::INFINITY, f64::min);
    2.0 * (m * k * n) as f64 / best / 1e9
}

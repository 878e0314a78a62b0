//! The masked-LM head put on top of fine-tuned encoders: the pretrained checkpoint's own
//! (`cls.predictions.*`, `lm_head.*`, `predictions.*`), or one fitted on frozen pretrained features
//! when the checkpoint has none (`--fit-head`), cached per model, text and settings.

use crate::error::{io, AnalysisError, Result};
use crate::text::{masked_blocks, pack, Specials};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stabletune_engine::RandomStream;
use stabletune_model::checkpoint::{save_tensors, Checkpoint};
use stabletune_model::layout::{HeadSpec, Layout};
use stabletune_model::tokenizer::TextEncoder;
use stabletune_model::{EncoderConfig, Mode, Model, ParamGroup, ParamSet, Workspace};
use std::path::{Path, PathBuf};

const MLM: HeadSpec = HeadSpec { classifier: None, masked_lm: true };

/// Loads the encoder of a model folder (a pretrained model or a run's checkpoint) with a masked-LM
/// head; the head's tensors are left to the caller (zero) when the checkpoint lacks them, and
/// `has_head` says whether it had them.
pub fn load_with_mlm_slot(dir: &Path) -> Result<(Model, bool)> {
    let config = EncoderConfig::from_file(&dir.join("config.json"))?;
    let ck = Checkpoint::open(&dir.join("model.safetensors"))?;
    let mut params = ParamSet::default();
    let arch = config.arch;
    let with_pooler =
        arch == stabletune_model::Architecture::Roberta && ck.has("roberta.pooler.dense.weight", arch);
    let layout = Layout::build(&config, MLM, with_pooler, &mut params);
    let named = |g: ParamGroup| -> Vec<String> {
        params.infos.iter().filter(|i| i.group == g).map(|i| i.name.clone()).collect()
    };
    let (head, pooler) = (named(ParamGroup::MaskedLm), named(ParamGroup::Pooler));
    // The pooler is off the masked-LM path (transformers' `...ForMaskedLM` has none), so a checkpoint
    // without one is fine.
    let absent_ok = |name: &str| head.iter().chain(&pooler).any(|h| h == name);
    let report = ck.load_into(&mut params, arch, absent_ok, 0)?;
    let has_head = !report.initialised.iter().any(|n| head.contains(n));
    for i in 0..params.infos.len() {
        if params.infos[i].group == ParamGroup::MaskedLm {
            let r = params.infos[i].range();
            if !has_head {
                params.values[r].fill(0.0);
            }
        }
    }
    Ok((Model { config, params, layout, heads: MLM, mixed: None }, has_head))
}

/// Copies every masked-LM head tensor of `from` into `to` (same family and sizes).
pub fn copy_head(from: &Model, to: &mut Model) -> Result<()> {
    for info in from.params.infos.iter().filter(|i| i.group == ParamGroup::MaskedLm) {
        let target = to.params.get(&info.name).cloned().ok_or_else(|| {
            AnalysisError::Input(format!("the fine-tuned model has no place for head tensor {}", info.name))
        })?;
        if target.shape != info.shape {
            return Err(AnalysisError::Input(format!(
                "head tensor {} has shape {:?} in the pretrained model and {:?} in the fine-tuned one",
                info.name, info.shape, target.shape
            )));
        }
        to.params.values[target.range()].copy_from_slice(&from.params.values[info.range()]);
    }
    Ok(())
}

/// How a head is fitted on frozen features.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FitOptions {
    /// The training text (WikiText-2 valid by default; never the test text).
    pub text: PathBuf,
    pub mask_seed: u64,
    pub block: usize,
    pub max_blocks: Option<usize>,
    pub epochs: usize,
    /// Masked positions per update.
    pub batch: usize,
    pub lr: f64,
    /// Draws the head's initial weights and the order of positions.
    pub seed: u64,
}

/// What a fit did (stored beside the cached head and in every result that used it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FitReport {
    pub options: FitOptions,
    pub positions: usize,
    pub updates: usize,
    /// Mean training cross-entropy of the first and of the last epoch.
    pub first_epoch_loss: f64,
    pub last_epoch_loss: f64,
    pub seconds: f64,
}

fn file_sha(path: &Path, h: &mut Sha256) -> Result<()> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    h.update(Sha256::digest(&bytes));
    Ok(())
}

/// The cache key of a fit: the model's weights and config, the text, and the options.
fn fit_key(model_dir: &Path, opts: &FitOptions) -> Result<String> {
    let mut h = Sha256::new();
    file_sha(&model_dir.join("model.safetensors"), &mut h)?;
    file_sha(&model_dir.join("config.json"), &mut h)?;
    file_sha(&opts.text, &mut h)?;
    let mut o = opts.clone();
    o.text = PathBuf::new();
    h.update(serde_json::to_string(&o).expect("options serialise").as_bytes());
    Ok(h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect())
}

/// Fits the masked-LM head of `model` (pretrained, its head slot empty) on the frozen features of
/// `opts.text`, or loads the fit from `cache` when the same model, text and options were fitted before.
///
/// The head is the family's (dense, activation, LayerNorm, decoder tied to the word embeddings, output
/// bias); the word embeddings stay frozen (they are the encoder's). Initial values as Hugging Face draws
/// new heads (N(0, 0.02) dense weight, zero biases, LayerNorm (1, 0)); Adam with bias correction, no
/// weight decay, constant learning rate; positions shuffled each epoch from `opts.seed`.
pub fn fit_head(
    model: &mut Model,
    model_dir: &Path,
    encoder: &TextEncoder,
    specials: Specials,
    opts: &FitOptions,
    cache: Option<&Path>,
) -> Result<FitReport> {
    let key = fit_key(model_dir, opts)?;
    let cached = cache.map(|c| (c.join(format!("{key}.safetensors")), c.join(format!("{key}.json"))));
    if let Some((weights, report)) = &cached {
        if let (Ok(ck), Ok(text)) = (Checkpoint::open(weights), std::fs::read_to_string(report)) {
            if let Ok(fit) = serde_json::from_str::<FitReport>(&text) {
                let arch = model.config.arch;
                let mut head = head_only(model);
                ck.load_into(&mut head, arch, |_| false, 0)?;
                put_head(&head, model);
                tracing::info!("masked-LM head: fitted before, read from {}", weights.display());
                return Ok(fit);
            }
        }
    }
    let started = std::time::Instant::now();
    let (features, labels) = frozen_features(model, encoder, specials, opts)?;
    let fit = train_head(model, &features, &labels, opts, started)?;
    if let Some((weights, report)) = &cached {
        let dir = weights.parent().expect("cache file has a folder");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let head = head_only(model);
        save_tensors(
            head.infos.iter().map(|i| (i.name.clone(), i.shape.clone(), &head.values[i.range()])),
            weights,
        )?;
        let text = serde_json::to_string_pretty(&fit).expect("fit report serialises");
        stabletune_model::checkpoint::write_atomic(report, text.as_bytes())?;
    }
    Ok(fit)
}

/// The head's tensors of `model`, as a parameter set of their own.
fn head_only(model: &Model) -> ParamSet {
    let mut set = ParamSet::default();
    for info in model.params.infos.iter().filter(|i| i.group == ParamGroup::MaskedLm) {
        let off = set.add(info.name.clone(), &info.shape, ParamGroup::MaskedLm);
        set.values[off..off + info.len()].copy_from_slice(&model.params.values[info.range()]);
    }
    set
}

fn put_head(head: &ParamSet, model: &mut Model) {
    for info in &head.infos {
        let r = model.params.get(&info.name).expect("same head layout").range();
        model.params.values[r].copy_from_slice(&head.values[info.range()]);
    }
}

/// The pretrained encoder's final hidden states at the masked positions of the text, and their labels.
fn frozen_features(
    model: &Model,
    encoder: &TextEncoder,
    specials: Specials,
    opts: &FitOptions,
) -> Result<(Vec<f32>, Vec<i64>)> {
    let vocab = model.config.vocab_size;
    let blocks =
        masked_blocks(&opts.text, encoder, specials, vocab, opts.block, opts.mask_seed, opts.max_blocks)?;
    let h = model.config.hidden_size;
    let (mut features, mut labels) = (Vec::new(), Vec::new());
    let mut ws = Workspace::new();
    for chunk in blocks.chunks(4) {
        let (batch, rows, l) = pack(chunk);
        model.forward(&batch, Mode::Eval, &mut ws)?;
        let hidden = ws.hidden();
        for &r in &rows {
            features.extend_from_slice(&hidden[r * h..(r + 1) * h]);
        }
        labels.extend(l);
    }
    Ok((features, labels))
}

fn train_head(
    model: &mut Model,
    features: &[f32],
    labels: &[i64],
    opts: &FitOptions,
    started: std::time::Instant,
) -> Result<FitReport> {
    let h = model.config.hidden_size;
    let head: Vec<usize> = (0..model.params.infos.len())
        .filter(|&i| model.params.infos[i].group == ParamGroup::MaskedLm)
        .collect();
    for &i in &head {
        model.params.init_tensor(i, opts.seed, 0.02);
    }
    let ranges: Vec<_> = head.iter().map(|&i| model.params.infos[i].range()).collect();
    let size: usize = ranges.iter().map(|r| r.len()).sum();
    let (mut m, mut v) = (vec![0f64; size], vec![0f64; size]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-6f64);
    let n = labels.len();
    let mut grads = model.zero_grads();
    let mut ws = Workspace::new();
    let (mut first, mut last, mut t) = (f64::NAN, f64::NAN, 0u64);
    let stream = stabletune_engine::streams::id(stabletune_engine::streams::Family::Analysis, 2);
    for epoch in 0..opts.epochs {
        let order = shuffled(n, RandomStream::new(opts.seed, stream, epoch as u64));
        let (mut sum, mut count) = (0f64, 0usize);
        for chunk in order.chunks(opts.batch.max(1)) {
            let x: Vec<f32> =
                chunk.iter().flat_map(|&i| features[i * h..(i + 1) * h].iter().copied()).collect();
            let y: Vec<i64> = chunk.iter().map(|&i| labels[i]).collect();
            grads.fill(0.0);
            let loss = model.masked_lm_head_loss_and_grads(&x, &y, &mut ws, &mut grads)?;
            if !loss.is_finite() {
                return Err(AnalysisError::Input(format!(
                    "fitting the masked-LM head diverged at update {t}"
                )));
            }
            sum += loss as f64 * chunk.len() as f64;
            count += chunk.len();
            t += 1;
            let c1 = 1.0 - b1.powi(t as i32);
            let c2 = 1.0 - b2.powi(t as i32);
            let mut k = 0;
            for r in &ranges {
                for (p, g) in model.params.values[r.clone()].iter_mut().zip(&grads[r.clone()]) {
                    let g = *g as f64;
                    m[k] = b1 * m[k] + (1.0 - b1) * g;
                    v[k] = b2 * v[k] + (1.0 - b2) * g * g;
                    *p -= (opts.lr * (m[k] / c1) / ((v[k] / c2).sqrt() + eps)) as f32;
                    k += 1;
                }
            }
        }
        let mean = sum / count.max(1) as f64;
        if epoch == 0 {
            first = mean;
        }
        last = mean;
        tracing::info!("masked-LM head fit: epoch {} of {}, mean loss {mean:.4}", epoch + 1, opts.epochs);
    }
    Ok(FitReport {
        options: opts.clone(),
        positions: n,
        updates: t as usize,
        first_epoch_loss: first,
        last_epoch_loss: last,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A permutation of 0..n (Fisher-Yates from a counter-based stream).
fn shuffled(n: usize, stream: RandomStream) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = stream.below(i as u64, i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

//! `stabletune analyze layer-reset`: Fig. 2 for a set of runs sharing one pretrained model.

use crate::error::{AnalysisError, Result};
use crate::heads::{copy_head, fit_head, load_with_mlm_slot, FitOptions};
use crate::layer_reset::{perplexity, reset_perplexities};
use crate::runs::RunInfo;
use crate::text::{masked_blocks, Specials};
use stabletune_model::tokenizer::TextEncoder;
use stabletune_report::figures::layer_reset::{LayerReset, ResetPoint};
use std::path::{Path, PathBuf};

/// The settings of a layer-reset analysis.
#[derive(Clone, Debug)]
pub struct ResetOptions {
    /// The pretrained model; `None`: the runs' own (they must agree).
    pub pretrained: Option<PathBuf>,
    /// The evaluation text (WikiText-2 test by default).
    pub text: PathBuf,
    pub mask_seed: u64,
    pub block: usize,
    pub max_blocks: Option<usize>,
    /// Fit a head when the pretrained checkpoint has none (with these options).
    pub fit: Option<FitOptions>,
    /// Where fitted heads are cached.
    pub head_cache: Option<PathBuf>,
}

/// Runs the analysis on every run; results in the order given.
pub fn analyze_runs(run_dirs: &[PathBuf], opts: &ResetOptions) -> Result<Vec<LayerReset>> {
    let runs: Vec<RunInfo> = run_dirs.iter().map(|d| RunInfo::open(d)).collect::<Result<_>>()?;
    let pretrained_dir = match &opts.pretrained {
        Some(p) => stabletune_model::hub::resolve_model(&p.to_string_lossy())?,
        None => {
            let dirs: Vec<PathBuf> = runs.iter().map(|r| r.pretrained()).collect::<Result<_>>()?;
            let first = dirs.first().cloned().ok_or_else(|| AnalysisError::Input("no run given".into()))?;
            if let Some((r, d)) = runs.iter().zip(&dirs).find(|(_, d)| **d != first) {
                return Err(AnalysisError::Run {
                    path: r.dir.clone(),
                    message: format!(
                        "starts from {}, not {} as the first run: give --pretrained",
                        d.display(),
                        first.display()
                    ),
                });
            }
            first
        }
    };
    let (mut pretrained, has_head) = load_with_mlm_slot(&pretrained_dir)?;
    let encoder = TextEncoder::from_dir(&pretrained_dir, 512)?;
    let specials = Specials::of(&encoder, pretrained.config.arch)?;
    let head_fit = match (&opts.fit, has_head) {
        (_, true) => None,
        (Some(fit), false) => {
            let report = fit_head(&mut pretrained, &pretrained_dir, &encoder, specials, fit, opts.head_cache.as_deref())?;
            tracing::info!(
                "masked-LM head fitted on {} positions: loss {:.3} (first epoch) to {:.3} (last)",
                report.positions,
                report.first_epoch_loss,
                report.last_epoch_loss
            );
            Some(serde_json::to_value(&report).expect("fit report serialises"))
        }
        (None, false) => {
            return Err(AnalysisError::Input(format!(
                "{} has no masked-LM head (cls.predictions.*, lm_head.* or predictions.*): use --fit-head to fit one \
                 on frozen pretrained features",
                pretrained_dir.display()
            )))
        }
    };
    let vocab = pretrained.config.vocab_size;
    let block = opts.block.min(pretrained.config.max_sequence_length().saturating_sub(2));
    let blocks =
        masked_blocks(&opts.text, &encoder, specials, vocab, block, opts.mask_seed, opts.max_blocks)?;
    let masked_tokens = blocks.iter().map(|b| b.labels.len()).sum();
    tracing::info!(
        "{}: {} blocks of {block} tokens, {masked_tokens} masked",
        opts.text.display(),
        blocks.len()
    );
    let pretrained_perplexity = perplexity(&pretrained, &blocks)?;
    tracing::info!("pretrained model: perplexity {pretrained_perplexity:.3}");
    let mut out = Vec::new();
    for run in &runs {
        let (mut fine, _) = load_with_mlm_slot(&run.checkpoint)?;
        copy_head(&pretrained, &mut fine)?;
        let (ppl, _) = reset_perplexities(&fine, &pretrained, &blocks)?;
        tracing::info!(
            "{}: perplexity by k {:?}",
            run.name(),
            ppl.iter().map(|p| format!("{p:.2}")).collect::<Vec<_>>()
        );
        out.push(LayerReset {
            run: run.dir.display().to_string(),
            name: run.name(),
            // As config.toml names it (lower case), as the report and the surfaces name tasks.
            task: Some(run.config.task.clone()),
            recipe: Some(run.config.recipe.name().to_string()),
            init_seed: Some(run.config.init_seed),
            failed: run.failed(),
            checkpoint: run.checkpoint.display().to_string(),
            pretrained: pretrained_dir.display().to_string(),
            head_fitted: head_fit.is_some(),
            head_fit: head_fit.clone(),
            text: opts.text.display().to_string(),
            mask_seed: opts.mask_seed,
            block,
            blocks: blocks.len(),
            masked_tokens,
            layers: fine.config.num_layers,
            pretrained_perplexity,
            points: ppl.iter().enumerate().map(|(k, &perplexity)| ResetPoint { k, perplexity }).collect(),
        });
    }
    Ok(out)
}

/// Writes `DIR/<run name>/layer_reset.json` for each result.
pub fn write_results(out: &Path, results: &[LayerReset]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for r in results {
        let dir = out.join(&r.name);
        std::fs::create_dir_all(&dir).map_err(crate::error::io(&dir))?;
        let path = dir.join("layer_reset.json");
        let text = serde_json::to_string_pretty(r).expect("result serialises") + "\n";
        stabletune_model::checkpoint::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

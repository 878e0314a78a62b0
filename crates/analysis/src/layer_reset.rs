//! Fig. 2: masked-LM perplexity of a fine-tuned encoder whose top k layers are put back to their
//! pretrained weights, for k = 0 (all fine-tuned) to L (every layer pretrained).
//!
//! Only the transformer layers are reset; the embeddings stay the fine-tuned model's (the paper resets
//! "the weights of the top-k layers"), and the masked-LM decoder, tied to the word embeddings as in
//! transformers' `...ForMaskedLM`, reads the fine-tuned word embeddings. The pretrained model's own
//! perplexity with the same head and masks is the reference line.
//!
//! Each batch of blocks runs the fine-tuned depths once, keeping the state entering every depth, and
//! continues from depth L - k with the pretrained layers for each k: L + L(L+1)/2 layer passes instead
//! of (L+1)·L.

use crate::error::{AnalysisError, Result};
use crate::text::{pack, MaskedBlock};
use stabletune_model::{Model, Workspace};

/// Blocks per forward pass (4 x 512 tokens).
pub const BATCH_BLOCKS: usize = 4;

/// Σ of -log softmax(logits)[label] over rows, in f64 and in row order (thread-count independent).
pub fn cross_entropy_sum(logits: &[f32], labels: &[i64], vocab: usize) -> f64 {
    let mut total = 0.0;
    for (row, &label) in logits.chunks_exact(vocab).zip(labels) {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) as f64;
        let sum: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
        total += max + sum.ln() - row[label as usize] as f64;
    }
    total
}

fn same_shape(a: &Model, b: &Model) -> Result<()> {
    let (x, y) = (&a.config, &b.config);
    if x.arch != y.arch
        || x.num_layers != y.num_layers
        || x.hidden_size != y.hidden_size
        || x.vocab_size != y.vocab_size
        || a.layout.layers.len() != b.layout.layers.len()
    {
        return Err(AnalysisError::Input(format!(
            "the fine-tuned model ({:?}, {} layers, hidden {}, vocab {}) is not of the pretrained model's shape \
             ({:?}, {} layers, hidden {}, vocab {})",
            x.arch, x.num_layers, x.hidden_size, x.vocab_size, y.arch, y.num_layers, y.hidden_size, y.vocab_size
        )));
    }
    Ok(())
}

/// Perplexity (exp of the mean cross-entropy over the selected tokens) of `finetuned` with its top k
/// depths run by `pretrained`'s layers, for k = 0..=L; the head is `finetuned`'s. Also returns the
/// number of selected tokens.
pub fn reset_perplexities(
    finetuned: &Model,
    pretrained: &Model,
    blocks: &[MaskedBlock],
) -> Result<(Vec<f64>, usize)> {
    same_shape(finetuned, pretrained)?;
    let l = finetuned.config.num_layers;
    let (h, v) = (finetuned.config.hidden_size, finetuned.config.vocab_size);
    let mut sums = vec![0f64; l + 1];
    let mut count = 0usize;
    let mut ws = Workspace::new();
    let mut states: Vec<Vec<f32>> = vec![Vec::new(); l + 1];
    for chunk in blocks.chunks(BATCH_BLOCKS) {
        let (batch, rows, labels) = pack(chunk);
        count += labels.len();
        finetuned.embed(&batch, &mut ws)?;
        for (d, state) in states.iter_mut().enumerate() {
            state.clear();
            state.extend_from_slice(ws.hidden());
            if d < l {
                finetuned.forward_depths(&batch, d..d + 1, state, &mut ws)?;
            }
        }
        debug_assert_eq!(states[l].len(), batch.tokens() * h);
        for (k, sum) in sums.iter_mut().enumerate() {
            let from = l - k;
            pretrained.forward_depths(&batch, from..l, &states[from], &mut ws)?;
            let logits = finetuned.masked_lm_logits(&rows, &mut ws)?;
            *sum += cross_entropy_sum(logits, &labels, v);
        }
    }
    if count == 0 {
        return Err(AnalysisError::Input("no token was selected for masking".into()));
    }
    Ok((sums.into_iter().map(|s| (s / count as f64).exp()).collect(), count))
}

/// Perplexity of one model with its own head on the blocks.
pub fn perplexity(model: &Model, blocks: &[MaskedBlock]) -> Result<f64> {
    let v = model.config.vocab_size;
    let (mut sum, mut count) = (0f64, 0usize);
    let mut ws = Workspace::new();
    for chunk in blocks.chunks(BATCH_BLOCKS) {
        let (batch, rows, labels) = pack(chunk);
        model.forward(&batch, stabletune_model::Mode::Eval, &mut ws)?;
        sum += cross_entropy_sum(model.masked_lm_logits(&rows, &mut ws)?, &labels, v);
        count += labels.len();
    }
    if count == 0 {
        return Err(AnalysisError::Input("no token was selected for masking".into()));
    }
    Ok((sum / count as f64).exp())
}

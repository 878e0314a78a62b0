//! Running text for masked-LM perplexity: split into blocks and masked as BERT's pre-training masks.
//!
//! Splitting follows `TextDataset` of the `run_language_modeling.py` of transformers 2.5.1 (the version
//! the authors' code forks): the whole file is tokenised as one string, cut into consecutive,
//! non-overlapping blocks of `block` tokens (510 by default, the model's 512 positions less the two
//! special tokens), each wrapped as `[CLS] block [SEP]` (RoBERTa: `<s> block </s>`); the remainder shorter
//! than a block is dropped, as theirs drops it.
//!
//! Masking follows that script's `mask_tokens` (BERT's rule): each non-special token is selected with
//! probability 0.15; a selected token becomes the mask token with probability 0.8, a uniformly random
//! vocabulary id with probability 0.1, and stays as it is otherwise; the loss is over the selected
//! tokens. The draws come from a counter-based stream keyed by (mask seed, block index, position), so
//! every k of the layer-reset analysis and every run sees exactly the same masks, and
//! `tools/make_layer_reset_goldens.py` re-draws them in Python.

use crate::error::{io, AnalysisError, Result};
use stabletune_engine::{streams, RandomStream};
use stabletune_model::tokenizer::TextEncoder;
use stabletune_model::{Architecture, Batch};
use std::path::Path;

/// The masking stream's id: one site of the analysis family.
pub const MASK_STREAM: u64 = streams::id(streams::Family::Analysis, 1);
/// The masked-LM selection probability and the shares of mask and random replacements.
pub const SELECT: f32 = 0.15;
pub const AS_MASK: f32 = 0.8;
pub const AS_RANDOM: f32 = 0.9;
/// Content tokens per block by default: 512 positions less `[CLS]` and `[SEP]`.
pub const DEFAULT_BLOCK: usize = 510;

/// One block of text with its masks.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskedBlock {
    /// The model's input: special tokens around the block, masked tokens replaced.
    pub input_ids: Vec<u32>,
    /// Positions of the selected tokens, in order.
    pub positions: Vec<usize>,
    /// The original ids at `positions`.
    pub labels: Vec<i64>,
}

/// The special tokens of a model family's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Specials {
    pub cls: u32,
    pub sep: u32,
    pub mask: u32,
}

impl Specials {
    /// Looks up `[CLS]`, `[SEP]`, `[MASK]` (BERT, ALBERT) or `<s>`, `</s>`, `<mask>` (RoBERTa).
    pub fn of(encoder: &TextEncoder, arch: Architecture) -> Result<Specials> {
        let names = match arch {
            Architecture::Roberta => ["<s>", "</s>", "<mask>"],
            _ => ["[CLS]", "[SEP]", "[MASK]"],
        };
        let id = |t: &str| {
            encoder.token_id(t).ok_or_else(|| AnalysisError::Input(format!("the tokenizer has no {t} token")))
        };
        Ok(Specials { cls: id(names[0])?, sep: id(names[1])?, mask: id(names[2])? })
    }
}

/// Consecutive blocks of `block` ids; the shorter remainder is dropped.
pub fn split_blocks(ids: &[u32], block: usize) -> Vec<&[u32]> {
    ids.chunks_exact(block.max(1)).collect()
}

/// Masks block `index` (its content ids, without special tokens) with the stream of `seed`.
pub fn mask_block(content: &[u32], index: u64, seed: u64, specials: Specials, vocab: usize) -> MaskedBlock {
    let stream = RandomStream::new(seed, MASK_STREAM, index);
    let mut input_ids = Vec::with_capacity(content.len() + 2);
    input_ids.push(specials.cls);
    let (mut positions, mut labels) = (Vec::new(), Vec::new());
    for (j, &id) in content.iter().enumerate() {
        // Three draws per position: selected?, how replaced, the random id.
        let at = 3 * j as u64;
        let mut token = id;
        if stream.uniform(at) < SELECT {
            positions.push(j + 1);
            labels.push(id as i64);
            let how = stream.uniform(at + 1);
            if how < AS_MASK {
                token = specials.mask;
            } else if how < AS_RANDOM {
                token = stream.below(at + 2, vocab as u64) as u32;
            }
        }
        input_ids.push(token);
    }
    input_ids.push(specials.sep);
    MaskedBlock { input_ids, positions, labels }
}

/// Reads `path`, tokenises it whole and returns its masked blocks (at most `max_blocks`, the first ones).
pub fn masked_blocks(
    path: &Path,
    encoder: &TextEncoder,
    specials: Specials,
    vocab: usize,
    block: usize,
    seed: u64,
    max_blocks: Option<usize>,
) -> Result<Vec<MaskedBlock>> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let ids = encoder.ids_without_specials(&text)?;
    let blocks = split_blocks(&ids, block);
    if blocks.is_empty() {
        return Err(AnalysisError::Input(format!(
            "{}: {} tokens, fewer than one block of {block}",
            path.display(),
            ids.len()
        )));
    }
    let n = max_blocks.unwrap_or(usize::MAX).min(blocks.len());
    Ok(blocks[..n].iter().enumerate().map(|(i, b)| mask_block(b, i as u64, seed, specials, vocab)).collect())
}

/// Packs blocks into one batch (token types 0) with the batch rows of their selected tokens and labels.
pub fn pack(blocks: &[MaskedBlock]) -> (Batch, Vec<usize>, Vec<i64>) {
    let seqs: Vec<(Vec<u32>, Vec<u32>)> =
        blocks.iter().map(|b| (b.input_ids.clone(), vec![0; b.input_ids.len()])).collect();
    let batch = Batch::pack(&seqs);
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for (s, b) in blocks.iter().enumerate() {
        rows.extend(b.positions.iter().map(|&j| batch.row(s, j)));
        labels.extend(&b.labels);
    }
    (batch, rows, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_berts_rates_and_are_reproducible() {
        let specials = Specials { cls: 101, sep: 102, mask: 103 };
        let content: Vec<u32> = (0..200_000).map(|i| 1000 + (i % 500)).collect();
        let a = mask_block(&content, 3, 7, specials, 30522);
        assert_eq!(a, mask_block(&content, 3, 7, specials, 30522));
        assert_ne!(a.positions, mask_block(&content, 4, 7, specials, 30522).positions);
        let n = a.positions.len() as f64;
        assert!((n / content.len() as f64 - 0.15).abs() < 0.003, "{n}");
        let masked = a.positions.iter().filter(|&&p| a.input_ids[p] == 103).count() as f64;
        assert!((masked / n - 0.8).abs() < 0.01, "{}", masked / n);
        let unchanged =
            a.positions.iter().zip(&a.labels).filter(|(&p, &l)| a.input_ids[p] as i64 == l).count() as f64;
        // 10% kept as they are, plus the random draws that hit the original id by chance.
        assert!((unchanged / n - 0.1).abs() < 0.01, "{}", unchanged / n);
        assert_eq!(a.input_ids[0], 101);
        assert_eq!(*a.input_ids.last().unwrap(), 102);
    }

    #[test]
    fn blocks_drop_the_remainder() {
        let ids: Vec<u32> = (0..25).collect();
        let b = split_blocks(&ids, 10);
        assert_eq!(b.len(), 2);
        assert_eq!(b[1][0], 10);
    }
}

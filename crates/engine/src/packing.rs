//! Sequences packed back to back, without padding ("unpadding", as in NVIDIA's BERT and MosaicBERT).
//!
//! A batch of sequences of lengths `l₀, l₁, …` is one `[l₀ + l₁ + …, width]` matrix: sequence `b` owns
//! rows `offsets[b]..offsets[b + 1]`. Every op of an encoder but attention works row by row, so it runs on
//! real tokens only; attention runs per sequence over its own length.
//!
//! Random keys follow the sequence and the position, not the row: token `j` of sequence `b` has key
//! `b · MAX_POSITIONS + j`, so a dropout mask never depends on how long the other sequences of the batch
//! are, or on whether the batch was padded.

use std::ops::Range;

/// Positions per sequence in the key space; far above any encoder's position table.
pub const MAX_POSITIONS: u64 = 1 << 16;

/// The layout of one packed batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packing {
    /// `offsets[b]..offsets[b + 1]` are the rows of sequence `b`; starts at 0, one entry more than
    /// there are sequences.
    offsets: Vec<usize>,
    /// The random key of every row (`b · MAX_POSITIONS + j`).
    row_keys: Vec<u64>,
}

impl Packing {
    /// The packing of sequences with these lengths, in order.
    pub fn from_lens(lens: impl IntoIterator<Item = usize>) -> Packing {
        let mut p = Packing { offsets: vec![0], row_keys: Vec::new() };
        for (b, len) in lens.into_iter().enumerate() {
            assert!((len as u64) < MAX_POSITIONS, "sequence {b} has {len} tokens, beyond the key space");
            p.row_keys.extend((0..len as u64).map(|j| b as u64 * MAX_POSITIONS + j));
            p.offsets.push(p.offsets[b] + len);
        }
        p
    }

    /// Number of sequences.
    pub fn sequences(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of rows (real tokens) over all sequences.
    pub fn tokens(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    /// The rows of sequence `b`.
    pub fn rows(&self, b: usize) -> Range<usize> {
        self.offsets[b]..self.offsets[b + 1]
    }

    pub fn len_of(&self, b: usize) -> usize {
        self.offsets[b + 1] - self.offsets[b]
    }

    /// The length of every sequence.
    pub fn lens(&self) -> impl Iterator<Item = usize> + '_ {
        self.offsets.windows(2).map(|w| w[1] - w[0])
    }

    pub fn max_len(&self) -> usize {
        self.lens().max().unwrap_or(0)
    }

    /// The first row of every sequence (where `[CLS]` or `<s>` sits).
    pub fn first_rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.offsets[..self.sequences()].iter().copied()
    }

    /// The random key of every row: `b · MAX_POSITIONS + j` for token `j` of sequence `b`.
    pub fn row_keys(&self) -> &[u64] {
        &self.row_keys
    }

    /// The position of every row inside its sequence.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.row_keys.iter().map(|k| (k % MAX_POSITIONS) as usize)
    }

    /// Sum of the squared lengths: the number of attention scores per head.
    pub fn squares(&self) -> usize {
        self.lens().map(|l| l * l).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_keys_follow_the_sequences() {
        let p = Packing::from_lens([3, 1, 2]);
        assert_eq!((p.sequences(), p.tokens(), p.max_len(), p.squares()), (3, 6, 3, 14));
        assert_eq!(p.rows(1), 3..4);
        assert_eq!(p.first_rows().collect::<Vec<_>>(), [0, 3, 4]);
        assert_eq!(p.positions().collect::<Vec<_>>(), [0, 1, 2, 0, 0, 1]);
        let m = MAX_POSITIONS;
        assert_eq!(p.row_keys(), [0, 1, 2, m, 2 * m, 2 * m + 1]);
    }
}

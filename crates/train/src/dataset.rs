//! Tokenised examples with their labels, seeded subsampling and data order, and packed batches.

use crate::data::{DataError, Example, Result};
use stabletune_engine::RandomStream;
use stabletune_model::tokenizer::{Encoded, TextEncoder};
use stabletune_model::Batch;

use stabletune_engine::streams::{ORDER, SAMPLE};

/// Gold labels: class indices (into [`Task::labels`]) or regression scores.
#[derive(Clone, Debug, PartialEq)]
pub enum Labels {
    Classes(Vec<i64>),
    Scores(Vec<f32>),
}

impl Labels {
    /// The labels of `examples`: class indices into `label_set`, or regression scores without one. Every
    /// example must have a label.
    pub fn of(label_set: Option<&[String]>, examples: &[Example], what: &str) -> Result<Labels> {
        let label_of = |i: usize| {
            examples[i]
                .label
                .as_deref()
                .ok_or_else(|| DataError::Other(format!("{what}: example {i} has no label")))
        };
        Ok(match label_set {
            Some(set) => Labels::Classes(
                (0..examples.len())
                    .map(|i| {
                        let l = label_of(i)?;
                        set.iter().position(|s| *s == l).map(|p| p as i64).ok_or_else(|| {
                            DataError::Other(format!(
                                "{what}: example {i} has label {l:?}, not one of {set:?}"
                            ))
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
            None => Labels::Scores(
                (0..examples.len())
                    .map(|i| {
                        let l = label_of(i)?;
                        l.parse::<f32>()
                            .map_err(|_| DataError::Other(format!("{what}: example {i} has score {l:?}")))
                    })
                    .collect::<Result<_>>()?,
            ),
        })
    }

    pub fn len(&self) -> usize {
        match self {
            Labels::Classes(v) => v.len(),
            Labels::Scores(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn select(&self, idx: &[usize]) -> Labels {
        match self {
            Labels::Classes(v) => Labels::Classes(idx.iter().map(|&i| v[i]).collect()),
            Labels::Scores(v) => Labels::Scores(idx.iter().map(|&i| v[i]).collect()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub inputs: Vec<Encoded>,
    pub labels: Labels,
}

impl Dataset {
    /// Tokenises labelled examples. With a label set, labels become class indices into it; without one they
    /// are regression scores. Every example must have a label.
    pub fn encode(
        label_set: Option<&[String]>,
        examples: &[Example],
        tokenizer: &TextEncoder,
        what: &str,
    ) -> Result<Dataset> {
        let inputs = examples
            .iter()
            .map(|e| tokenizer.encode(&e.text_a, e.text_b.as_deref()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| DataError::Other(format!("{what}: {e}")))?;
        let labels = Labels::of(label_set, examples, what)?;
        Ok(Dataset { inputs, labels })
    }

    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    pub fn select(&self, idx: &[usize]) -> Dataset {
        Dataset {
            inputs: idx.iter().map(|&i| self.inputs[i].clone()).collect(),
            labels: self.labels.select(idx),
        }
    }

    /// The examples `idx`, packed without padding, and their labels.
    pub fn batch(&self, idx: &[usize]) -> (Batch, Labels) {
        let seqs: Vec<_> = idx
            .iter()
            .map(|&i| (self.inputs[i].input_ids.clone(), self.inputs[i].token_type_ids.clone()))
            .collect();
        (Batch::pack(&seqs), self.labels.select(idx))
    }
}

/// A seeded random permutation of `0..n` (Fisher-Yates over a counter-based stream).
fn permutation(n: usize, stream: RandomStream) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = stream.below(i as u64, i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// `k` of `n` indices drawn without replacement with the sample seed, in increasing order (the paper's
/// 1000-example experiments: one sample for every seed of a study). All of them when `k >= n`.
pub fn sample_indices(n: usize, k: usize, sample_seed: u64) -> Vec<usize> {
    let mut chosen: Vec<usize> =
        permutation(n, RandomStream::new(sample_seed, SAMPLE, 0)).into_iter().take(k).collect();
    chosen.sort_unstable();
    chosen
}

/// The order of the training examples in `epoch`: a pure function of (data seed, epoch), so a resumed
/// run sees exactly the batches an uninterrupted one would.
pub fn epoch_order(n: usize, data_seed: u64, epoch: usize) -> Vec<usize> {
    permutation(n, RandomStream::new(data_seed, ORDER, epoch as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_permutations_and_depend_on_seed_and_epoch() {
        let a = epoch_order(100, 1, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(100, 1, 0));
        assert_ne!(a, epoch_order(100, 1, 1));
        assert_ne!(a, epoch_order(100, 2, 0));
        let s = sample_indices(1000, 10, 3);
        assert_eq!(s.len(), 10);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_indices(5, 10, 3), vec![0, 1, 2, 3, 4]);
    }
}

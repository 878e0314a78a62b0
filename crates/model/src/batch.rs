//! Packed batches and the reusable buffers a forward and backward pass run in.

use stabletune_engine::ops::Dropout;
use stabletune_engine::streams;
use stabletune_engine::{Packing, RandomStream};

/// A batch of sequences packed back to back without padding: `packing` says which rows are whose.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
    pub packing: Packing,
}

impl Batch {
    /// Packs `(input_ids, token_type_ids)` pairs, in order.
    pub fn pack(sequences: &[(Vec<u32>, Vec<u32>)]) -> Batch {
        let mut b = Batch {
            packing: Packing::from_lens(sequences.iter().map(|(ids, _)| ids.len())),
            ..Default::default()
        };
        for (ids, types) in sequences {
            assert_eq!(ids.len(), types.len(), "input ids and token type ids differ in length");
            b.input_ids.extend(ids);
            b.token_type_ids.extend(types);
        }
        b
    }

    /// Packs right-padded `[rows, seq]` ids (as a tokenizer or PyTorch hands them over) given each row's
    /// real length.
    pub fn from_padded(input_ids: &[u32], token_type_ids: &[u32], lens: &[usize]) -> Batch {
        let seq = input_ids.len().checked_div(lens.len()).unwrap_or(0);
        let seqs: Vec<_> = lens
            .iter()
            .enumerate()
            .map(|(b, &len)| {
                let rows = b * seq..b * seq + len;
                (input_ids[rows.clone()].to_vec(), token_type_ids[rows].to_vec())
            })
            .collect();
        Batch::pack(&seqs)
    }

    /// Number of sequences.
    pub fn sequences(&self) -> usize {
        self.packing.sequences()
    }

    /// Number of (real) tokens.
    pub fn tokens(&self) -> usize {
        self.packing.tokens()
    }

    /// The hidden-state row of token `j` of sequence `b`.
    pub fn row(&self, b: usize, j: usize) -> usize {
        debug_assert!(j < self.packing.len_of(b));
        self.packing.rows(b).start + j
    }
}

/// Training (dropout on, keyed by the init seed and the step) or evaluation (dropout off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Eval,
    Train { seed: u64, step: u64 },
}

/// Dropout sites; each gets its own random stream so no two sites share a mask.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Site {
    Embeddings,
    AttentionProbs(usize),
    AttentionOutput(usize),
    FfnOutput(usize),
    HeadInput,
    HeadPooled,
}

impl Site {
    /// Every dropout site of an encoder with `layers` layers (for the tests that keep streams apart).
    #[cfg(test)]
    pub(crate) fn all(layers: usize) -> Vec<Site> {
        let mut sites = vec![Site::Embeddings, Site::HeadInput, Site::HeadPooled];
        for d in 0..layers {
            sites.extend([Site::AttentionProbs(d), Site::AttentionOutput(d), Site::FfnOutput(d)]);
        }
        sites
    }

    pub(crate) fn stream_id(self) -> u64 {
        let site = match self {
            Site::Embeddings => 1,
            Site::HeadInput => 2,
            Site::HeadPooled => 3,
            Site::AttentionProbs(d) => 16 + 4 * d as u64,
            Site::AttentionOutput(d) => 17 + 4 * d as u64,
            Site::FfnOutput(d) => 18 + 4 * d as u64,
        };
        streams::id(streams::Family::Dropout, site)
    }
}

impl Mode {
    pub(crate) fn dropout(self, p: f32, site: Site) -> Option<Dropout> {
        match self {
            Mode::Eval => None,
            Mode::Train { seed, step } => Dropout::new(p, RandomStream::new(seed, site.stream_id(), step)),
        }
    }
}

/// What one layer's forward pass keeps for its backward pass.
#[derive(Default)]
pub(crate) struct LayerCache {
    pub qkv: Vec<f32>,
    pub probs: Vec<f32>,
    /// Attention probabilities after dropout (empty without dropout).
    pub dropped: Vec<f32>,
    pub ctx: Vec<f32>,
    /// Input of the attention LayerNorm: dropout(ctx·Woᵀ + b) + x.
    pub attn_sum: Vec<f32>,
    pub attn_mean: Vec<f32>,
    pub attn_rstd: Vec<f32>,
    pub attn_out: Vec<f32>,
    /// The feed-forward pre-activation; in training, overwritten by the activation's derivative.
    pub ffn_deriv: Vec<f32>,
    pub ffn_act: Vec<f32>,
    pub ffn_sum: Vec<f32>,
    pub ffn_mean: Vec<f32>,
    pub ffn_rstd: Vec<f32>,
    /// The layer's output.
    pub out: Vec<f32>,
}

/// Resizes a buffer without shrinking its allocation (no allocation once buffers reach their largest size).
pub(crate) fn fit(buf: &mut Vec<f32>, len: usize) {
    buf.resize(len, 0.0);
}

/// The activations of the encoder and heads, and the scratch of the backward pass. Keep one per model and
/// reuse it: after the largest batch has been seen, steps allocate nothing.
#[derive(Default)]
pub struct Workspace {
    pub(crate) position_ids: Vec<u32>,
    pub(crate) emb_sum: Vec<f32>,
    pub(crate) emb_mean: Vec<f32>,
    pub(crate) emb_rstd: Vec<f32>,
    /// Embeddings after LayerNorm and dropout.
    pub(crate) emb_out: Vec<f32>,
    /// ALBERT's projection to the hidden size.
    pub(crate) emb_proj: Vec<f32>,
    pub(crate) layers: Vec<LayerCache>,
    pub(crate) head: HeadCache,
    pub(crate) grad: GradScratch,
    pub(crate) tokens: usize,
    /// The layer cache holding the last hidden state: the last layer after a training pass; one of the
    /// first two after a forward-only pass, which reuses them in turn.
    pub(crate) output_layer: usize,
}

#[derive(Default)]
pub(crate) struct HeadCache {
    pub rows: Vec<usize>,
    pub input: Vec<f32>,
    pub dropped_input: Vec<f32>,
    pub pre: Vec<f32>,
    pub act: Vec<f32>,
    pub mean: Vec<f32>,
    pub rstd: Vec<f32>,
    pub features: Vec<f32>,
    pub logits: Vec<f32>,
}

#[derive(Default)]
pub(crate) struct GradScratch {
    pub dhidden: Vec<f32>,
    pub dinput: Vec<f32>,
    pub ds: Vec<f32>,
    pub dbranch: Vec<f32>,
    pub dattn_out: Vec<f32>,
    pub dctx: Vec<f32>,
    pub dqkv: Vec<f32>,
    pub dffn_act: Vec<f32>,
    pub dffn_pre: Vec<f32>,
    pub demb: Vec<f32>,
    pub dlogits: Vec<f32>,
    pub dhead_a: Vec<f32>,
    pub dhead_b: Vec<f32>,
}

impl Workspace {
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoder's last hidden state from the latest forward pass, `[tokens, hidden]`.
    pub fn hidden(&self) -> &[f32] {
        match self.layers.get(self.output_layer) {
            Some(l) => &l.out,
            None => self.encoder_input(),
        }
    }

    pub(crate) fn encoder_input(&self) -> &[f32] {
        if self.emb_proj.is_empty() {
            &self.emb_out
        } else {
            &self.emb_proj
        }
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;
    use crate::{HeadSpec, Model};
    use std::collections::HashMap;

    /// Every random stream of a run (dropout sites of a 48-layer encoder, the initialisation of every
    /// tensor of the three fixture families with both heads, the subsample and the epoch orders) has its
    /// own stream id, so no two sites ever share a (seed, stream, step) key even when the init seed
    /// equals the data seed.
    #[test]
    fn no_two_sites_share_a_stream() {
        let mut seen: HashMap<u64, String> = HashMap::new();
        let mut claim = |id: u64, what: String| {
            if let Some(other) = seen.insert(id, what.clone()) {
                panic!("{what} and {other} share stream {id:#x}");
            }
        };
        for site in Site::all(48) {
            claim(site.stream_id(), format!("dropout {site:?}"));
        }
        claim(streams::SAMPLE, "the subsample".into());
        claim(streams::ORDER, "the epoch orders".into());
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let mut names = std::collections::BTreeSet::new();
        for family in ["tiny-bert", "tiny-roberta", "tiny-albert"] {
            for heads in [
                HeadSpec { classifier: Some(3), masked_lm: false },
                HeadSpec { classifier: None, masked_lm: true },
            ] {
                let (model, _) = Model::from_dir(&fixtures.join(family), heads, 0).unwrap();
                names.extend(model.params.infos.iter().map(|i| i.name.clone()));
            }
        }
        for name in names {
            claim(crate::params::init_stream(&name), format!("init of {name}"));
        }
    }

    /// The collision this replaced: with `--seed N`, the step-0 embedding dropout mask was the
    /// subsample's permutation stream, and head dropout at step e was epoch e's order.
    #[test]
    fn dropout_never_draws_the_data_streams() {
        for seed in [0, 1, 42] {
            let embed = RandomStream::new(seed, Site::Embeddings.stream_id(), 0);
            assert_ne!(embed, RandomStream::new(seed, streams::SAMPLE, 0));
            for epoch in 0..4 {
                let head = RandomStream::new(seed, Site::HeadInput.stream_id(), epoch);
                assert_ne!(head, RandomStream::new(seed, streams::ORDER, epoch));
            }
        }
    }
}

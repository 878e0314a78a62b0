//! Where every tensor of an encoder lives, under which Hugging Face name: one place that knows the
//! naming of BERT, RoBERTa and ALBERT checkpoints.

use crate::config::{Architecture, EncoderConfig};
use crate::params::{ParamGroup, ParamSet};

/// A linear layer `y = x·Wᵀ + b` with `W` at `w` (`[outputs, inputs]`) and `b` at `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    pub w: usize,
    pub b: usize,
    pub inputs: usize,
    pub outputs: usize,
}

/// A LayerNorm's weight (gamma) and bias (beta) offsets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Norm {
    pub gamma: usize,
    pub beta: usize,
    pub dim: usize,
    pub eps: f32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Embeddings {
    pub word: usize,
    pub position: usize,
    pub token_type: usize,
    pub norm: Norm,
    /// ALBERT maps `embedding_size` up to `hidden_size` before the first layer.
    pub projection: Option<Linear>,
}

/// One transformer layer. `qkv` is the fused Q, K, V projection: their weights (and biases) are stored
/// back to back, so together they form one `[3·hidden, hidden]` matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layer {
    pub qkv: Linear,
    pub attn_out: Linear,
    pub attn_norm: Norm,
    pub ffn_in: Linear,
    pub ffn_out: Linear,
    pub ffn_norm: Norm,
}

/// The classification (or regression) head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classifier {
    /// RoBERTa's head has its own dense + tanh (`classifier.dense`); BERT and ALBERT use the pooler.
    pub dense: Option<Linear>,
    pub out: Linear,
}

/// The masked-LM head: transform (dense, activation, LayerNorm), then the decoder tied to the word
/// embeddings, plus an output bias.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskedLmHead {
    pub dense: Linear,
    pub norm: Norm,
    pub bias: usize,
}

/// Which heads to build on top of the encoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadSpec {
    /// Outputs of the classification head (1 for regression).
    pub classifier: Option<usize>,
    pub masked_lm: bool,
}

/// The model's structure: offsets into its [`ParamSet`].
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub embeddings: Embeddings,
    /// Distinct layers (ALBERT: groups × inner layers).
    pub layers: Vec<Layer>,
    /// The layer applied at each depth, in order (BERT: 0, 1, 2, ...; ALBERT repeats its groups).
    pub depth: Vec<usize>,
    pub pooler: Option<Linear>,
    pub classifier: Option<Classifier>,
    pub masked_lm: Option<MaskedLmHead>,
}

/// Tensor names inside one layer, relative to the layer's prefix.
struct LayerNames {
    prefix: String,
    qkv: [&'static str; 3],
    attn_out: &'static str,
    attn_norm: &'static str,
    ffn_in: &'static str,
    ffn_out: &'static str,
    ffn_norm: &'static str,
}

fn layer_names(arch: Architecture, group: usize, inner: usize) -> LayerNames {
    match arch {
        Architecture::Bert | Architecture::Roberta => LayerNames {
            prefix: format!("{}.encoder.layer.{group}", arch.prefix()),
            qkv: ["attention.self.query", "attention.self.key", "attention.self.value"],
            attn_out: "attention.output.dense",
            attn_norm: "attention.output.LayerNorm",
            ffn_in: "intermediate.dense",
            ffn_out: "output.dense",
            ffn_norm: "output.LayerNorm",
        },
        Architecture::Albert => LayerNames {
            prefix: format!("albert.encoder.albert_layer_groups.{group}.albert_layers.{inner}"),
            qkv: ["attention.query", "attention.key", "attention.value"],
            attn_out: "attention.dense",
            attn_norm: "attention.LayerNorm",
            ffn_in: "ffn",
            ffn_out: "ffn_output",
            ffn_norm: "full_layer_layer_norm",
        },
    }
}

struct Builder<'a> {
    params: &'a mut ParamSet,
    eps: f32,
}

impl Builder<'_> {
    fn linear(&mut self, name: &str, inputs: usize, outputs: usize, group: ParamGroup) -> Linear {
        let w = self.params.add(format!("{name}.weight"), &[outputs, inputs], group);
        let b = self.params.add(format!("{name}.bias"), &[outputs], group);
        Linear { w, b, inputs, outputs }
    }

    fn norm(&mut self, name: &str, dim: usize, group: ParamGroup) -> Norm {
        let gamma = self.params.add(format!("{name}.weight"), &[dim], group);
        let beta = self.params.add(format!("{name}.bias"), &[dim], group);
        Norm { gamma, beta, dim, eps: self.eps }
    }

    fn layer(&mut self, cfg: &EncoderConfig, names: &LayerNames, index: usize) -> Layer {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let g = ParamGroup::Layer(index);
        let p = &names.prefix;
        // Q, K, V weights back to back, then their biases: one [3h, h] matrix and one [3h] bias.
        let w = names.qkv.map(|n| self.params.add(format!("{p}.{n}.weight"), &[h, h], g))[0];
        let b = names.qkv.map(|n| self.params.add(format!("{p}.{n}.bias"), &[h], g))[0];
        Layer {
            qkv: Linear { w, b, inputs: h, outputs: 3 * h },
            attn_out: self.linear(&format!("{p}.{}", names.attn_out), h, h, g),
            attn_norm: self.norm(&format!("{p}.{}", names.attn_norm), h, g),
            ffn_in: self.linear(&format!("{p}.{}", names.ffn_in), h, i, g),
            ffn_out: self.linear(&format!("{p}.{}", names.ffn_out), i, h, g),
            ffn_norm: self.norm(&format!("{p}.{}", names.ffn_norm), h, g),
        }
    }
}

impl Layout {
    /// Registers every tensor of an encoder with the requested heads in `params` (zero-filled) and
    /// returns the structure. `with_pooler` adds RoBERTa's optional pooler (BERT and ALBERT always have one).
    pub fn build(cfg: &EncoderConfig, heads: HeadSpec, with_pooler: bool, params: &mut ParamSet) -> Layout {
        let arch = cfg.arch;
        let pre = arch.prefix();
        let (e, h) = (cfg.embedding_size, cfg.hidden_size);
        let mut b = Builder { params, eps: cfg.layer_norm_eps };
        let emb = ParamGroup::Embeddings;
        let word =
            b.params.add(format!("{pre}.embeddings.word_embeddings.weight"), &[cfg.vocab_size, e], emb);
        let position = b.params.add(
            format!("{pre}.embeddings.position_embeddings.weight"),
            &[cfg.max_position_embeddings, e],
            emb,
        );
        let token_type = b.params.add(
            format!("{pre}.embeddings.token_type_embeddings.weight"),
            &[cfg.type_vocab_size, e],
            emb,
        );
        let norm = b.norm(&format!("{pre}.embeddings.LayerNorm"), e, emb);
        let projection = (arch == Architecture::Albert)
            .then(|| b.linear("albert.encoder.embedding_hidden_mapping_in", e, h, emb));
        let embeddings = Embeddings { word, position, token_type, norm, projection };

        let mut layers = Vec::new();
        for g in 0..cfg.num_hidden_groups {
            for inner in 0..cfg.inner_group_num {
                let names = layer_names(arch, g, inner);
                let index = layers.len();
                layers.push(b.layer(cfg, &names, index));
            }
        }
        // ALBERT: depth i uses group i / (layers / groups), and every inner layer of that group.
        let per_group = cfg.num_layers / cfg.num_hidden_groups;
        let depth = (0..cfg.num_layers)
            .flat_map(|i| {
                let g = i / per_group;
                (0..cfg.inner_group_num).map(move |j| g * cfg.inner_group_num + j)
            })
            .collect();

        let pooler = match arch {
            Architecture::Bert => Some(b.linear("bert.pooler.dense", h, h, ParamGroup::Pooler)),
            Architecture::Albert => Some(b.linear("albert.pooler", h, h, ParamGroup::Pooler)),
            Architecture::Roberta => {
                with_pooler.then(|| b.linear("roberta.pooler.dense", h, h, ParamGroup::Pooler))
            }
        };
        let classifier = heads.classifier.map(|n| {
            let c = ParamGroup::Classifier;
            match arch {
                Architecture::Roberta => Classifier {
                    dense: Some(b.linear("classifier.dense", h, h, c)),
                    out: b.linear("classifier.out_proj", h, n, c),
                },
                _ => Classifier { dense: None, out: b.linear("classifier", h, n, c) },
            }
        });
        let masked_lm = heads.masked_lm.then(|| {
            let m = ParamGroup::MaskedLm;
            let (dense, norm, bias) = match arch {
                Architecture::Bert => (
                    "cls.predictions.transform.dense",
                    "cls.predictions.transform.LayerNorm",
                    "cls.predictions.bias",
                ),
                Architecture::Roberta => ("lm_head.dense", "lm_head.layer_norm", "lm_head.bias"),
                Architecture::Albert => ("predictions.dense", "predictions.LayerNorm", "predictions.bias"),
            };
            MaskedLmHead {
                dense: b.linear(dense, h, e, m),
                norm: b.norm(norm, e, m),
                bias: b.params.add(bias.to_string(), &[cfg.vocab_size], m),
            }
        });
        Layout { embeddings, layers, depth, pooler, classifier, masked_lm }
    }
}

//! Encoder configurations, parsed from Hugging Face `config.json` files.

use crate::error::{io_err, ModelError, Result};
use serde::Deserialize;
use stabletune_engine::ops::Activation;
use std::path::Path;

/// The three supported model families. They share the post-LayerNorm encoder and differ in names,
/// position ids (RoBERTa), the embedding projection and layer sharing (ALBERT), and heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    Bert,
    Roberta,
    Albert,
}

impl Architecture {
    /// The prefix of base-model tensors in `...ForSequenceClassification` checkpoints.
    pub fn prefix(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::Roberta => "roberta",
            Architecture::Albert => "albert",
        }
    }
}

/// Everything the engine needs to know about an encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct EncoderConfig {
    pub arch: Architecture,
    pub vocab_size: usize,
    pub hidden_size: usize,
    /// Width of the embeddings: ALBERT's `embedding_size`, otherwise `hidden_size`.
    pub embedding_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    pub hidden_dropout: f32,
    pub attention_dropout: f32,
    /// Dropout before the classifier (`classifier_dropout[_prob]`, else `hidden_dropout_prob`).
    pub classifier_dropout: f32,
    /// RoBERTa's head only: dropout on the head's input, before its dense layer (transformers uses
    /// `classifier_dropout` there too, which is what a config file gives; the recipes switch it off).
    pub head_input_dropout: f32,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f32,
    pub pad_token_id: u32,
    /// ALBERT: layers are `num_hidden_groups` groups of `inner_group_num` layers, shared across depth.
    /// (BERT and RoBERTa: one group per layer, one layer per group.)
    pub num_hidden_groups: usize,
    pub inner_group_num: usize,
    /// Labels of the classification head when the config names them (`id2label`, `num_labels`).
    pub num_labels: Option<usize>,
    /// The file as read, kept so that saving preserves every field we do not interpret.
    pub raw: serde_json::Value,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default = "default_dropout")]
    hidden_dropout_prob: f32,
    #[serde(default = "default_dropout")]
    attention_probs_dropout_prob: f32,
    classifier_dropout: Option<f32>,
    classifier_dropout_prob: Option<f32>,
    #[serde(default = "default_positions")]
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f32,
    pad_token_id: Option<u32>,
    embedding_size: Option<usize>,
    #[serde(default = "one")]
    num_hidden_groups: usize,
    #[serde(default = "one")]
    inner_group_num: usize,
    num_labels: Option<usize>,
    id2label: Option<serde_json::Map<String, serde_json::Value>>,
    position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f32 {
    0.1
}
fn default_positions() -> usize {
    512
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f32 {
    1e-12
}
fn one() -> usize {
    1
}

impl EncoderConfig {
    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        Self::from_json_str(&text, path)
    }

    /// Parses config JSON; `path` is only used in error messages.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let json = |source| ModelError::Json { path: path.into(), source };
        let value: serde_json::Value = serde_json::from_str(text).map_err(json)?;
        let raw: RawConfig = serde_json::from_value(value.clone()).map_err(json)?;
        let bad = |message: String| ModelError::Config { path: path.into(), message };
        let arch = match raw.model_type.as_deref() {
            Some("bert") => Architecture::Bert,
            Some("roberta") => Architecture::Roberta,
            Some("albert") => Architecture::Albert,
            Some(other) => {
                return Err(ModelError::UnknownModelType { path: path.into(), found: other.into() })
            }
            None => return Err(bad("no model_type field".into())),
        };
        let hidden_act = Activation::from_hf_name(&raw.hidden_act)
            .ok_or_else(|| bad(format!("unsupported hidden_act {:?}", raw.hidden_act)))?;
        if let Some(kind) = raw.position_embedding_type.as_deref() {
            if kind != "absolute" {
                return Err(bad(format!(
                    "position_embedding_type {kind:?} is not supported (only absolute)"
                )));
            }
        }
        if raw.num_attention_heads == 0 || !raw.hidden_size.is_multiple_of(raw.num_attention_heads) {
            return Err(bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                raw.hidden_size, raw.num_attention_heads
            )));
        }
        let embedding_size = match arch {
            Architecture::Albert => raw.embedding_size.unwrap_or(128),
            _ => raw.hidden_size,
        };
        let (groups, inner) = match arch {
            Architecture::Albert => (raw.num_hidden_groups, raw.inner_group_num),
            // Every layer is its own group: depth i uses layer i.
            _ => (raw.num_hidden_layers, 1),
        };
        if groups == 0 || inner == 0 || !raw.num_hidden_layers.is_multiple_of(groups) {
            return Err(bad(format!(
                "num_hidden_layers {} must be a multiple of num_hidden_groups {groups} (and both positive)",
                raw.num_hidden_layers
            )));
        }
        let pad_token_id = raw.pad_token_id.unwrap_or(match arch {
            Architecture::Roberta => 1,
            _ => 0,
        });
        let hidden_dropout = raw.hidden_dropout_prob;
        let classifier_dropout =
            raw.classifier_dropout.or(raw.classifier_dropout_prob).unwrap_or(hidden_dropout);
        let num_labels = raw.num_labels.or(raw.id2label.as_ref().map(|m| m.len()));
        let cfg = EncoderConfig {
            arch,
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            embedding_size,
            num_layers: raw.num_hidden_layers,
            num_heads: raw.num_attention_heads,
            intermediate_size: raw.intermediate_size,
            hidden_act,
            hidden_dropout,
            attention_dropout: raw.attention_probs_dropout_prob,
            classifier_dropout,
            head_input_dropout: classifier_dropout,
            max_position_embeddings: raw.max_position_embeddings,
            type_vocab_size: raw.type_vocab_size,
            layer_norm_eps: raw.layer_norm_eps,
            pad_token_id,
            num_hidden_groups: groups,
            inner_group_num: inner,
            num_labels,
            raw: value,
        };
        if cfg.arch == Architecture::Roberta && cfg.max_position_embeddings <= cfg.pad_token_id as usize + 1 {
            return Err(bad("max_position_embeddings must exceed pad_token_id + 1 for RoBERTa".into()));
        }
        Ok(cfg)
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// The longest sequence the position embeddings allow (RoBERTa spends `pad_token_id + 1` of them).
    pub fn max_sequence_length(&self) -> usize {
        match self.arch {
            Architecture::Roberta => self.max_position_embeddings - self.pad_token_id as usize - 1,
            _ => self.max_position_embeddings,
        }
    }

    /// A config for a randomly initialised encoder of the given shape (benchmarks, tests).
    pub fn bert_shape(layers: usize, hidden: usize, heads: usize, ffn: usize, vocab: usize) -> Self {
        let json = serde_json::json!({
            "model_type": "bert", "vocab_size": vocab, "hidden_size": hidden,
            "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": ffn,
            "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2,
        });
        Self::from_json_str(&json.to_string(), Path::new("<built-in>")).expect("valid built-in config")
    }

    /// The config JSON to save beside fine-tuned weights: the original fields, with the head's labels.
    pub fn to_hf_json(&self, num_labels: Option<usize>, architectures: &str) -> serde_json::Value {
        let mut v = self.raw.clone();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("architectures".into(), serde_json::json!([architectures]));
            if let Some(n) = num_labels {
                let id2label: serde_json::Map<_, _> =
                    (0..n).map(|i| (i.to_string(), serde_json::json!(format!("LABEL_{i}")))).collect();
                let label2id: serde_json::Map<_, _> =
                    (0..n).map(|i| (format!("LABEL_{i}"), serde_json::json!(i))).collect();
                obj.insert("id2label".into(), id2label.into());
                obj.insert("label2id".into(), label2id.into());
                obj.remove("num_labels");
            }
        }
        v
    }
}

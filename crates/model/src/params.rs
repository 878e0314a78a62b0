//! All of a model's parameters in one flat buffer, each tensor known by its Hugging Face name.
//!
//! One buffer (and one gradient buffer of the same layout) makes the optimizer a single loop, the global
//! gradient norm a single sum, and per-tensor views (gradient norms by name, resetting layers) a lookup.

use stabletune_engine::RandomStream;
use std::collections::HashMap;
use std::ops::Range;

/// Which part of the model a tensor belongs to (for layer-wise learning rates, re-initialisation and
/// deciding what may be freshly initialised when a checkpoint lacks it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamGroup {
    Embeddings,
    /// A distinct transformer layer (ALBERT shares these across depth).
    Layer(usize),
    Pooler,
    Classifier,
    MaskedLm,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    /// The Hugging Face name, with the base-model prefix (`bert.`, `roberta.`, `albert.`) where the
    /// `...ForSequenceClassification` classes put one.
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub group: ParamGroup,
    /// Biases and LayerNorm parameters get no weight decay.
    pub no_decay: bool,
}

impl ParamInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }

    pub fn is_layer_norm(&self) -> bool {
        self.name.contains("LayerNorm") || self.name.contains("layer_norm")
    }
}

#[derive(Clone, Debug, Default)]
pub struct ParamSet {
    pub infos: Vec<ParamInfo>,
    pub values: Vec<f32>,
    by_name: HashMap<String, usize>,
}

impl ParamSet {
    /// Registers a tensor (zero-filled) and returns its offset. Tensors registered one after another are
    /// adjacent in memory, which the layout uses to fuse Q, K and V into one matrix.
    pub fn add(&mut self, name: String, shape: &[usize], group: ParamGroup) -> usize {
        assert!(!self.by_name.contains_key(&name), "duplicate parameter {name}");
        let offset = self.values.len();
        let info = ParamInfo {
            no_decay: name.ends_with("bias") || name.contains("LayerNorm") || name.contains("layer_norm"),
            name: name.clone(),
            shape: shape.to_vec(),
            offset,
            group,
        };
        self.values.resize(offset + info.len(), 0.0);
        self.by_name.insert(name, self.infos.len());
        self.infos.push(info);
        offset
    }

    pub fn get(&self, name: &str) -> Option<&ParamInfo> {
        self.by_name.get(name).map(|&i| &self.infos[i])
    }

    /// The values of the named tensor.
    pub fn tensor(&self, name: &str) -> Option<&[f32]> {
        self.get(name).map(|i| &self.values[i.range()])
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Initialises one tensor as Hugging Face's `_init_weights` does: matrices and embeddings
    /// N(0, std²), biases 0, LayerNorm weights 1. The draw depends only on (seed, tensor name), so adding
    /// or removing other tensors never changes it.
    pub fn init_tensor(&mut self, index: usize, seed: u64, std: f32) {
        let info = &self.infos[index];
        let range = info.range();
        let values = &mut self.values[range];
        if info.is_layer_norm() && info.name.ends_with("weight") {
            values.fill(1.0);
        } else if info.name.ends_with("bias") {
            values.fill(0.0);
        } else {
            RandomStream::new(seed, init_stream(&info.name), 0).fill_normal(values, 0.0, std);
        }
    }
}

/// The random stream that initialises the tensor `name`: its own site in the init family.
pub fn init_stream(name: &str) -> u64 {
    stabletune_engine::streams::id(stabletune_engine::streams::Family::Init, name_hash(name))
}

/// FNV-1a, to turn a tensor name into a random-stream id.
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

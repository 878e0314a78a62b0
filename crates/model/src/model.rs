//! A model: an encoder configuration, its parameters, and the heads built on it.

use crate::batch::{fit, Batch, Mode, Workspace};
use crate::checkpoint::{self, Checkpoint, LoadReport};
use crate::config::{Architecture, EncoderConfig};
use crate::encoder::Weights;
use crate::error::{io_err, ModelError, Result};
use crate::layout::{HeadSpec, Layout};
use crate::params::{ParamGroup, ParamSet};
use crate::{encoder, heads};
use stabletune_engine::ops::loss::{mean_squared_error, softmax_cross_entropy};
use std::path::Path;

/// What a loss is computed against.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// One class per sequence (classification head, cross-entropy).
    Classes(&'a [i64]),
    /// One value per sequence (regression head with one output, mean squared error).
    Regression(&'a [f32]),
    /// Token rows of the batch (`b·seq + position`) and their labels (masked-LM head, cross-entropy;
    /// negative labels are ignored).
    MaskedLm { rows: &'a [usize], labels: &'a [i64] },
}

pub struct Model {
    pub config: EncoderConfig,
    pub params: ParamSet,
    pub layout: Layout,
    pub heads: HeadSpec,
    /// Mixout's mixed weights for the current training step: a buffer of the parameters' layout whose
    /// linear-layer weight matrices training passes read instead of `params` (evaluation reads
    /// `params`, as Mixout is the identity outside training). Filled by the trainer's Mixout; `None`
    /// without Mixout.
    pub mixed: Option<Vec<f32>>,
}

impl Model {
    /// A model with every tensor drawn as Hugging Face initialises new models (N(0, 0.02) weights, zero
    /// biases, unit LayerNorm weights), from `seed`.
    pub fn random(config: EncoderConfig, heads: HeadSpec, seed: u64) -> Model {
        let mut params = ParamSet::default();
        let layout = Layout::build(&config, heads, false, &mut params);
        for i in 0..params.infos.len() {
            params.init_tensor(i, seed, 0.02);
        }
        Model { config, params, layout, heads, mixed: None }
    }

    /// Loads `config.json` and `model.safetensors` from a Hugging Face model folder. Heads the checkpoint
    /// lacks are initialised from `seed` if they are new task heads (classifier, pooler); a missing
    /// encoder or masked-LM tensor is an error.
    pub fn from_dir(dir: &Path, heads: HeadSpec, seed: u64) -> Result<(Model, LoadReport)> {
        let config = EncoderConfig::from_file(&dir.join("config.json"))?;
        let weights = dir.join("model.safetensors");
        if !weights.exists() {
            let message = if dir.join("pytorch_model.bin").exists() {
                "has pytorch_model.bin but no model.safetensors; stabletune reads safetensors only \
                 (convert with transformers: model.save_pretrained(dir, safe_serialization=True))"
            } else {
                "has no model.safetensors"
            };
            return Err(ModelError::Input(format!("{}: {message}", dir.display())));
        }
        let ck = Checkpoint::open(&weights)?;
        Self::from_checkpoint(config, &ck, heads, seed)
    }

    pub fn from_checkpoint(
        config: EncoderConfig,
        ck: &Checkpoint,
        heads: HeadSpec,
        seed: u64,
    ) -> Result<(Model, LoadReport)> {
        let mut params = ParamSet::default();
        let with_pooler =
            config.arch == Architecture::Roberta && ck.has("roberta.pooler.dense.weight", config.arch);
        let layout = Layout::build(&config, heads, with_pooler, &mut params);
        // New task heads may be initialised when the checkpoint lacks them; nothing else may.
        let new_heads: std::collections::HashSet<String> = params
            .infos
            .iter()
            .filter(|i| matches!(i.group, ParamGroup::Classifier | ParamGroup::Pooler))
            .map(|i| i.name.clone())
            .collect();
        let report = ck.load_into(&mut params, config.arch, |name| new_heads.contains(name), seed)?;
        Ok((Model { config, params, layout, heads, mixed: None }, report))
    }

    /// Writes `config.json` and `model.safetensors` into `dir` (created if needed), in the layout
    /// `from_pretrained` of transformers reads.
    pub fn save_pretrained(&self, dir: &Path) -> Result<()> {
        self.save_config(dir)?;
        checkpoint::save(&self.params, &dir.join("model.safetensors"))
    }

    /// The `config.json` of [`Model::save_pretrained`] alone.
    pub fn save_config(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let class = match (self.config.arch, self.heads.classifier.is_some()) {
            (Architecture::Bert, true) => "BertForSequenceClassification",
            (Architecture::Roberta, true) => "RobertaForSequenceClassification",
            (Architecture::Albert, true) => "AlbertForSequenceClassification",
            (Architecture::Bert, false) => "BertForMaskedLM",
            (Architecture::Roberta, false) => "RobertaForMaskedLM",
            (Architecture::Albert, false) => "AlbertForMaskedLM",
        };
        let json = self.config.to_hf_json(self.heads.classifier, class);
        let text = serde_json::to_string_pretty(&json).expect("JSON value serialises");
        checkpoint::write_atomic(&dir.join("config.json"), text.as_bytes())
    }

    /// What a pass in `mode` reads: the mixed weights of a training pass under Mixout, else the parameters.
    fn weights(&self, mode: Mode) -> Weights<'_> {
        let values = &self.params.values;
        match (mode, &self.mixed) {
            (Mode::Train { .. }, Some(mixed)) => Weights { values, linear: mixed },
            _ => Weights { values, linear: values },
        }
    }

    /// Draws the classification head anew from `seed` (N(0, 0.02) weights, zero biases), as the authors'
    /// code does for every run: a head found in the checkpoint belongs to another task. Returns the names
    /// of the tensors drawn.
    pub fn reinit_classifier(&mut self, seed: u64) -> Vec<String> {
        let heads: Vec<usize> = (0..self.params.infos.len())
            .filter(|&i| self.params.infos[i].group == ParamGroup::Classifier)
            .collect();
        for &i in &heads {
            self.params.init_tensor(i, seed, 0.02);
        }
        heads.into_iter().map(|i| self.params.infos[i].name.clone()).collect()
    }

    /// Zhang et al.'s re-initialisation, as their code (asappresearch/revisit-bert-finetuning) does it:
    /// in the top `layers` encoder layers every weight matrix N(0, initializer_range²), biases 0 and
    /// LayerNorms (1, 0); with `pooler`, the pooler's dense layer likewise. Drawn from `seed` by tensor
    /// name (the classifier's stream family), so the same seed gives the same weights. Returns the
    /// names of the tensors drawn. ALBERT shares one layer across depth, so it has no "top layers" to
    /// re-initialise (the revisit code refuses it too).
    pub fn reinit(&mut self, layers: usize, pooler: bool, seed: u64) -> Result<Vec<String>> {
        let depth = self.config.num_layers;
        if layers > 0 && self.config.arch == Architecture::Albert {
            return Err(ModelError::Input(
                "ALBERT shares its layers across depth: re-initialising the top layers would re-initialise \
                 all of them (use reinit_pooler alone)"
                    .into(),
            ));
        }
        if layers > depth {
            return Err(ModelError::Input(format!(
                "cannot re-initialise {layers} layers of a {depth}-layer encoder"
            )));
        }
        let std = self.config.raw["initializer_range"].as_f64().unwrap_or(0.02) as f32;
        let chosen: Vec<usize> = (0..self.params.infos.len())
            .filter(|&i| match self.params.infos[i].group {
                ParamGroup::Layer(l) => l + layers >= depth,
                // RoBERTa's pretrained pooler is off the forward path; re-drawing it changes nothing.
                ParamGroup::Pooler => pooler && self.on_forward_path(i),
                _ => false,
            })
            .collect();
        for &i in &chosen {
            self.params.init_tensor(i, seed, std);
        }
        Ok(chosen.into_iter().map(|i| self.params.infos[i].name.clone()).collect())
    }

    /// Whether a tensor takes part in the forward pass of the model's heads. RoBERTa's pretrained pooler
    /// does not under the classification head (which has its own dense layer), and no pooler does under
    /// the masked-LM head alone: such tensors get no gradient, so an optimizer must leave them alone
    /// (weight decay would otherwise shrink them).
    pub fn on_forward_path(&self, index: usize) -> bool {
        if self.params.infos[index].group != ParamGroup::Pooler {
            return true;
        }
        match &self.layout.classifier {
            Some(c) => c.dense.is_none(),
            None => false,
        }
    }

    /// The tensor whose gradient is zero outside the rows a batch names: the word embeddings, whose row
    /// `id` gets gradient only from the tokens `id` of the batch (its `input_ids`). Returns the tensor's
    /// index and row width; `None` with a masked-LM head, whose decoder (tied to the word embeddings)
    /// gives every row a gradient.
    pub fn sparse_rows(&self) -> Option<(usize, usize)> {
        if self.layout.masked_lm.is_some() {
            return None;
        }
        let word = self.layout.embeddings.word;
        let index = self.params.infos.iter().position(|i| i.offset == word)?;
        Some((index, self.config.embedding_size))
    }

    /// A zeroed gradient buffer in the parameters' layout.
    pub fn zero_grads(&self) -> Vec<f32> {
        vec![0.0; self.params.len()]
    }

    /// Checks that a batch fits the model: ids inside the vocabulary, token types inside
    /// `type_vocab_size`, sequences no longer than the position embeddings allow.
    pub fn check_batch(&self, batch: &Batch) -> Result<()> {
        let c = &self.config;
        if batch.sequences() == 0 || batch.packing.lens().any(|l| l == 0) {
            return Err(ModelError::Input("empty batch or empty sequence".into()));
        }
        if batch.packing.max_len() > c.max_sequence_length() {
            return Err(ModelError::Input(format!(
                "sequence length {} exceeds the model's maximum of {}",
                batch.packing.max_len(),
                c.max_sequence_length()
            )));
        }
        if batch.input_ids.len() != batch.tokens() || batch.token_type_ids.len() != batch.tokens() {
            return Err(ModelError::Input(format!(
                "{} input ids and {} token types for a batch of {} tokens",
                batch.input_ids.len(),
                batch.token_type_ids.len(),
                batch.tokens()
            )));
        }
        if let Some(id) = batch.input_ids.iter().find(|&&i| i as usize >= c.vocab_size) {
            return Err(ModelError::Input(format!(
                "token id {id} outside the vocabulary of {}",
                c.vocab_size
            )));
        }
        if let Some(t) = batch.token_type_ids.iter().find(|&&t| t as usize >= c.type_vocab_size) {
            return Err(ModelError::Input(format!(
                "token type {t} outside type_vocab_size {}",
                c.type_vocab_size
            )));
        }
        Ok(())
    }

    /// Runs the encoder; read the last hidden state with [`Workspace::hidden`].
    pub fn forward(&self, batch: &Batch, mode: Mode, ws: &mut Workspace) -> Result<()> {
        self.encode(batch, mode, ws, false)
    }

    fn encode(&self, batch: &Batch, mode: Mode, ws: &mut Workspace, backward: bool) -> Result<()> {
        self.check_batch(batch)?;
        encoder::forward(&self.config, &self.layout, self.weights(mode), batch, mode, ws, backward);
        Ok(())
    }

    /// The pooler output (`tanh` of the pooler on the first token) after [`Model::forward`], or `None`
    /// for a RoBERTa checkpoint without a pooler.
    pub fn pooled(&self, batch: &Batch, ws: &Workspace) -> Option<Vec<f32>> {
        let pooler = self.layout.pooler.as_ref()?;
        Some(heads::pooled(&self.config, pooler, self.weights(Mode::Eval), ws, &batch.packing))
    }

    /// Logits of the classification head, `[batch, outputs]` (forward pass only).
    pub fn classify<'w>(&self, batch: &Batch, mode: Mode, ws: &'w mut Workspace) -> Result<&'w [f32]> {
        self.classifier_forward(batch, mode, ws, false)?;
        Ok(&ws.head.logits)
    }

    fn classifier_forward(
        &self,
        batch: &Batch,
        mode: Mode,
        ws: &mut Workspace,
        backward: bool,
    ) -> Result<()> {
        self.require_classifier()?;
        self.encode(batch, mode, ws, backward)?;
        heads::classifier_forward(&self.config, &self.layout, self.weights(mode), &batch.packing, mode, ws);
        Ok(())
    }

    fn require_classifier(&self) -> Result<()> {
        match self.heads.classifier {
            Some(_) => Ok(()),
            None => Err(ModelError::Input("the model was built without a classification head".into())),
        }
    }

    /// Forward and backward for one batch: returns the mean loss and adds the gradient of every
    /// parameter into `grads` (zero it first). The head's logits stay in [`Workspace::logits`].
    pub fn loss_and_grads(
        &self,
        batch: &Batch,
        target: Target<'_>,
        mode: Mode,
        ws: &mut Workspace,
        grads: &mut [f32],
    ) -> Result<f32> {
        assert_eq!(grads.len(), self.params.len(), "gradient buffer of the wrong layout");
        let (cfg, layout, p) = (&self.config, &self.layout, self.weights(mode));
        let loss = match target {
            Target::Classes(labels) | Target::MaskedLm { labels, .. } => {
                let (classes, rows) = match target {
                    Target::MaskedLm { rows, .. } => {
                        if layout.masked_lm.is_none() {
                            return Err(ModelError::Input(
                                "the model was built without a masked-LM head".into(),
                            ));
                        }
                        if rows.len() != labels.len() || rows.iter().any(|&r| r >= batch.tokens()) {
                            return Err(ModelError::Input(
                                "masked-LM rows and labels disagree or leave the batch".into(),
                            ));
                        }
                        self.encode(batch, mode, ws, true)?;
                        heads::masked_lm_forward(cfg, layout, p, rows, ws);
                        (cfg.vocab_size, rows.len())
                    }
                    _ => {
                        let classes = self.heads.classifier.unwrap_or(0);
                        self.classifier_forward(batch, mode, ws, true)?;
                        (classes, batch.sequences())
                    }
                };
                if labels.len() != rows {
                    return Err(ModelError::Input(format!("{} labels for {rows} examples", labels.len())));
                }
                if let Some(l) = labels.iter().find(|&&l| l >= classes as i64) {
                    return Err(ModelError::Input(format!("label {l} outside {classes} classes")));
                }
                fit(&mut ws.grad.dlogits, ws.head.logits.len());
                softmax_cross_entropy(&ws.head.logits, labels, classes, &mut ws.grad.dlogits)
            }
            Target::Regression(values) => {
                if self.heads.classifier != Some(1) {
                    return Err(ModelError::Input("regression needs a head with exactly one output".into()));
                }
                if values.len() != batch.sequences() {
                    return Err(ModelError::Input(format!(
                        "{} targets for {} examples",
                        values.len(),
                        batch.sequences()
                    )));
                }
                self.classifier_forward(batch, mode, ws, true)?;
                fit(&mut ws.grad.dlogits, ws.head.logits.len());
                mean_squared_error(&ws.head.logits, values, &mut ws.grad.dlogits)
            }
        };
        match target {
            Target::MaskedLm { .. } => heads::masked_lm_backward(cfg, layout, p, ws, grads),
            _ => heads::classifier_backward(cfg, layout, p, mode, ws, grads),
        }
        encoder::backward(cfg, layout, p, batch, mode, ws, grads);
        Ok(loss)
    }
}

impl Workspace {
    /// The logits of the latest head forward pass.
    pub fn logits(&self) -> &[f32] {
        &self.head.logits
    }
}

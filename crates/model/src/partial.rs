//! Passes the paper's analyses need beyond training and evaluation: the encoder depth by depth (the
//! layer-reset analysis runs a fine-tuned model's lower depths and continues with pretrained ones), the
//! masked-LM head on the current hidden state, and the head alone on given hidden states (fitting a
//! head on frozen features).

use crate::batch::{fit, Batch, Mode, Workspace};
use crate::encoder::{self, Weights};
use crate::error::{ModelError, Result};
use crate::heads;
use crate::model::Model;
use stabletune_engine::ops::loss::softmax_cross_entropy;
use std::ops::Range;

impl Model {
    fn eval_weights(&self) -> Weights<'_> {
        Weights { values: &self.params.values, linear: &self.params.values }
    }

    fn require_masked_lm(&self) -> Result<()> {
        match self.layout.masked_lm {
            Some(_) => Ok(()),
            None => Err(ModelError::Input("the model was built without a masked-LM head".into())),
        }
    }

    /// The embeddings alone (evaluation mode): [`Workspace::hidden`] is then the state entering depth 0.
    pub fn embed(&self, batch: &Batch, ws: &mut Workspace) -> Result<()> {
        self.check_batch(batch)?;
        encoder::embeddings_forward(&self.config, &self.layout, self.eval_weights(), batch, Mode::Eval, ws);
        Ok(())
    }

    /// Runs the encoder depths `depths` (evaluation mode) over `input`, the hidden state entering
    /// `depths.start` (`[tokens, hidden]`, as [`Workspace::hidden`] gives it); the output is then
    /// [`Workspace::hidden`]. `embed` then `forward_depths(0..L)` is [`Model::forward`] in evaluation mode.
    pub fn forward_depths(
        &self,
        batch: &Batch,
        depths: Range<usize>,
        input: &[f32],
        ws: &mut Workspace,
    ) -> Result<()> {
        self.check_batch(batch)?;
        let (l, h) = (self.config.num_layers, self.config.hidden_size);
        if depths.start > depths.end || depths.end > l {
            return Err(ModelError::Input(format!("depths {depths:?} outside a {l}-layer encoder")));
        }
        if input.len() != batch.tokens() * h {
            return Err(ModelError::Input(format!(
                "hidden state of {} values for {} tokens of width {h}",
                input.len(),
                batch.tokens()
            )));
        }
        encoder::forward_depths(&self.config, &self.layout, self.eval_weights(), batch, depths, input, ws);
        Ok(())
    }

    /// Masked-LM logits (`[rows.len(), vocab]`) at the token rows `rows` of the current
    /// [`Workspace::hidden`] (after [`Model::forward`] or [`Model::forward_depths`]).
    pub fn masked_lm_logits<'w>(&self, rows: &[usize], ws: &'w mut Workspace) -> Result<&'w [f32]> {
        self.require_masked_lm()?;
        if let Some(r) = rows.iter().find(|&&r| r >= ws.tokens) {
            return Err(ModelError::Input(format!("row {r} outside a batch of {} tokens", ws.tokens)));
        }
        heads::masked_lm_forward(&self.config, &self.layout, self.eval_weights(), rows, ws);
        Ok(&ws.head.logits)
    }

    /// The masked-LM head alone on given final hidden states `hidden` (`[n, hidden]`, one per label):
    /// returns the mean cross-entropy and adds its gradient into `grads` (the head's tensors and, through
    /// the tied decoder, the word embeddings; nothing else). For fitting a head on frozen features.
    pub fn masked_lm_head_loss_and_grads(
        &self,
        hidden: &[f32],
        labels: &[i64],
        ws: &mut Workspace,
        grads: &mut [f32],
    ) -> Result<f32> {
        self.require_masked_lm()?;
        let (h, v) = (self.config.hidden_size, self.config.vocab_size);
        let n = labels.len();
        if hidden.len() != n * h || grads.len() != self.params.len() {
            return Err(ModelError::Input(format!(
                "{} hidden values and {} gradients for {n} labels of width {h} and {} parameters",
                hidden.len(),
                grads.len(),
                self.params.len()
            )));
        }
        if let Some(l) = labels.iter().find(|&&l| l < 0 || l >= v as i64) {
            return Err(ModelError::Input(format!("label {l} outside the vocabulary of {v}")));
        }
        // The head reads the workspace's last hidden state; with no layer run, that is the encoder
        // input buffer, which here holds the given states.
        ws.layers.clear();
        ws.emb_proj.clear();
        ws.emb_out.clear();
        ws.emb_out.extend_from_slice(hidden);
        ws.tokens = n;
        ws.output_layer = usize::MAX;
        let rows: Vec<usize> = (0..n).collect();
        let p = self.eval_weights();
        heads::masked_lm_forward(&self.config, &self.layout, p, &rows, ws);
        fit(&mut ws.grad.dlogits, ws.head.logits.len());
        let loss = softmax_cross_entropy(&ws.head.logits, labels, v, &mut ws.grad.dlogits);
        heads::masked_lm_backward(&self.config, &self.layout, p, ws, grads);
        Ok(loss)
    }
}

//! Dev-set evaluation: when the authors' code evaluates, and the forward-only pass that does it.

use crate::dataset::Dataset;
use crate::error::Result;
use stabletune_model::{Mode, Model, Workspace};

/// When a run evaluates on dev, as the authors' `run_finetuning.py`:
/// - at step 0, before the first update (the pretrained encoder with its new head: every curve's first
///   point);
/// - after update `s` when `s` is a multiple of `every = floor(batches_per_epoch / evals_per_epoch)`
///   (their `eval_logging_steps`), counted in global updates across epochs;
/// - at the end of every epoch, and after the last update.
///
/// Two details of theirs are kept: the evaluation that would fall just before an epoch's last batch is
/// skipped (their `step < steps_per_epoch - 1`), and the one their loop repeats at the first batch of
/// the next epoch (the same weights as the epoch-end evaluation) is done once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalSchedule {
    pub batches_per_epoch: usize,
    pub every: u64,
    pub total: u64,
}

impl EvalSchedule {
    pub fn new(batches_per_epoch: usize, evals_per_epoch: usize, total: u64) -> EvalSchedule {
        // Their code divides by zero when asked for more evaluations than batches; evaluate every update.
        let every = (batches_per_epoch / evals_per_epoch.max(1)).max(1) as u64;
        EvalSchedule { batches_per_epoch, every, total }
    }

    /// Whether to evaluate after update `step` (1-based), which left `batch_in_epoch` batches of its epoch
    /// done.
    pub fn after(&self, step: u64, batch_in_epoch: usize) -> bool {
        let per_epoch = self.batches_per_epoch;
        if batch_in_epoch >= per_epoch || step >= self.total {
            return true;
        }
        step.is_multiple_of(self.every) && batch_in_epoch + 1 < per_epoch
    }
}

/// Dev-set outputs (logits, or scores for regression), batched by length, in dev order. Evaluation mode:
/// no dropout.
pub fn predict(model: &Model, dev: &Dataset, batch_size: usize, ws: &mut Workspace) -> Result<Vec<f32>> {
    let outputs = model.heads.classifier.unwrap_or(1);
    let mut order: Vec<usize> = (0..dev.len()).collect();
    order.sort_by_key(|&i| dev.inputs[i].input_ids.len());
    let mut logits = vec![0.0f32; dev.len() * outputs];
    for chunk in order.chunks(batch_size) {
        let (batch, _) = dev.batch(chunk);
        let out = model.classify(&batch, Mode::Eval, ws)?;
        for (k, &i) in chunk.iter().enumerate() {
            logits[i * outputs..(i + 1) * outputs].copy_from_slice(&out[k * outputs..(k + 1) * outputs]);
        }
    }
    Ok(logits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps the authors' loop evaluates at (after step 0), simulated line by line from their code:
    /// before each update, `global_step % eval_logging_steps == 0 and global_step > 0 and step <
    /// steps_per_epoch - 1`; after each epoch, always.
    fn authors(per_epoch: usize, evals: usize, epochs: usize) -> Vec<u64> {
        let every = (per_epoch / evals) as u64;
        let mut global = 0u64;
        let mut out = Vec::new();
        for _ in 0..epochs {
            for step in 0..per_epoch {
                if global.is_multiple_of(every) && global > 0 && step + 1 < per_epoch {
                    out.push(global);
                }
                global += 1;
            }
            out.push(global);
        }
        out.dedup(); // the repeat at the next epoch's first batch: same step, same weights
        out
    }

    fn ours(per_epoch: usize, evals: usize, epochs: usize) -> Vec<u64> {
        let total = (per_epoch * epochs) as u64;
        let s = EvalSchedule::new(per_epoch, evals, total);
        (1..=total).filter(|&step| s.after(step, ((step - 1) as usize % per_epoch) + 1)).collect()
    }

    #[test]
    fn evaluations_fall_where_the_authors_code_puts_them() {
        // RTE: 156 batches, eval_logging_steps 52 (their config).
        let rte = ours(156, 3, 2);
        assert_eq!(rte, vec![52, 104, 156, 208, 260, 312]);
        // RTE 1k sample: 63 batches, every 21.
        assert_eq!(ours(63, 3, 1), vec![21, 42, 63]);
        // Uneven: 10 batches, every 3; step 9 would fall before the epoch's last batch.
        assert_eq!(ours(10, 3, 2), vec![3, 6, 10, 12, 15, 18, 20]);
        for (per_epoch, evals, epochs) in
            [(156, 3, 3), (230, 3, 2), (10, 3, 3), (7, 2, 4), (5, 1, 3), (2, 3, 2)]
        {
            if per_epoch / evals > 0 {
                assert_eq!(
                    ours(per_epoch, evals, epochs),
                    authors(per_epoch, evals, epochs),
                    "{per_epoch} {evals}"
                );
            }
        }
    }

    #[test]
    fn a_run_cut_short_evaluates_at_its_end() {
        let s = EvalSchedule::new(156, 3, 100);
        assert!(s.after(100, 100));
        assert!(!s.after(99, 99));
        // More evaluations asked than batches: every update, but for the one before the epoch's last batch.
        let s = EvalSchedule::new(4, 10, 8);
        let at: Vec<u64> = (1..=8).filter(|&k| s.after(k, ((k - 1) % 4 + 1) as usize)).collect();
        assert_eq!(at, vec![1, 2, 4, 5, 6, 8]);
    }
}

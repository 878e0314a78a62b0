//! How a run ended, and `summary.json`: everything a stability study needs from a run.

use crate::metrics::Metrics;
use crate::sentinel::{SentinelMode, Warning};
use serde::{Deserialize, Serialize};

/// The commit this build was made from (`git describe`-style, or "unknown" outside a checkout).
pub const GIT_COMMIT: &str = env!("STABLETUNE_GIT_COMMIT");

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Completed,
    /// Stopped by `early_stopping_patience`.
    EarlyStopped,
    /// A loss or gradient became NaN or infinite; the run stopped there and counts as failed.
    Diverged,
    /// Stopped from outside (Ctrl-C, SIGTERM); `--resume` continues it.
    Interrupted,
    /// Stopped by a study's early-stopping schedule (Dodge et al.): not among the runs kept at the
    /// decision point, or fallen to the majority baseline before it. Its checkpoint keeps the optimizer
    /// state, so `--resume` continues it; a study counts it as ended.
    StoppedBySchedule,
    /// Ended by the failure sentinel (`sentinel = "stop"` or `"restart"`): flagged as failing from its own
    /// training signals, and counted as failed. Its checkpoint keeps the optimizer state, so `--resume`
    /// with the sentinel off or on `flag` continues it.
    StoppedBySentinel,
}

impl Status {
    /// Whether the run is over for good: `--resume` then changes nothing.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Interrupted | Status::StoppedBySchedule | Status::StoppedBySentinel)
    }

    /// Whether a study counts the run as ended (not to be trained further by it).
    pub fn is_ended(self) -> bool {
        self != Status::Interrupted
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub status: Status,
    pub task: String,
    pub model: String,
    pub recipe: String,
    pub init_seed: u64,
    pub data_seed: u64,
    pub sample_seed: u64,
    pub train_examples: usize,
    /// SHA-256 of the training rows used (their indices in the training file, as little-endian u64), so
    /// two runs' subsamples can be compared without reading them.
    pub train_sample_sha256: String,
    pub dev_examples: usize,
    pub steps: u64,
    pub total_steps: u64,
    pub warmup_steps: u64,
    pub epochs: f64,
    pub headline_metric: String,
    /// The metrics of the final model: the evaluation at the last update of a completed or early-stopped
    /// run. Empty for a diverged run (it has no final model) and an interrupted one (not final yet).
    pub final_metrics: Metrics,
    /// The best evaluation, the pretrained model's at step 0 included (as the authors' code).
    pub best_metrics: Option<Metrics>,
    pub best_step: Option<u64>,
    pub majority_baseline: Option<f64>,
    /// Every metric of the majority-class prediction (absent from summaries written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub majority_metrics: Option<Metrics>,
    /// Dodge et al.'s failed run: the final headline metric at or below the majority baseline, or a
    /// diverged run. `None` while the run is unfinished, or for regression without a diverged run.
    pub failed: Option<bool>,
    /// The loss of a constant prediction of the training labels: the level a failed run's loss stays at
    /// (absent from summaries written before the sentinel existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant_loss: Option<f64>,
    /// The failure sentinel's setting (absent: off).
    #[serde(default, skip_serializing_if = "is_off")]
    pub sentinel: SentinelMode,
    /// The sentinel's warning, when it flagged the run (with `flag`, the run went on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_warning: Option<Warning>,
    /// Wall-clock seconds of training, evaluations included (summed over the sessions of a resumed run).
    pub wall_seconds: f64,
    pub train_examples_per_second: f64,
    pub version: String,
    pub git_commit: String,
}

fn is_off(mode: &SentinelMode) -> bool {
    *mode == SentinelMode::Off
}

/// Whether a run failed: diverged, or ended at or below the majority baseline.
pub fn failed(status: Status, final_metric: Option<f64>, baseline: Option<f64>) -> Option<bool> {
    match status {
        Status::Diverged | Status::StoppedBySentinel => Some(true),
        Status::Interrupted | Status::StoppedBySchedule => None,
        Status::Completed | Status::EarlyStopped => match (final_metric, baseline) {
            (Some(v), Some(b)) => Some(v <= b),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverged_runs_are_failed_runs() {
        assert_eq!(failed(Status::Diverged, None, Some(0.5)), Some(true));
        assert_eq!(failed(Status::Diverged, None, None), Some(true));
        assert_eq!(failed(Status::Completed, Some(0.5), Some(0.5)), Some(true));
        assert_eq!(failed(Status::Completed, Some(0.6), Some(0.5)), Some(false));
        assert_eq!(failed(Status::Interrupted, Some(0.9), Some(0.5)), None);
        assert_eq!(failed(Status::StoppedBySentinel, Some(0.5), Some(0.5)), Some(true));
        assert!(!Status::StoppedBySentinel.is_final() && Status::StoppedBySentinel.is_ended());
    }
}

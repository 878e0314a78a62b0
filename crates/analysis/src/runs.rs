//! What the analyses read of a run directory: its configuration, summary and final weights, and the
//! pretrained model it started from.

use crate::error::{AnalysisError, Result};
use stabletune_train::{Summary, TrainConfig};
use std::path::{Path, PathBuf};

/// A finished (or at least checkpointed) run.
pub struct RunInfo {
    pub dir: PathBuf,
    pub config: TrainConfig,
    pub summary: Option<Summary>,
    /// The final weights: `checkpoint-last` (Hugging Face layout).
    pub checkpoint: PathBuf,
}

impl RunInfo {
    pub fn open(dir: &Path) -> Result<RunInfo> {
        let run_err = |message: String| AnalysisError::Run { path: dir.to_path_buf(), message };
        let path = dir.join("config.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| run_err(format!("not a run directory (config.toml: {e})")))?;
        let config: TrainConfig = stabletune_train::config::parse_toml(&path, &text).map_err(run_err)?;
        let checkpoint = dir.join(stabletune_train::run_dir::LAST);
        if !checkpoint.join("model.safetensors").exists() {
            return Err(run_err(
                "has no checkpoint-last/model.safetensors (the run never saved its weights)".into(),
            ));
        }
        let summary = stabletune_train::trainer::read_summary(dir);
        Ok(RunInfo { dir: dir.to_path_buf(), config, summary, checkpoint })
    }

    /// The folder name (a study's run name).
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.dir.display().to_string())
    }

    pub fn failed(&self) -> Option<bool> {
        self.summary.as_ref().and_then(|s| s.failed)
    }

    /// The pretrained model the run started from, resolved as training resolved it.
    pub fn pretrained(&self) -> Result<PathBuf> {
        Ok(stabletune_model::hub::resolve_model(&self.config.model)?)
    }
}

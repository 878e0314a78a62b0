//! The one error type of a run: bad data, a bad model, a bad configuration, or a run directory that
//! cannot be used or written.

use crate::data::DataError;
use stabletune_model::ModelError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A setting that cannot be used (named in the message).
    #[error("{0}")]
    Config(String),
    /// The run directory does not allow what was asked (resuming without a run, overwriting one).
    #[error("{path}: {message}")]
    RunDir { path: PathBuf, message: String },
    #[error("cannot write {path}: {}{source}", if stabletune_model::error::is_disk_full(source) { "disk full: " } else { "" })]
    Io { path: PathBuf, source: std::io::Error },
    /// Another process now holds the run (a study's claim was taken over while this one was stalled):
    /// this writer stopped without writing anything more into the run directory.
    #[error("{path}: another process now holds this run; stopped without writing more into it")]
    Abandoned { path: PathBuf },
}

impl TrainError {
    /// Whether the error is a full disk or quota, wherever it came from.
    pub fn is_disk_full(&self) -> bool {
        match self {
            TrainError::Io { source, .. } => stabletune_model::error::is_disk_full(source),
            TrainError::Model(e) => e.is_disk_full(),
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, TrainError>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

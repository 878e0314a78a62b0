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
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, TrainError>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

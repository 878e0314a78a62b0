//! Typed errors of the analyses: each names the run, file or tensor involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Model(#[from] stabletune_model::ModelError),
    #[error(transparent)]
    Train(#[from] stabletune_train::TrainError),
    #[error(transparent)]
    Data(#[from] stabletune_train::data::DataError),
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Run { path: PathBuf, message: String },
    #[error("{0}")]
    Input(String),
}

pub type Result<T> = std::result::Result<T, AnalysisError>;

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AnalysisError {
    let path = path.into();
    move |source| AnalysisError::Io { path, source }
}

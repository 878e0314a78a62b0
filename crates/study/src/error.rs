//! The study's error type: a bad study file, a run that cannot be planned or trained, the store.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// A study file that cannot be used (file, then what is wrong).
    #[error("{path}: {message}")]
    Spec { path: PathBuf, message: String },
    #[error(transparent)]
    Train(#[from] stabletune_train::TrainError),
    #[error(transparent)]
    Model(#[from] stabletune_model::ModelError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Anything else, said in full.
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, StudyError>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StudyError + '_ {
    move |source| StudyError::Io { path: path.to_path_buf(), source }
}

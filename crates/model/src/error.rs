//! Typed errors of the model crate: each names the file, tensor and shapes involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {}{source}", if is_disk_full(source) { "disk full: " } else { "" })]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: invalid JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: unknown model_type {found:?}; stabletune supports bert, roberta and albert")]
    UnknownModelType { path: PathBuf, found: String },
    #[error("{path}: not a safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: tensor {name} is missing (looked for {tried})")]
    MissingTensor { path: PathBuf, name: String, tried: String },
    #[error("{path}: tensor {name} has shape {found:?}, the config needs {expected:?}")]
    ShapeMismatch { path: PathBuf, name: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("{path}: tensor {name} has dtype {dtype}; stabletune reads F32, F16 and BF16")]
    UnsupportedDtype { path: PathBuf, name: String, dtype: String },
    #[error("{path}: tensor {name} holds a non-finite value at element {index}")]
    NonFinite { path: PathBuf, name: String, index: usize },
    #[error("{0}")]
    Tokenizer(String),
    #[error("model {id:?} not found: {message}")]
    Hub { id: String, message: String },
    #[error("{0}")]
    Input(String),
}

pub type Result<T> = std::result::Result<T, ModelError>;

/// Whether an I/O error is a full disk or an exceeded quota (ENOSPC, EDQUOT).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(28) | Some(122)) || e.kind() == std::io::ErrorKind::StorageFull
}

impl ModelError {
    /// Whether writing failed for a full disk or quota.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, ModelError::Write { source, .. } | ModelError::Io { source, .. } if is_disk_full(source))
    }
}

pub(crate) fn write_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ModelError {
    let path = path.into();
    move |source| ModelError::Write { path, source }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ModelError {
    let path = path.into();
    move |source| ModelError::Io { path, source }
}

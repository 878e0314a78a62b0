//! The report's one error type: every error names the file (and line) it comes from.

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A file that is not what the run store writes; `line` from 1 where known.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Format { path: PathBuf, line: Option<usize>, message: String },
    /// Nothing to report, or a request the runs cannot answer (an unknown `--group-by` key).
    #[error("{0}")]
    Input(String),
    #[error("figure {figure}: {message}")]
    Figure { figure: String, message: String },
}

pub type Result<T> = std::result::Result<T, ReportError>;

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io { path: path.to_path_buf(), source }
}

pub(crate) fn format_error(path: &Path, line: Option<usize>, message: impl Into<String>) -> ReportError {
    ReportError::Format { path: path.to_path_buf(), line, message: message.into() }
}

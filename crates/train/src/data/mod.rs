//! Examples from GLUE TSV files (read with quoting off: the fields contain raw `"`), from the user's
//! own CSV, TSV or JSONL files, and from Parquet and Arrow data (`columnar`; GLUE's Hub schema in
//! `glue_hub`).

pub mod columnar;
mod glue;
mod glue_hub;
mod jsonl;
mod table;

pub use glue::{read_task, read_task_split, Task, TaskSplit};
pub use glue_hub::{is_glue_repo, HubSchema};
pub use jsonl::read_jsonl;
pub use table::{read_table, ColumnMap};

use std::path::PathBuf;

/// One example: a sentence or a sentence pair, with its label when the split has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub text_a: String,
    pub text_b: Option<String>,
    pub label: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Dev,
    /// MNLI's mismatched dev set.
    DevMismatched,
    Test,
}

impl Split {
    pub fn parse(s: &str) -> Option<Split> {
        match s.to_ascii_lowercase().as_str() {
            "train" => Some(Split::Train),
            "dev" | "validation" | "dev_matched" => Some(Split::Dev),
            "dev_mismatched" => Some(Split::DevMismatched),
            "test" => Some(Split::Test),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Row { path: PathBuf, line: usize, message: String },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, DataError>;

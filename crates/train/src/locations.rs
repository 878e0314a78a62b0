//! Where tasks and the built-in default model are found.
//!
//! Data: `--data-dir DIR` (the task's own folder), else `$GLUE_DIR/<TASK>`, else
//! `$STABLETUNE_ASSETS/glue/<TASK>`. The assets folder is `$STABLETUNE_ASSETS`, else `../shared/assets`
//! relative to the working directory, else the same path relative to the source tree this binary was
//! built from (so the defaults work from any directory of a checkout).

use crate::data::Task;
use std::path::{Path, PathBuf};

/// The built-in default model, inside the assets folder.
pub const DEFAULT_MODEL: &str = "models/all-MiniLM-L6-v2";

pub fn assets_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STABLETUNE_ASSETS") {
        return PathBuf::from(dir);
    }
    let relative = Path::new("../shared/assets");
    if relative.is_dir() {
        return relative.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/assets")
}

/// The folder holding a task's TSV files.
pub fn task_dir(task: Task, data_dir: Option<&Path>) -> PathBuf {
    if let Some(d) = data_dir {
        return d.to_path_buf();
    }
    if let Some(glue) = std::env::var_os("GLUE_DIR") {
        return PathBuf::from(glue).join(task.dir_name());
    }
    assets_dir().join("glue").join(task.dir_name())
}

pub fn default_model() -> PathBuf {
    assets_dir().join(DEFAULT_MODEL)
}

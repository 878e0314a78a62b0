//! Fine-tuning runs with the papers' exact semantics: tasks and data readers, metrics, the authors' AdamW
//! and schedules, recipes and configs, and the training loop that writes a run directory.

pub mod config;
pub mod data;
pub mod dataset;
pub mod error;
pub mod evaluation;
pub mod hub_data;
pub mod lazy_rows;
pub mod locations;
pub mod metrics;
pub mod mixout;
pub mod optim;
pub mod run_dir;
pub mod schedule;
pub mod sentinel;
pub mod source;
pub mod summary;
pub mod token_cache;
pub mod trainer;
pub mod updater;

pub use config::{Overrides, Recipe, TrainConfig};
pub use data::{Example, Split, Task};
pub use error::TrainError;
pub use summary::{Status, Summary};
pub use trainer::{train, Observer, Opened, Run};

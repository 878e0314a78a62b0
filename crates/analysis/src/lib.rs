//! The paper's analyses of fine-tuned runs (Mosbach et al. 2021): why failed runs fail.
//!
//! - [`layer_reset`]: masked-LM perplexity on WikiText-2 after resetting the top k layers (Fig. 2);
//! - [`surface`]: the loss and gradient norm on the plane through the pretrained, a failed and a
//!   successful model (Fig. 7, 13);
//! - [`runs`]: finding a run's checkpoint, data and pretrained model, and picking runs in a study.
//!
//! Results are JSON in the report crate's schema (`stabletune_report::figures::{layer_reset, surface}`),
//! which the report draws.

pub mod error;
pub mod heads;
pub mod layer_reset;
pub mod reset_runs;
pub mod runs;
pub mod sentinel_eval;
pub mod study;
pub mod surface;
pub mod text;

pub use error::{AnalysisError, Result};

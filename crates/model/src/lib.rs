//! BERT, RoBERTa and ALBERT encoders on stabletune's engine.
//!
//! - [`EncoderConfig`] parses Hugging Face `config.json`;
//! - [`Model`] holds the parameters (one flat buffer, each tensor known by its Hugging Face name), loads
//!   and saves `model.safetensors`, and runs forward and backward passes with a classification,
//!   regression or masked-LM head;
//! - [`tokenizer::TextEncoder`] turns text (single sentences or pairs) into model inputs;
//! - [`hub`] finds model folders locally, in the Hugging Face cache, or downloads them.

pub mod batch;
pub mod checkpoint;
pub mod config;
mod encoder;
pub mod error;
mod heads;
pub mod hub;
pub mod layout;
pub mod model;
pub mod params;
mod partial;
pub mod tokenizer;

pub use batch::{Batch, Mode, Workspace};
pub use config::{Architecture, EncoderConfig};
pub use error::{ModelError, Result};
pub use layout::HeadSpec;
pub use model::{Model, Target};
pub use params::{ParamGroup, ParamInfo, ParamSet};

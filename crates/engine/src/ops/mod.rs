//! The kernels, each with its forward and backward pass side by side.
//!
//! Conventions: activations are row-major `[rows, cols]` flat slices (a row is one token); weights use
//! Hugging Face's layouts; gradient outputs for parameters are always *accumulated* (`+=`), so that
//! shared parameters (ALBERT's layers, tied embeddings) need no special handling; callers zero them once
//! per step.

pub mod activation;
pub mod attention;
pub mod dropout;
pub mod embedding;
pub mod layernorm;
pub mod linear;
pub mod loss;

pub use activation::Activation;
pub use attention::AttentionShape;
pub use dropout::Dropout;

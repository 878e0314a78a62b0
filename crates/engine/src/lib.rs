//! The encoder engine: flat `f32` buffers, matrix products through `gemm`, threads through `rayon`.
//!
//! Every op has its forward and backward pass side by side, and no op allocates on the hot path
//! beyond small per-thread scratch. Everything here is deterministic: an op's result depends only on its
//! inputs and random-stream keys, never on the thread count or the order in which threads run (reductions
//! run over fixed-size chunks combined in a fixed order).
//!
//! The engine runs on the rayon pool it is called from; see [`par::ThreadPool`] to build one with a given
//! number of threads.

pub mod fastmath;
pub mod lanes;
pub mod matmul;
pub mod ops;
pub mod packing;
pub mod par;
pub mod profile;
pub mod rng;
pub mod streams;

pub use matmul::{matmul, Par, View};
pub use packing::Packing;
pub use rng::RandomStream;

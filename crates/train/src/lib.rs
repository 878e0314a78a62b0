//! Tasks and data for fine-tuning: GLUE and SciTail readers, user files, and where to find them.

pub mod data;
pub mod locations;
pub mod optim;

pub use data::{Example, Split, Task};

//! Where a training step's time goes, when asked (`stabletune train --profile`): wall time per kind of
//! work, accumulated by the top-level kernel calls. Off by default; when off, a kernel pays one relaxed
//! atomic load.
//!
//! Only the outermost timed call counts (an evaluation contains matrix products; they count as
//! evaluation), so the kinds add up to at most the wall time. The counters are global: profile one run
//! per process.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// The kinds of work a step is split into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Linear layers (forward and backward): the matrix products outside attention.
    MatMul,
    /// Attention: scores, softmax, dropout and the two products per (sequence, head).
    Attention,
    /// Everything element- or row-wise: embeddings, LayerNorm, activations, dropout, residuals, losses.
    Elementwise,
    /// Gradient norm, clipping and the AdamW update.
    Optimizer,
    /// Dev-set evaluation, all of it.
    Evaluation,
    /// Checkpoints and logs written to disk.
    Io,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::MatMul, Kind::Attention, Kind::Elementwise, Kind::Optimizer, Kind::Evaluation, Kind::Io];

    pub fn name(self) -> &'static str {
        match self {
            Kind::MatMul => "matrix products",
            Kind::Attention => "attention",
            Kind::Elementwise => "element-wise",
            Kind::Optimizer => "optimizer",
            Kind::Evaluation => "evaluation",
            Kind::Io => "checkpoints and logs",
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static DEPTH: AtomicU32 = AtomicU32::new(0);
static NANOS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
static CALLS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

/// Starts (or stops) collecting, from zero.
pub fn enable(on: bool) {
    for k in 0..Kind::ALL.len() {
        NANOS[k].store(0, Relaxed);
        CALLS[k].store(0, Relaxed);
    }
    ENABLED.store(on, Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// Runs `f`, adding its wall time to `kind` when profiling and no outer timed call is running.
#[inline]
pub fn timed<R>(kind: Kind, f: impl FnOnce() -> R) -> R {
    if !ENABLED.load(Relaxed) {
        return f();
    }
    if DEPTH.fetch_add(1, Relaxed) > 0 {
        let r = f();
        DEPTH.fetch_sub(1, Relaxed);
        return r;
    }
    let start = Instant::now();
    let r = f();
    NANOS[kind as usize].fetch_add(start.elapsed().as_nanos() as u64, Relaxed);
    CALLS[kind as usize].fetch_add(1, Relaxed);
    DEPTH.fetch_sub(1, Relaxed);
    r
}

/// Seconds and calls per kind so far.
pub fn totals() -> Vec<(Kind, f64, u64)> {
    Kind::ALL
        .iter()
        .map(|&k| (k, NANOS[k as usize].load(Relaxed) as f64 * 1e-9, CALLS[k as usize].load(Relaxed)))
        .collect()
}

/// A table of each kind's share of `wall_seconds` (the rest is "other": data, scheduling, bookkeeping).
pub fn report(wall_seconds: f64) -> String {
    let mut out = format!("{:<22} {:>9} {:>7} {:>9}\n", "where the time went", "seconds", "share", "calls");
    let mut counted = 0.0;
    for (kind, secs, calls) in totals() {
        counted += secs;
        out += &format!(
            "{:<22} {:>9.2} {:>6.1}% {:>9}\n",
            kind.name(),
            secs,
            100.0 * secs / wall_seconds,
            calls
        );
    }
    let other = (wall_seconds - counted).max(0.0);
    out += &format!("{:<22} {:>9.2} {:>6.1}%\n", "other", other, 100.0 * other / wall_seconds);
    out += &format!("{:<22} {:>9.2}\n", "wall", wall_seconds);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test touching the global counters (tests run in threads of one process).
    #[test]
    fn outermost_calls_count_once() {
        enable(true);
        timed(Kind::Evaluation, || {
            timed(Kind::MatMul, || std::thread::sleep(std::time::Duration::from_millis(20)))
        });
        let t = totals();
        assert!(t[Kind::Evaluation as usize].1 >= 0.02 && t[Kind::Evaluation as usize].2 == 1);
        assert_eq!(t[Kind::MatMul as usize].2, 0, "nested calls are not counted twice");
        assert!(report(0.04).contains("evaluation"));
        enable(false);
        timed(Kind::MatMul, || ());
        assert_eq!(totals()[Kind::MatMul as usize].2, 0);
    }
}

//! Learning-rate schedules as pure functions of the update index, as Hugging Face's
//! `get_{linear,constant,cosine}_schedule_with_warmup`: update `k` (k = 0, 1, ...) of `total` uses
//! `lr · k / warmup` during warmup, so the very first update uses a learning rate of 0.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// Linear warmup, then linear decay to 0 at the last update.
    WarmupLinear,
    /// Linear warmup, then constant.
    WarmupConstant,
    /// Linear warmup, then a half cosine down to 0.
    WarmupCosine,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub kind: ScheduleKind,
    pub lr: f64,
    pub warmup: u64,
    pub total: u64,
}

impl Schedule {
    /// Warmup steps from a ratio of the total, rounded down as the authors' `int(t_total *
    /// warmup_proportion)` (the Hugging Face Trainer's `ceil` gives one more on RTE: 47 of 468).
    pub fn warmup_from_ratio(ratio: f64, total: u64) -> u64 {
        // The same float product as Python's, then truncation: 690 * 0.1 is 69.00000000000001 there too.
        (total as f64 * ratio).floor() as u64
    }

    /// The learning rate of update `k`.
    pub fn lr_at(&self, k: u64) -> f64 {
        let (k, w, t) = (k as f64, self.warmup as f64, self.total as f64);
        if k < w {
            return self.lr * k / w.max(1.0);
        }
        let factor = match self.kind {
            ScheduleKind::WarmupLinear => ((t - k) / (t - w).max(1.0)).max(0.0),
            ScheduleKind::WarmupConstant => 1.0,
            ScheduleKind::WarmupCosine => {
                let progress = (k - w) / (t - w).max(1.0);
                (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
            }
        };
        self.lr * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_linear_matches_hugging_face() {
        let s = Schedule { kind: ScheduleKind::WarmupLinear, lr: 1.0, warmup: 3, total: 30 };
        assert_eq!(s.lr_at(0), 0.0);
        assert!((s.lr_at(1) - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(s.lr_at(3), 1.0);
        assert!((s.lr_at(4) - 26.0 / 27.0).abs() < 1e-15);
        assert!((s.lr_at(29) - 1.0 / 27.0).abs() < 1e-15);
        assert_eq!(s.lr_at(30), 0.0);
        assert_eq!(Schedule::warmup_from_ratio(0.1, 30), 3);
        assert_eq!(Schedule::warmup_from_ratio(0.1, 189), 18);
    }

    /// The authors' warmup for their tasks: t_total = ceil(n / 16) * epochs, warmup int(t_total * 0.1).
    /// Values computed with Python (`int(math.ceil(n / 16) * e * 0.1)`) for the sizes of REFERENCE.md.
    #[test]
    fn warmup_rounds_down_as_the_authors() {
        let cases = [
            // (train examples, epochs, total updates, warmup)
            (2490, 3, 468, 46),    // RTE
            (3668, 3, 690, 69),    // MRPC
            (8551, 3, 1605, 160),  // CoLA
            (23596, 3, 4425, 442), // SciTail
            (2490, 20, 3120, 312),
            (3668, 20, 4600, 460),
            (8551, 20, 10700, 1070),
            (23596, 20, 29500, 2950),
        ];
        for (n, epochs, total, warmup) in cases {
            let t = (n as u64).div_ceil(16) * epochs;
            assert_eq!(t, total, "t_total of {n} examples, {epochs} epochs");
            assert_eq!(
                Schedule::warmup_from_ratio(0.1, t),
                warmup,
                "warmup of {n} examples, {epochs} epochs"
            );
        }
    }

    #[test]
    fn constant_and_cosine() {
        let c = Schedule { kind: ScheduleKind::WarmupConstant, lr: 2.0, warmup: 2, total: 10 };
        assert_eq!((c.lr_at(1), c.lr_at(2), c.lr_at(9)), (1.0, 2.0, 2.0));
        let cos = Schedule { kind: ScheduleKind::WarmupCosine, lr: 1.0, warmup: 0, total: 10 };
        assert_eq!(cos.lr_at(0), 1.0);
        assert!((cos.lr_at(5) - 0.5).abs() < 1e-12);
        assert!(cos.lr_at(10).abs() < 1e-12);
    }
}

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
    /// Warmup steps from a ratio of the total, rounded up (as the Hugging Face Trainer does).
    pub fn warmup_from_ratio(ratio: f64, total: u64) -> u64 {
        (ratio * total as f64).ceil() as u64
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
        assert_eq!(Schedule::warmup_from_ratio(0.1, 189), 19);
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

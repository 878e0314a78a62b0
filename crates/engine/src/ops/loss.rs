//! Losses with their gradients: softmax cross-entropy (classification, masked LM) and mean squared
//! error (regression). Both average over the counted examples, as PyTorch's default `reduction="mean"`.

/// Labels below zero (Hugging Face uses -100) are ignored, as `CrossEntropyLoss(ignore_index=-100)`.
pub const IGNORE_INDEX: i64 = -100;

/// Mean cross-entropy of `logits[rows × classes]` against `labels`; writes `dlogits` (the gradient of
/// the mean). Returns 0 with a zero gradient when every label is ignored.
///
/// Panics on a label `>= classes`: callers validate labels against their task first.
pub fn softmax_cross_entropy(logits: &[f32], labels: &[i64], classes: usize, dlogits: &mut [f32]) -> f32 {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        assert!(logits.len() == labels.len() * classes && dlogits.len() == logits.len());
        let counted = labels.iter().filter(|&&l| l >= 0).count();
        let mut total = 0.0f64;
        for (r, &label) in labels.iter().enumerate() {
            let row = &logits[r * classes..(r + 1) * classes];
            let grad = &mut dlogits[r * classes..(r + 1) * classes];
            if label < 0 {
                grad.fill(0.0);
                continue;
            }
            let label = label as usize;
            assert!(label < classes, "label {label} outside {classes} classes");
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let sum: f64 = row.iter().map(|&v| ((v - max) as f64).exp()).sum();
            let log_z = max as f64 + sum.ln();
            total += log_z - row[label] as f64;
            for (c, (g, &v)) in grad.iter_mut().zip(row).enumerate() {
                let p = (v as f64 - log_z).exp();
                let target = if c == label { 1.0 } else { 0.0 };
                *g = ((p - target) / counted as f64) as f32;
            }
        }
        if counted == 0 {
            0.0
        } else {
            (total / counted as f64) as f32
        }
    })
}

/// Mean squared error `mean((pred - target)²)`; writes `dpred`.
pub fn mean_squared_error(pred: &[f32], target: &[f32], dpred: &mut [f32]) -> f32 {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        assert!(pred.len() == target.len() && dpred.len() == pred.len());
        let n = pred.len().max(1) as f64;
        let mut total = 0.0f64;
        for ((g, &p), &t) in dpred.iter_mut().zip(pred).zip(target) {
            let diff = p as f64 - t as f64;
            total += diff * diff;
            *g = (2.0 * diff / n) as f32;
        }
        (total / n) as f32
    })
}

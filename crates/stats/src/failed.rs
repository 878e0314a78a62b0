//! Failed runs (Dodge et al. 2020; Mosbach et al. 2021): a run fails when its final dev metric is
//! at or below that of a majority-class classifier.

use std::collections::BTreeMap;

use crate::error::{check_finite, check_min_len, invalid, Result};

/// How many runs failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailedRuns {
    /// Runs with a metric `<= baseline`.
    pub failed: usize,
    /// All runs.
    pub total: usize,
    /// `failed / total`.
    pub fraction: f64,
}

/// Counts the runs whose metric is at or below `baseline` (`<=`, so a run exactly as good as the
/// majority classifier counts as failed).
pub fn failed_runs(metrics: &[f64], baseline: f64) -> Result<FailedRuns> {
    check_finite("failed_runs", metrics)?;
    if !baseline.is_finite() {
        return Err(invalid("failed_runs", "the baseline is not finite"));
    }
    let failed = metrics.iter().filter(|&&m| m <= baseline).count();
    Ok(FailedRuns { failed, total: metrics.len(), fraction: failed as f64 / metrics.len() as f64 })
}

/// The most frequent training label; a tie goes to the smallest label, as
/// `sklearn.dummy.DummyClassifier(strategy="most_frequent")` (argmax over sorted classes) does.
pub fn majority_label<T: Ord + Clone>(train_labels: &[T]) -> Result<T> {
    check_min_len("majority_label: train labels", train_labels, 1)?;
    let mut counts: BTreeMap<&T, usize> = BTreeMap::new();
    for label in train_labels {
        *counts.entry(label).or_default() += 1;
    }
    // `max_by_key` keeps the last maximum, so walk the classes from the largest down.
    let (label, _) = counts.into_iter().rev().max_by_key(|&(_, count)| count).expect("at least one label");
    Ok(label.clone())
}

/// The majority-class baseline of a task: predict the most frequent training label (see
/// [`majority_label`]) for every dev example and score that with `metric(y_true, y_pred)`.
///
/// ```
/// use stabletune_stats::{majority_baseline, matthews_corrcoef};
/// let train = [0, 1, 1, 1];
/// let dev = [1, 0, 1];
/// // CoLA's baseline: a constant prediction has MCC 0.
/// assert_eq!(majority_baseline(&train, &dev, matthews_corrcoef).unwrap(), 0.0);
/// ```
pub fn majority_baseline<T, F>(train_labels: &[T], dev_labels: &[T], metric: F) -> Result<f64>
where
    T: Ord + Clone,
    F: Fn(&[T], &[T]) -> Result<f64>,
{
    check_min_len("majority_baseline: dev labels", dev_labels, 1)?;
    let label = majority_label(train_labels)?;
    let predictions = vec![label; dev_labels.len()];
    metric(dev_labels, &predictions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{accuracy, StatsError};

    #[test]
    fn at_or_below_the_baseline_fails() {
        let f = failed_runs(&[0.5, 0.527, 0.6, 0.7], 0.527).unwrap();
        assert_eq!((f.failed, f.total, f.fraction), (2, 4, 0.5));
        assert!(failed_runs(&[], 0.5).is_err());
        assert!(failed_runs(&[0.5], f64::NAN).is_err());
    }

    #[test]
    fn ties_go_to_the_smallest_label() {
        assert_eq!(majority_label(&[2, 1, 1, 2, 3]).unwrap(), 1);
        assert_eq!(majority_label(&["b", "a", "b"]).unwrap(), "b");
        assert!(matches!(majority_label::<u8>(&[]), Err(StatsError::Empty { .. })));
    }

    #[test]
    fn baseline_scores_the_constant_prediction() {
        let b = majority_baseline(&[0, 0, 1], &[0, 1, 1, 1], accuracy).unwrap();
        assert_eq!(b, 0.25);
    }
}

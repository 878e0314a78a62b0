//! Task metrics over predictions, as GLUE scores them (Hugging Face `glue_compute_metrics`, which
//! calls scikit-learn and scipy): accuracy, F1, Matthews correlation, `acc_and_f1`, Pearson and
//! Spearman correlation.
//!
//! Arguments follow scikit-learn's order: `(y_true, y_pred)`. Labels are any comparable type.

use std::collections::BTreeMap;

use crate::descriptive::{mean_unchecked, sum};
use crate::dist::t_two_sided_from_x;
use crate::error::{check_min_len, check_same_len, check_sample, degenerate, Result};
use crate::rank::ranks_and_ties;
use crate::spread::{constant_value, is_rounding_noise, magnitude, no_spread};

fn check_pairs<T>(what: &str, y_true: &[T], y_pred: &[T]) -> Result<()> {
    check_same_len(what, y_true, y_pred)?;
    check_min_len(what, y_true, 1)
}

/// Fraction of predictions equal to the truth (`sklearn.metrics.accuracy_score`).
pub fn accuracy<T: PartialEq>(y_true: &[T], y_pred: &[T]) -> Result<f64> {
    check_pairs("accuracy", y_true, y_pred)?;
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(correct as f64 / y_true.len() as f64)
}

/// F1 score of the class `positive` (`sklearn.metrics.f1_score(y_true, y_pred, pos_label=positive)`;
/// GLUE uses `positive = 1`): `2 tp / (2 tp + fp + fn)`.
///
/// When there is no positive label in either input the score is 0, as scikit-learn's default
/// `zero_division="warn"` returns. With more than two classes scikit-learn's binary average refuses
/// the input; this function then scores `positive` against all other classes.
pub fn f1<T: PartialEq>(y_true: &[T], y_pred: &[T], positive: &T) -> Result<f64> {
    check_pairs("f1", y_true, y_pred)?;
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (t, p) in y_true.iter().zip(y_pred) {
        match (t == positive, p == positive) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    let denominator = 2 * tp + fp + fn_;
    Ok(if denominator == 0 { 0.0 } else { (2 * tp) as f64 / denominator as f64 })
}

/// Matthews correlation coefficient (`sklearn.metrics.matthews_corrcoef`), multiclass form from
/// the confusion matrix. A constant prediction (or a constant truth) scores 0, as in
/// scikit-learn.
pub fn matthews_corrcoef<T: Ord>(y_true: &[T], y_pred: &[T]) -> Result<f64> {
    check_pairs("matthews_corrcoef", y_true, y_pred)?;
    // Per class: (count in y_true, count in y_pred).
    let mut counts: BTreeMap<&T, (i128, i128)> = BTreeMap::new();
    let mut correct: i128 = 0;
    for (t, p) in y_true.iter().zip(y_pred) {
        counts.entry(t).or_default().0 += 1;
        counts.entry(p).or_default().1 += 1;
        correct += i128::from(t == p);
    }
    let n = y_true.len() as i128;
    let dot = |f: fn(&(i128, i128)) -> i128| counts.values().map(f).sum::<i128>();
    let cov_true_pred = (correct * n - dot(|c| c.0 * c.1)) as f64;
    let cov_pred_pred = (n * n - dot(|c| c.1 * c.1)) as f64;
    let cov_true_true = (n * n - dot(|c| c.0 * c.0)) as f64;
    let denominator = cov_true_true * cov_pred_pred;
    Ok(if denominator == 0.0 { 0.0 } else { cov_true_pred / denominator.sqrt() })
}

/// Accuracy, F1 and their mean, the MRPC and QQP headline metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccAndF1 {
    pub acc: f64,
    pub f1: f64,
    /// `(acc + f1) / 2`.
    pub acc_and_f1: f64,
}

/// `acc_and_f1` of Hugging Face's GLUE metrics (F1 of the class `positive`, 1 in GLUE).
pub fn acc_and_f1<T: PartialEq>(y_true: &[T], y_pred: &[T], positive: &T) -> Result<AccAndF1> {
    let acc = accuracy(y_true, y_pred)?;
    let f1 = f1(y_true, y_pred, positive)?;
    Ok(AccAndF1 { acc, f1, acc_and_f1: (acc + f1) / 2.0 })
}

/// A correlation coefficient and its two-sided p-value against "no correlation".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorrelationTest {
    pub statistic: f64,
    pub p_value: f64,
}

/// Pearson correlation coefficient (`scipy.stats.pearsonr(x, y).statistic`), at least 2 pairs.
///
/// A constant input is [`StatsError::Degenerate`](crate::StatsError::Degenerate) where scipy
/// warns and returns `NaN`; so is an input whose values differ only by rounding error at their
/// magnitude (`crate::spread`). Collinear data (as judged by the same rounding threshold on the
/// residual of the best line) give exactly +-1.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    check_xy("pearson", x, y, 2)?;
    correlation("pearson", x, y, Scores::Values)
}

/// Pearson correlation and its two-sided p-value (`scipy.stats.pearsonr`), at least 3 pairs.
///
/// The p-value is that of `t = r sqrt((n - 2) / (1 - r^2))` with `n - 2` degrees of freedom, equal
/// to scipy's exact beta-distribution form; it is exactly 0 for collinear data. scipy returns
/// p = 1 for two pairs; this function asks for three.
pub fn pearson_test(x: &[f64], y: &[f64]) -> Result<CorrelationTest> {
    check_xy("pearson_test", x, y, 3)?;
    let r = correlation("pearson_test", x, y, Scores::Values)?;
    Ok(correlation_test(r, x.len()))
}

/// Spearman rank correlation (`scipy.stats.spearmanr(x, y).statistic`): the Pearson correlation
/// of the average ranks, so ties are handled as scipy does. At least 2 pairs. A constant input is
/// [`StatsError::Degenerate`](crate::StatsError::Degenerate); a monotone relation gives exactly
/// +-1.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check_xy("spearman", x, y, 2)?;
    correlation("spearman", x, y, Scores::Ranks)
}

/// Spearman correlation and its two-sided p-value (`scipy.stats.spearmanr`, t distribution with
/// `n - 2` degrees of freedom), at least 3 pairs; p is exactly 0 for a monotone relation. Dodge et
/// al. use it to ask whether early dev performance predicts final performance.
pub fn spearman_test(x: &[f64], y: &[f64]) -> Result<CorrelationTest> {
    check_xy("spearman_test", x, y, 3)?;
    let r = correlation("spearman_test", x, y, Scores::Ranks)?;
    Ok(correlation_test(r, x.len()))
}

fn check_xy(what: &str, x: &[f64], y: &[f64], needed: usize) -> Result<()> {
    check_same_len(what, x, y)?;
    check_sample(&format!("{what}: x"), x, needed)?;
    check_sample(&format!("{what}: y"), y, needed)
}

/// What a correlation correlates: the values (Pearson) or their average ranks (Spearman).
#[derive(Clone, Copy)]
enum Scores {
    Values,
    Ranks,
}

/// Pearson's r of the scores of `x` and `y`, as scipy computes it: centre, scale by the largest
/// deviation (no overflow), normalise, dot, clip; then exactly +-1 when the scores are collinear.
fn correlation(what: &str, x: &[f64], y: &[f64], scores: Scores) -> Result<f64> {
    // Constancy is judged on the raw values, so that a message names a value, not a rank.
    for (name, v) in [("x", x), ("y", y)] {
        if constant_value(v).is_some() {
            return Err(degenerate(
                what,
                format!("{}, so there is no variation to correlate", no_spread(name, v)),
            ));
        }
    }
    let (ux, scale_x) = unit(what, "x", x, scores)?;
    let (uy, scale_y) = unit(what, "y", y, scores)?;
    let r = sum(ux.iter().zip(&uy).map(|(a, b)| a * b)).clamp(-1.0, 1.0);
    // Collinear: the unit vectors are equal or opposite. Their squared distance, 2 (1 - |r|) in
    // exact arithmetic, is computed from the components (no cancellation, unlike 1 - |r|) and
    // compared with the rounding the centring leaves in the components: about eps times the
    // magnitude of the values over the norm of their deviations, for x and y together. The
    // distance is symmetric in x and y, so r(x, y) = r(y, x) exactly here.
    let sign = if r < 0.0 { -1.0 } else { 1.0 };
    let distance = sum(ux.iter().zip(&uy).map(|(a, b)| (a - sign * b) * (a - sign * b)));
    Ok(if is_rounding_noise(distance, x.len(), scale_x + scale_y) { sign } else { r })
}

/// The centred scores of `v` scaled to unit length, and the magnitude of the scores relative to
/// that of their deviations (`max |score| / ||score - mean||`, the scale of the components'
/// rounding error). Values that vary by rounding error only are
/// [`StatsError::Degenerate`](crate::StatsError::Degenerate).
fn unit(what: &str, name: &str, v: &[f64], scores: Scores) -> Result<(Vec<f64>, f64)> {
    let ranks;
    let s = match scores {
        Scores::Values => v,
        Scores::Ranks => {
            ranks = ranks_and_ties(v).0;
            &ranks[..]
        }
    };
    let m = mean_unchecked(s);
    let centred: Vec<f64> = s.iter().map(|a| a - m).collect();
    // Not 0: `v` is not constant, so neither are its scores, and some value differs from the mean.
    let largest = centred.iter().fold(0.0_f64, |acc, a| acc.max(a.abs()));
    let scaled: Vec<f64> = centred.iter().map(|a| a / largest).collect();
    // Sums of squares in units of largest^2, so that nothing overflows.
    let norm_sq = sum(scaled.iter().map(|a| a * a));
    let scale = magnitude(s) / largest;
    if is_rounding_noise(norm_sq, s.len(), scale) {
        return Err(degenerate(
            what,
            format!("{}, so there is no variation to correlate", no_spread(name, v)),
        ));
    }
    let norm = norm_sq.sqrt();
    Ok((scaled.iter().map(|a| a / norm).collect(), scale / norm))
}

fn correlation_test(r: f64, n: usize) -> CorrelationTest {
    let df = (n - 2) as f64;
    CorrelationTest { statistic: r, p_value: t_two_sided_from_x((1.0 - r) * (1.0 + r), df) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatsError;

    #[test]
    fn edge_cases_as_scikit_learn() {
        // Constant prediction: MCC 0. No positive anywhere: F1 0.
        assert_eq!(matthews_corrcoef(&[0, 1, 1, 0], &[1, 1, 1, 1]).unwrap(), 0.0);
        assert_eq!(f1(&[0, 0, 0], &[0, 0, 0], &1).unwrap(), 0.0);
        assert_eq!(f1(&[1, 0, 1], &[0, 0, 0], &1).unwrap(), 0.0);
        assert_eq!(matthews_corrcoef(&[0, 1], &[0, 1]).unwrap(), 1.0);
        assert_eq!(matthews_corrcoef(&[0, 1], &[1, 0]).unwrap(), -1.0);
        let m = acc_and_f1(&[1, 1, 0, 0], &[1, 0, 0, 0], &1).unwrap();
        assert_eq!((m.acc, m.f1, m.acc_and_f1), (0.75, 2.0 / 3.0, (0.75 + 2.0 / 3.0) / 2.0));
    }

    #[test]
    fn invalid_input() {
        assert!(matches!(accuracy::<u8>(&[], &[]), Err(StatsError::Empty { .. })));
        assert!(matches!(f1(&[1, 0], &[1], &1), Err(StatsError::LengthMismatch { left: 2, right: 1, .. })));
        assert!(matches!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), Err(StatsError::Degenerate { .. })));
        assert!(matches!(spearman(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]), Err(StatsError::Degenerate { .. })));
        assert!(matches!(pearson_test(&[1.0, 2.0], &[1.0, 3.0]), Err(StatsError::TooFew { needed: 3, .. })));
        assert!(matches!(
            pearson(&[1.0, f64::NAN], &[1.0, 3.0]),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
    }

    #[test]
    fn perfect_correlation_has_p_zero() {
        let t = spearman_test(&[1.0, 2.0, 3.0, 4.0], &[1.0, 4.0, 9.0, 16.0]).unwrap();
        assert_eq!((t.statistic, t.p_value), (1.0, 0.0));
    }
}

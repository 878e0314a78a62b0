//! Task metrics (as GLUE's `glue_compute_metrics`, computed with the stats crate, which is checked against
//! scikit-learn and scipy) and the majority-class baseline that defines a failed run.

use crate::data::Task;
use crate::dataset::Labels;
use serde::{Deserialize, Serialize};
use stabletune_stats as stats;
use std::collections::BTreeMap;

/// All metrics of one evaluation, by name.
pub type Metrics = BTreeMap<String, f64>;

/// The headline metric of a task: it decides the best checkpoint and a failed run. Evaluations report it
/// with its companions (accuracy always; F1 with `acc_and_f1`; Spearman and their mean with Pearson).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Acc,
    F1,
    Mcc,
    AccAndF1,
    /// Regression (one output, mean squared error); Pearson correlation.
    Pearson,
}

impl Metric {
    pub fn of_task(task: Task) -> Metric {
        match task {
            Task::Cola => Metric::Mcc,
            Task::Mrpc | Task::Qqp => Metric::AccAndF1,
            Task::Stsb => Metric::Pearson,
            _ => Metric::Acc,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Acc => "acc",
            Metric::F1 => "f1",
            Metric::Mcc => "mcc",
            Metric::AccAndF1 => "acc_and_f1",
            Metric::Pearson => "pearson",
        }
    }
}

/// Scores `logits` (`[examples, outputs]`) against the gold labels.
pub fn evaluate(metric: Metric, logits: &[f32], gold: &Labels) -> Metrics {
    let mut m = Metrics::new();
    match gold {
        Labels::Classes(y) => {
            let classes = logits.len() / y.len().max(1);
            let pred: Vec<i64> = logits
                .chunks(classes)
                .map(|row| {
                    let mut best = 0;
                    for (c, v) in row.iter().enumerate() {
                        if *v > row[best] {
                            best = c;
                        }
                    }
                    best as i64
                })
                .collect();
            classification_metrics(metric, y, &pred, &mut m);
        }
        Labels::Scores(y) => {
            let (x, y): (Vec<f64>, Vec<f64>) =
                logits.iter().zip(y).map(|(p, t)| (*p as f64, *t as f64)).unzip();
            // A constant prediction has no correlation: score it 0 rather than fail the run.
            let pearson = stats::pearson(&x, &y).unwrap_or(0.0);
            let spearman = stats::spearman(&x, &y).unwrap_or(0.0);
            m.insert("pearson".into(), pearson);
            m.insert("spearman".into(), spearman);
            m.insert("corr".into(), (pearson + spearman) / 2.0);
        }
    }
    m
}

fn classification_metrics(metric: Metric, y: &[i64], pred: &[i64], m: &mut Metrics) {
    let acc = stats::accuracy(y, pred).unwrap_or(0.0);
    m.insert("acc".into(), acc);
    match metric {
        Metric::Mcc => {
            m.insert("mcc".into(), stats::matthews_corrcoef(y, pred).unwrap_or(0.0));
        }
        Metric::F1 | Metric::AccAndF1 => {
            let f1 = stats::f1(y, pred, &1).unwrap_or(0.0);
            m.insert("f1".into(), f1);
            m.insert("acc_and_f1".into(), (acc + f1) / 2.0);
        }
        _ => {}
    }
}

/// The headline metric of predicting the most frequent training label for every dev example
/// (`None` for regression, where it is undefined).
pub fn majority_baseline(metric: Metric, train: &Labels, dev: &Labels) -> Option<f64> {
    majority_metrics(metric, train, dev)?.get(metric.name()).copied()
}

/// Every metric of the task for the majority-class prediction (MRPC: acc, F1 and acc_and_f1), so a
/// report can draw the baseline in the metric it shows when a run is judged failed on another one
/// (MRPC fails on acc_and_f1, Table 1 shows F1). `None` for regression.
pub fn majority_metrics(metric: Metric, train: &Labels, dev: &Labels) -> Option<Metrics> {
    let (Labels::Classes(train), Labels::Classes(dev)) = (train, dev) else { return None };
    let majority = stats::majority_label(train).ok()?;
    let pred = vec![majority; dev.len()];
    let mut m = Metrics::new();
    classification_metrics(metric, dev, &pred, &mut m);
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_metrics_of_glue() {
        assert_eq!(Metric::of_task(Task::Cola).name(), "mcc");
        assert_eq!(Metric::of_task(Task::Mrpc).name(), "acc_and_f1");
        assert_eq!(Metric::of_task(Task::Rte).name(), "acc");
        assert_eq!(Metric::of_task(Task::Stsb).name(), "pearson");
    }

    #[test]
    fn rte_baseline_is_the_majority_share() {
        // RTE dev: 146 entailment (0) / 131 not_entailment (1); train majority is entailment.
        let train = Labels::Classes([vec![0; 1249], vec![1; 1241]].concat());
        let dev = Labels::Classes([vec![0; 146], vec![1; 131]].concat());
        let b = majority_baseline(Metric::Acc, &train, &dev).unwrap();
        assert!((b - 146.0 / 277.0).abs() < 1e-12);
        let cola = majority_baseline(Metric::Mcc, &train, &dev).unwrap();
        assert_eq!(cola, 0.0);
    }

    #[test]
    fn metrics_from_logits() {
        let gold = Labels::Classes(vec![1, 0, 1, 1]);
        let logits = [0.0, 1.0, 2.0, 0.0, 1.0, 0.0, 0.0, 3.0];
        let m = evaluate(Metric::AccAndF1, &logits, &gold);
        assert_eq!(m["acc"], 0.75);
        assert!((m["f1"] - 0.8).abs() < 1e-12);
        assert!((m["acc_and_f1"] - 0.775).abs() < 1e-12);
    }
}

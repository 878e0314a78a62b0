//! Table 1 of Mosbach et al. for any study: per task and configuration, the spread of the final dev
//! metric over seeds, with bootstrap intervals on the mean and on the std (stability is the quantity
//! under study, so its uncertainty is shown too), and the failed runs against the majority baseline.

use crate::groups::Group;
use crate::load::RunData;
use serde::Serialize;
use stabletune_stats::{bootstrap_ci, describe, BootstrapStatistic, Ddof};

/// Resamples of each bootstrap interval, and their seed (fixed: the same runs give the same report).
pub const BOOTSTRAP_RESAMPLES: usize = 9999;
pub const BOOTSTRAP_SEED: u64 = 20_210_503;

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub task: String,
    pub configuration: String,
    pub metric: String,
    /// Run folders found for the group, and those that ended (completed, early-stopped or diverged).
    pub runs: usize,
    pub ended: usize,
    /// Runs with a final value of the metric (a diverged run has none).
    pub n: usize,
    pub mean: Option<f64>,
    /// 95% percentile-bootstrap interval of the mean (n >= 2).
    pub mean_ci: Option<[f64; 2]>,
    /// Standard deviation over seeds (ddof 1, as the papers).
    pub std: Option<f64>,
    /// 95% percentile-bootstrap interval of the std (n >= 3).
    pub std_ci: Option<[f64; 2]>,
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Failed runs (Dodge et al.): diverged, or at or below the majority baseline, as each run recorded.
    pub failed: usize,
    pub diverged: usize,
    pub majority_baseline: Option<f64>,
    /// The metric the baseline is of (the run's headline metric; MRPC's is acc_and_f1, not F1).
    pub baseline_metric: Option<String>,
}

/// The final values of a group's metric, in run order, with the runs they belong to.
pub fn final_values(group: &Group, runs: &[RunData]) -> Vec<(usize, f64)> {
    group
        .runs
        .iter()
        .filter(|&&i| runs[i].ended())
        .filter_map(|&i| runs[i].final_metrics.get(&group.metric).map(|&v| (i, v)))
        .collect()
}

pub fn row(group: &Group, runs: &[RunData]) -> Row {
    let values: Vec<f64> = final_values(group, runs).into_iter().map(|(_, v)| v).collect();
    let members: Vec<&RunData> = group.runs.iter().map(|&i| &runs[i]).collect();
    let ended: Vec<&&RunData> = members.iter().filter(|r| r.ended()).collect();
    let d = describe(&values).ok();
    let ci = |stat, needed: usize| {
        (values.len() >= needed)
            .then(|| bootstrap_ci(&values, stat, 0.95, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).ok())
            .flatten()
            .map(|c| [c.low, c.high])
    };
    Row {
        task: group.task.clone(),
        configuration: group.configuration.clone(),
        metric: group.metric.clone(),
        runs: members.len(),
        ended: ended.len(),
        n: values.len(),
        mean: d.as_ref().map(|d| d.mean),
        mean_ci: ci(BootstrapStatistic::Mean, 2),
        std: d.as_ref().and_then(|d| d.std_sample),
        std_ci: ci(BootstrapStatistic::StdDev(Ddof::Sample), 3),
        median: d.as_ref().map(|d| d.median),
        min: d.as_ref().map(|d| d.min),
        max: d.as_ref().map(|d| d.max),
        failed: ended.iter().filter(|r| r.failed == Some(true)).count(),
        diverged: ended.iter().filter(|r| r.status == "diverged").count(),
        majority_baseline: ended.iter().find_map(|r| r.majority_baseline),
        baseline_metric: ended.iter().find_map(|r| r.headline_metric.clone()),
    }
}

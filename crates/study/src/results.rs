//! The study's table: per task and configuration, the spread of the final dev metric over seeds and the
//! failed runs (Table 1 of Mosbach et al.), from the runs' summaries.

use crate::plan::PlannedRun;
use crate::store::Store;
use serde::Serialize;
use stabletune_train::{Status, Summary};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub task: String,
    pub configuration: String,
    pub metric: String,
    /// Runs planned, and runs ended (completed, early-stopped or diverged).
    pub planned: usize,
    pub ended: usize,
    /// Runs with a final metric (diverged runs have none).
    pub n: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Runs at or below the majority baseline, and diverged runs.
    pub failed: usize,
    pub majority_baseline: Option<f64>,
}

/// Rows in study order of first appearance.
pub fn table(store: &Store, runs: &[PlannedRun]) -> Vec<Row> {
    let mut rows: Vec<(Row, Vec<f64>)> = Vec::new();
    for run in runs {
        let at =
            match rows.iter().position(|(r, _)| r.task == run.task && r.configuration == run.configuration) {
                Some(i) => i,
                None => {
                    let row = Row {
                        task: run.task.clone(),
                        configuration: run.configuration.clone(),
                        metric: String::new(),
                        planned: 0,
                        ended: 0,
                        n: 0,
                        mean: None,
                        std: None,
                        median: None,
                        min: None,
                        max: None,
                        failed: 0,
                        majority_baseline: None,
                    };
                    rows.push((row, Vec::new()));
                    rows.len() - 1
                }
            };
        let (row, values) = &mut rows[at];
        row.planned += 1;
        let Some(s) = store.finished(&run.id) else { continue };
        add(row, values, &s);
    }
    rows.into_iter()
        .map(|(mut row, values)| {
            if let Ok(d) = stabletune_stats::describe(&values) {
                row.n = values.len();
                row.mean = Some(d.mean);
                row.std = d.std_sample; // ddof = 1: the spread of seeds as a sample of all seeds
                row.median = Some(d.median);
                row.min = Some(d.min);
                row.max = Some(d.max);
            }
            row
        })
        .collect()
}

fn add(row: &mut Row, values: &mut Vec<f64>, s: &Summary) {
    row.ended += 1;
    row.metric = s.headline_metric.clone();
    row.majority_baseline = row.majority_baseline.or(s.majority_baseline);
    if s.failed == Some(true) {
        row.failed += 1;
    }
    if s.status != Status::Diverged {
        if let Some(v) = s.final_metrics.get(&s.headline_metric) {
            values.push(*v);
        }
    }
}

/// The table as aligned text.
pub fn render(rows: &[Row]) -> String {
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let mut out = format!(
        "{:<10} {:<28} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}\n",
        "task", "configuration", "n", "mean", "std", "median", "min", "max", "failed", "baseline"
    );
    for r in rows {
        let n = if r.ended < r.planned { format!("{}/{}", r.n, r.planned) } else { r.n.to_string() };
        out += &format!(
            "{:<10} {:<28} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}\n",
            r.task,
            r.configuration,
            n,
            f(r.mean),
            f(r.std),
            f(r.median),
            f(r.min),
            f(r.max),
            format!("{}/{}", r.failed, r.ended),
            f(r.majority_baseline)
        );
    }
    out
}

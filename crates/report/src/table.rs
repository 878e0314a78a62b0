//! Table 1 of Mosbach et al. for any study: per task and configuration, the spread of the final dev
//! metric over seeds with intervals fit for the sample's size, and every run accounted for: the runs
//! with a final model (the statistics are over these), the diverged ones (no final model, counted as
//! failed), the ones stopped by an early-stopping schedule (neither success nor failure) and the
//! failed ones against the majority baseline. One table model for every writer: `study run`'s
//! printout, `results.json`, the HTML and Markdown reports and `report.json`.

use crate::groups::Group;
use crate::load::RunData;
use serde::Serialize;
use stabletune_stats::{bootstrap_bca_ci, describe, t_interval_mean, BootstrapStatistic, Ddof};

/// Resamples of each bootstrap interval, and their seed (fixed: the same runs give the same report).
pub const BOOTSTRAP_RESAMPLES: usize = 9999;
pub const BOOTSTRAP_SEED: u64 = 20_210_503;
/// The fewest runs for a bootstrap interval. Below it a percentile bootstrap covers far less than its
/// nominal level (at n = 2 the "95%" interval of the mean is [min, max], about 50% coverage; at n = 3
/// the std interval always starts at 0), so the mean gets a t-interval and the std none.
pub const MIN_BOOTSTRAP_RUNS: usize = 10;
/// The words shown where a std interval would be, below [`MIN_BOOTSTRAP_RUNS`].
pub const TOO_FEW_FOR_SPREAD: &str = "too few runs for an interval on the spread";

/// How an interval was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Student's t-interval of the mean (2 <= n < 10).
    T,
    /// Bias-corrected and accelerated bootstrap (n >= 10).
    Bca,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub task: String,
    pub configuration: String,
    pub metric: String,
    /// Run folders found for the group, and those that ended (any status but unfinished/interrupted).
    pub runs: usize,
    pub ended: usize,
    /// Runs with a final model and a value of the metric: the statistics below are over these.
    pub n: usize,
    /// Runs that diverged: no final model, so not in n; counted as failed.
    pub diverged: usize,
    /// Runs stopped by the study's early-stopping schedule (not failed): neither successes nor failures,
    /// and not in n.
    pub stopped: usize,
    pub mean: Option<f64>,
    /// 95% interval of the mean: a t-interval below n = 10, BCa from n = 10 ([`IntervalMethod`]).
    pub mean_ci: Option<[f64; 2]>,
    pub mean_ci_method: Option<IntervalMethod>,
    /// Standard deviation over seeds (ddof 1, as the papers).
    pub std: Option<f64>,
    /// 95% BCa interval of the std, from n = 10 only (approximate: a bootstrap of a std is).
    pub std_ci: Option<[f64; 2]>,
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Failed runs (Dodge et al.): diverged, or at or below the majority baseline, as each run recorded;
    /// `None` where the task has no majority baseline (regression: STS-B).
    pub failed: Option<usize>,
    /// The runs whose success or failure is known (`failed` is out of these): ended, less the stopped.
    pub judged: usize,
    pub majority_baseline: Option<f64>,
    /// The metric the baseline is of (the run's headline metric; MRPC's is acc_and_f1, not F1).
    pub baseline_metric: Option<String>,
    /// The majority-class prediction's value in the table's own metric, when the runs recorded it (MRPC's
    /// F1 of always predicting the positive class), so a reader sees why a run above it can have failed.
    pub baseline_in_metric: Option<f64>,
    /// Runs the failure sentinel stopped (failed; no final model, so not in n), and of them the original
    /// runs (all of them, without restarts).
    pub stopped_by_sentinel: usize,
    pub stopped_by_sentinel_original: usize,
    /// Runs the sentinel flagged (any status).
    pub flagged: usize,
    /// `sentinel = "restart"`: replacement runs in the group. Then `failed` and `judged` are over the original
    /// runs only, n and the statistics over every run that finished (originals and replacements), and
    /// `original_std` over the original runs with a value (the stopped ones at their value where they stopped).
    pub restarted: usize,
    pub original_std: Option<f64>,
    pub original_n: usize,
}

impl Row {
    /// "3/25", or "n/a" for a task without a majority baseline.
    pub fn failed_text(&self) -> String {
        match self.failed {
            Some(f) => format!("{f}/{}", self.judged),
            None => "n/a".into(),
        }
    }

    /// The failed fraction of the judged runs (`None` without a baseline or a judged run).
    pub fn failure_rate(&self) -> Option<f64> {
        self.failed.filter(|_| self.judged > 0).map(|f| f as f64 / self.judged as f64)
    }
}

/// The final values of a group's metric, in run order, with the runs they belong to: the runs with a
/// final model only (a diverged run has no final model; a run stopped by a schedule was cut short).
pub fn final_values(group: &Group, runs: &[RunData]) -> Vec<(usize, f64)> {
    group
        .runs
        .iter()
        .filter(|&&i| runs[i].has_final_model())
        .filter_map(|&i| runs[i].final_metrics.get(&group.metric).map(|&v| (i, v)))
        .collect()
}

pub fn row(group: &Group, runs: &[RunData]) -> Row {
    let values: Vec<f64> = final_values(group, runs).into_iter().map(|(_, v)| v).collect();
    let members: Vec<&RunData> = group.runs.iter().map(|&i| &runs[i]).collect();
    let ended: Vec<&RunData> = members.iter().copied().filter(|r| r.ended()).collect();
    // With restarts, failures are counted over the original runs: a replacement exists because an original
    // failed, so counting it would lower the failure rate by the sentinel's own doing.
    let restarted = members.iter().filter(|r| r.replaces.is_some()).count();
    let originals: Vec<&RunData> = ended.iter().copied().filter(|r| r.replaces.is_none()).collect();
    let judged: Vec<&RunData> = originals.iter().copied().filter(|r| r.judged()).collect();
    let original_values: Vec<f64> = originals
        .iter()
        .filter(|r| r.has_final_model() || r.status == "stopped_by_sentinel")
        .filter_map(|r| r.final_metrics.get(&group.metric).copied())
        .collect();
    let original_std =
        (restarted > 0).then(|| describe(&original_values).ok().and_then(|d| d.std_sample)).flatten();
    let d = describe(&values).ok();
    let n = values.len();
    let bca = |stat| {
        (n >= MIN_BOOTSTRAP_RUNS)
            .then(|| bootstrap_bca_ci(&values, stat, 0.95, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).ok())
            .flatten()
            .map(|c| [c.low, c.high])
    };
    let (mean_ci, mean_ci_method) = if n >= MIN_BOOTSTRAP_RUNS {
        (bca(BootstrapStatistic::Mean), Some(IntervalMethod::Bca))
    } else {
        (t_interval_mean(&values, 0.95).ok().map(|t| [t.low, t.high]), Some(IntervalMethod::T))
    };
    let baseline = judged.iter().find_map(|r| r.majority_baseline);
    Row {
        task: group.task.clone(),
        configuration: group.configuration.clone(),
        metric: group.metric.clone(),
        runs: members.len(),
        ended: ended.len(),
        n,
        diverged: ended.iter().filter(|r| r.status == "diverged").count(),
        stopped: ended.iter().filter(|r| r.stopped_by_schedule()).count(),
        mean: d.as_ref().map(|d| d.mean),
        mean_ci_method: mean_ci.and(mean_ci_method),
        mean_ci,
        std: d.as_ref().and_then(|d| d.std_sample),
        std_ci: bca(BootstrapStatistic::StdDev(Ddof::Sample)),
        median: d.as_ref().map(|d| d.median),
        min: d.as_ref().map(|d| d.min),
        max: d.as_ref().map(|d| d.max),
        // A run records `failed` only where the task has a baseline; without one nothing can fail on
        // the metric, and a count of 0 would claim a success rate the task cannot define.
        failed: baseline.map(|_| judged.iter().filter(|r| r.failed == Some(true)).count()),
        judged: judged.len(),
        majority_baseline: baseline,
        baseline_metric: judged.iter().find_map(|r| r.headline_metric.clone()),
        baseline_in_metric: judged.iter().find_map(|r| {
            if r.headline_metric.as_deref() == Some(group.metric.as_str()) {
                r.majority_baseline
            } else {
                r.majority_metrics.get(&group.metric).copied()
            }
        }),
        stopped_by_sentinel: ended.iter().filter(|r| r.status == "stopped_by_sentinel").count(),
        stopped_by_sentinel_original: judged.iter().filter(|r| r.status == "stopped_by_sentinel").count(),
        flagged: members.iter().filter(|r| r.sentinel_flag.is_some()).count(),
        restarted,
        original_std,
        original_n: if restarted > 0 { original_values.len() } else { 0 },
    }
}

/// The table's caption, said once for every writer: what the statistics are over, how the intervals
/// were made, and what is left out.
pub fn caption(rows: &[Row]) -> String {
    let diverged: usize = rows.iter().map(|r| r.diverged).sum();
    let stopped: usize = rows.iter().map(|r| r.stopped).sum();
    let not_ended: usize = rows.iter().map(|r| r.runs - r.ended).sum();
    let mut s = format!(
        "The final dev metric of each run (after its last update), per task and configuration. n, std (ddof 1), mean, \
         median, min and max are over the runs that ended with a final model (completed, or stopped by their own \
         patience rule). Diverged runs have no final model: they are counted in the diverged column and as failed, \
         and are left out of n, of every statistic, of the tests and of the box plots ({diverged} in this table). \
         Runs stopped by an early-stopping schedule were cut short by a rule outside them: they are neither \
         successes nor failures, and are left out of every number but their own column ({stopped} here). Failed \
         runs (Dodge et al.) are those at or below the majority-class baseline, or diverged, out of the runs whose \
         outcome is known; a task without a majority baseline (regression) shows n/a and gets no test of failures. \
         Brackets are 95% intervals: for n < {MIN_BOOTSTRAP_RUNS} Student's t-interval of the mean and none for the \
         std ({TOO_FEW_FOR_SPREAD}); for n >= {MIN_BOOTSTRAP_RUNS} bias-corrected and accelerated (BCa) bootstrap \
         intervals ({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}) of the mean and of the std; a bootstrap \
         interval of a std is approximate."
    );
    if not_ended > 0 {
        s += &format!(" {not_ended} run(s) have not ended yet and are in no number.");
    }
    let by_sentinel: usize = rows.iter().map(|r| r.stopped_by_sentinel).sum();
    let by_sentinel_original: usize = rows.iter().map(|r| r.stopped_by_sentinel_original).sum();
    let restarted: usize = rows.iter().map(|r| r.restarted).sum();
    if by_sentinel > 0 {
        let of = if restarted > 0 {
            format!(" ({by_sentinel_original} of them original runs)")
        } else {
            String::new()
        };
        s += &format!(
            " {by_sentinel} run(s){of} were stopped by the failure sentinel: they count as failed (said beside the \
             failed column), and have no final model, so they are in no statistic over n."
        );
    }
    if restarted > 0 {
        s += &format!(
            " The study replaced stopped runs with runs of the next seeds (sentinel = \"restart\"; {restarted} \
             replacement run(s)): the failed column is over the original runs only, n and the statistics are over \
             every run that finished (originals and replacements), and the std over the original runs (the stopped \
             ones at their value where they stopped) is shown beside it. Cite the original runs' std as the \
             recipe's spread: the finished runs' std leaves out the runs the sentinel replaced, so it is the spread \
             of runs that passed the sentinel, not of the recipe."
        );
    }
    s
}

/// One row as the cells every writer shows, in [`HEADER`]'s order: text only, so HTML and Markdown
/// show the same table and the HTML writer adds only its styling.
pub const HEADER: [&str; 13] = [
    "task",
    "configuration",
    "metric",
    "n",
    "std",
    "mean",
    "median",
    "min",
    "max",
    "diverged",
    "stopped",
    "failed",
    "baseline",
];

/// A cell: its text, and an interval or a note shown smaller beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub aside: Option<String>,
}

fn plain(text: String) -> Cell {
    Cell { text, aside: None }
}

fn value(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

fn interval(ci: Option<[f64; 2]>) -> Option<String> {
    ci.map(|[a, b]| format!("[{a:.4}, {b:.4}]"))
}

pub fn cells(row: &Row) -> Vec<Cell> {
    let n_aside = (row.runs > row.ended).then(|| format!("({} not ended)", row.runs - row.ended));
    let std_aside = if row.restarted > 0 {
        Some(format!("(originals: {} over {} runs)", value(row.original_std), row.original_n))
    } else if row.n >= 2 && row.n < MIN_BOOTSTRAP_RUNS {
        Some(TOO_FEW_FOR_SPREAD.to_string())
    } else {
        interval(row.std_ci)
    };
    let mut failed_notes = Vec::new();
    if row.stopped_by_sentinel_original > 0 {
        failed_notes.push(format!("{} by the sentinel", row.stopped_by_sentinel_original));
    }
    if row.restarted > 0 {
        failed_notes.push(format!("{} restarted", row.restarted));
    }
    let failed_aside = (!failed_notes.is_empty()).then(|| format!("({})", failed_notes.join(", ")));
    let baseline = match (&row.majority_baseline, &row.baseline_metric, row.baseline_in_metric) {
        (Some(b), Some(m), _) if *m == row.metric => format!("{b:.4}"),
        (Some(b), Some(m), Some(own)) => format!("{own:.4} ({b:.4} {m})"),
        (Some(b), Some(m), None) => format!("{b:.4} ({m})"),
        _ => "n/a".into(),
    };
    vec![
        plain(row.task.clone()),
        plain(row.configuration.clone()),
        plain(row.metric.clone()),
        Cell { text: row.n.to_string(), aside: n_aside },
        Cell { text: value(row.std), aside: std_aside },
        Cell {
            text: value(row.mean),
            aside: interval(row.mean_ci).map(|ci| match row.mean_ci_method {
                Some(IntervalMethod::T) => format!("{ci} t"),
                _ => ci,
            }),
        },
        plain(value(row.median)),
        plain(value(row.min)),
        plain(value(row.max)),
        plain(row.diverged.to_string()),
        plain(row.stopped.to_string()),
        Cell { text: row.failed_text(), aside: failed_aside },
        plain(baseline),
    ]
}

/// The table as aligned text, for the terminal (`study run`, `study status`).
pub fn text(rows: &[Row]) -> String {
    let table: Vec<Vec<String>> = std::iter::once(HEADER.iter().map(|s| s.to_string()).collect())
        .chain(rows.iter().map(|r| {
            cells(r)
                .into_iter()
                .enumerate()
                .map(|(i, c)| match c.aside {
                    // Intervals stay in the HTML and Markdown; the terminal keeps the table narrow.
                    Some(a) if i == 3 || i == 11 || (i == 4 && r.restarted > 0) => format!("{} {a}", c.text),
                    _ => c.text,
                })
                .collect()
        }))
        .collect();
    let widths: Vec<usize> =
        (0..HEADER.len()).map(|i| table.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for line in &table {
        let parts: Vec<String> =
            line.iter()
                .enumerate()
                .map(|(i, c)| {
                    if i < 3 {
                        format!("{c:<w$}", w = widths[i])
                    } else {
                        format!("{c:>w$}", w = widths[i])
                    }
                })
                .collect();
        out += parts.join("  ").trim_end();
        out.push('\n');
    }
    out
}

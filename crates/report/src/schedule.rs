//! What a study's live early stopping did (its `early-stopping/<group>.json` decisions, written by
//! `stabletune study run`): per group, the compute used against training every started run to the end, the
//! best run found, and the ranking at the decision point against the final ranking of the runs kept.

use crate::error::{format_error, io, Result};
use crate::load::RunData;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize)]
struct RankedFile {
    run: String,
    best_so_far: f64,
    rank: usize,
}

#[derive(Clone, Debug, Deserialize)]
struct FailedFile {
    run: String,
    step: u64,
    reason: String,
}

/// The decision file, as the study writes it.
#[derive(Clone, Debug, Deserialize)]
struct DecisionFile {
    task: String,
    configuration: String,
    start: usize,
    keep: usize,
    at: f64,
    decision_step: u64,
    total_steps: u64,
    headline_metric: String,
    ranking: Vec<RankedFile>,
    continued: Vec<String>,
    failed_before: Vec<FailedFile>,
}

#[derive(Clone, Debug, Serialize)]
pub struct KeptRun {
    pub run: String,
    pub rank_at_decision: usize,
    pub best_so_far: f64,
    /// Its final metric, when it has ended.
    pub final_value: Option<f64>,
    /// Its rank among the kept runs by final metric (1 = best).
    pub final_rank: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScheduleSummary {
    pub file: PathBuf,
    pub task: String,
    pub configuration: String,
    pub metric: String,
    pub start: usize,
    pub keep: usize,
    pub at: f64,
    pub decision_step: u64,
    pub total_steps: u64,
    /// Updates trained by the group's runs, and what training all `start` to the end would take.
    pub updates_used: u64,
    pub updates_all: u64,
    /// Training time of the group's runs, and the same at their measured speed for all to the end.
    pub seconds_used: f64,
    pub seconds_all: Option<f64>,
    pub stopped: usize,
    pub failed_before: Vec<(String, u64, String)>,
    /// The best kept run by final metric, when they have ended.
    pub best: Option<(String, f64)>,
    pub kept: Vec<KeptRun>,
}

/// The decisions under each source folder (a study's `early-stopping/`), in file-name order.
pub fn load_schedules(sources: &[PathBuf], runs: &[RunData]) -> Result<Vec<ScheduleSummary>> {
    let mut out = Vec::new();
    for source in sources {
        let dir = source.join("early-stopping");
        if !dir.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            out.push(summarise(&f, runs)?);
        }
    }
    Ok(out)
}

fn summarise(path: &Path, runs: &[RunData]) -> Result<ScheduleSummary> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let d: DecisionFile =
        serde_json::from_str(&text).map_err(|e| format_error(path, Some(e.line()), e.to_string()))?;
    let find = |id: &str| runs.iter().find(|r| r.name == id);
    let members: Vec<&RunData> = d
        .ranking
        .iter()
        .map(|r| r.run.as_str())
        .chain(d.failed_before.iter().map(|f| f.run.as_str()))
        .filter_map(find)
        .collect();
    let updates_used: u64 = members.iter().filter_map(|r| r.steps).sum();
    let seconds_used: f64 = members.iter().filter_map(|r| r.wall_seconds).sum();
    let updates_all = d.start as u64 * d.total_steps;
    let seconds_all = (updates_used > 0).then(|| seconds_used / updates_used as f64 * updates_all as f64);
    let metric = &d.headline_metric;
    let mut kept: Vec<KeptRun> = d
        .ranking
        .iter()
        .filter(|r| d.continued.contains(&r.run))
        .map(|r| KeptRun {
            run: r.run.clone(),
            rank_at_decision: r.rank,
            best_so_far: r.best_so_far,
            final_value: find(&r.run).and_then(|x| x.final_metrics.get(metric).copied()),
            final_rank: None,
        })
        .collect();
    let mut by_final: Vec<(usize, f64)> =
        kept.iter().enumerate().filter_map(|(i, k)| k.final_value.map(|v| (i, v))).collect();
    by_final.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for (rank, (i, _)) in by_final.iter().enumerate() {
        kept[*i].final_rank = Some(rank + 1);
    }
    let best = by_final.first().map(|&(i, v)| (kept[i].run.clone(), v));
    Ok(ScheduleSummary {
        file: path.to_path_buf(),
        task: d.task,
        configuration: d.configuration,
        metric: metric.clone(),
        start: d.start,
        keep: d.keep,
        at: d.at,
        decision_step: d.decision_step,
        total_steps: d.total_steps,
        updates_used,
        updates_all,
        seconds_used,
        seconds_all,
        stopped: d.ranking.len().saturating_sub(d.continued.len()),
        failed_before: d.failed_before.into_iter().map(|f| (f.run, f.step, f.reason)).collect(),
        best,
        kept,
    })
}

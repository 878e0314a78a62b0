//! `stabletune analyze sentinel`: how well the failure sentinel ([`stabletune_train::sentinel`]) tells
//! failed runs from the others, measured on finished runs by replaying its rule on their logs, beside
//! two detectors that read the dev metric instead (Dodge et al.'s early stopping, and a run still at the
//! majority baseline), and a search for the rule's thresholds on one set of runs ([`fit`]) to be measured
//! on another.
//!
//! A run's outcome is its summary's `failed` (the paper's definition: the final headline metric at or
//! below the majority baseline, or diverged). Runs without one (unfinished, regression without a baseline,
//! or ended by a sentinel or a schedule before their natural end) are left out, and the output says so.

use crate::error::{AnalysisError, Result};
use serde::Serialize;
use stabletune_train::sentinel::{self, Rule, Sentinel, Trace, Warning};
use stabletune_train::trainer::read_summary;
use stabletune_train::{Status, TrainConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The training fractions at which the detectors are scored.
pub const FRACTIONS: [f64; 4] = [0.1, 0.25, 0.5, 1.0];

/// What the evaluation needs of one finished run.
#[derive(Clone, Debug)]
pub struct RunSignals {
    pub name: String,
    pub task: String,
    /// Runs of one group differ only by their seeds (Dodge's ranking is within a group).
    pub group: String,
    pub failed: bool,
    pub total: u64,
    pub warmup: u64,
    pub constant_loss: f64,
    pub baseline: Option<f64>,
    pub trace: Trace,
    /// Evaluations of the headline metric (update, value), the one before training included.
    pub evals: Vec<(u64, f64)>,
}

/// Run directories, or study folders (their `runs/`), read for the evaluation; returns the usable runs
/// and, for each run left out, why.
pub fn load(paths: &[PathBuf]) -> Result<(Vec<RunSignals>, Vec<String>)> {
    let mut dirs = Vec::new();
    for p in paths {
        let runs = p.join("runs");
        if runs.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&runs)
                .map_err(crate::error::io(&runs))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|d| d.join("config.toml").exists())
                .collect();
            found.sort();
            dirs.extend(found);
        } else {
            dirs.push(p.clone());
        }
    }
    let (mut runs, mut left_out) = (Vec::new(), Vec::new());
    for dir in dirs {
        match read_run(&dir)? {
            Ok(run) => runs.push(run),
            Err(why) => left_out.push(format!("{}: {why}", dir.display())),
        }
    }
    Ok((runs, left_out))
}

/// One run, or why it cannot be scored.
fn read_run(dir: &Path) -> Result<std::result::Result<RunSignals, String>> {
    let run_err = |message: String| AnalysisError::Run { path: dir.to_path_buf(), message };
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| run_err(format!("config.toml: {e}")))?;
    let config: TrainConfig = stabletune_train::config::parse_toml(&path, &text).map_err(run_err)?;
    let Some(summary) = read_summary(dir) else { return Ok(Err("no summary.json (unfinished)".into())) };
    if matches!(summary.status, Status::StoppedBySentinel | Status::StoppedBySchedule | Status::Interrupted) {
        return Ok(Err(format!(
            "status {:?}: ended before its natural end, no outcome to score",
            summary.status
        )));
    }
    let Some(failed) = summary.failed else { return Ok(Err("no failed/successful outcome".into())) };
    let log = dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&log).map_err(crate::error::io(&log))?;
    let trace = Trace::parse(&text, &summary.headline_metric)
        .map_err(|m| AnalysisError::Run { path: log.clone(), message: m })?;
    if !trace.complete {
        return Ok(Err("not every update's loss was logged (log_every > 1)".into()));
    }
    let constant_loss = match summary.constant_loss {
        Some(c) => c,
        None => sentinel::constant_loss_of(&config)?,
    };
    let evals = trace
        .events
        .iter()
        .filter_map(|e| match *e {
            sentinel::Event::Eval(step, v) => Some((step, v)),
            _ => None,
        })
        .collect();
    let group = TrainConfig { init_seed: 0, data_seed: 0, threads: 0, ..config }.to_toml();
    Ok(Ok(RunSignals {
        name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        task: summary.task,
        group,
        failed,
        total: summary.total_steps,
        warmup: summary.warmup_steps,
        constant_loss,
        baseline: summary.majority_baseline,
        trace,
        evals,
    }))
}

/// The sentinel's first warning on each run under `rule`.
pub fn replay(runs: &[RunSignals], rule: Rule) -> Vec<Option<Warning>> {
    runs.iter()
        .map(|r| r.trace.replay(Sentinel::new(rule, r.constant_loss, r.baseline, r.warmup, r.total)))
        .collect()
}

/// One detector's score at one training fraction.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Score {
    pub detector: String,
    pub fraction: f64,
    pub flagged: usize,
    pub flagged_failed: usize,
    pub failed: usize,
    pub runs: usize,
    /// Of the flagged runs, the share that failed (`None`: nothing flagged).
    pub precision: Option<f64>,
    /// Of the failed runs, the share flagged (`None`: no failed run).
    pub recall: Option<f64>,
    /// Updates not trained had every flagged run stopped where it was flagged, as a share of all updates.
    pub updates_saved: f64,
    /// Dev evaluations per run the detector needs up to this fraction (the sentinel needs none).
    pub evals_per_run: f64,
}

fn score(detector: &str, runs: &[RunSignals], fraction: f64, flags: &[Option<u64>], evals: f64) -> Score {
    let flagged: Vec<(&RunSignals, u64)> = runs
        .iter()
        .zip(flags)
        .filter_map(|(r, f)| f.filter(|&s| s as f64 <= fraction * r.total as f64).map(|s| (r, s)))
        .collect();
    let failed = runs.iter().filter(|r| r.failed).count();
    let flagged_failed = flagged.iter().filter(|(r, _)| r.failed).count();
    let total: u64 = runs.iter().map(|r| r.total).sum();
    let saved: u64 = flagged.iter().map(|(r, s)| r.total.saturating_sub(*s)).sum();
    Score {
        detector: detector.to_string(),
        fraction,
        flagged: flagged.len(),
        flagged_failed,
        failed,
        runs: runs.len(),
        precision: (!flagged.is_empty()).then(|| flagged_failed as f64 / flagged.len() as f64),
        recall: (failed > 0).then(|| flagged_failed as f64 / failed as f64),
        updates_saved: saved as f64 / total.max(1) as f64,
        evals_per_run: evals,
    }
}

/// Evaluations each run had done by `fraction` of its updates (the one before training included).
fn evals_by(run: &RunSignals, fraction: f64) -> usize {
    run.evals.iter().filter(|(s, _)| *s as f64 <= fraction * run.total as f64).count()
}

/// The three detectors at every fraction of [`FRACTIONS`]:
/// - `sentinel`: the rule, flagged at or before the fraction;
/// - `dev at baseline`: the latest evaluation after the warmup, at or before the fraction, is at or below
///   the majority baseline (a dev-metric detector run at the evaluations the study did anyway);
/// - `Dodge (keep half)`: Dodge et al.'s early stopping deciding at the fraction, within each group: the
///   half of the runs with the lowest best-so-far dev metric (the evaluation before training included, as
///   theirs) are stopped; ties keep the lower seed order.
pub fn evaluate(runs: &[RunSignals], rule: Rule) -> Vec<Score> {
    let sentinel = sentinel_scores(runs, rule);
    let mut out = Vec::new();
    for (f, sentinel) in FRACTIONS.into_iter().zip(sentinel) {
        let evals = runs.iter().map(|r| evals_by(r, f)).sum::<usize>() as f64 / runs.len().max(1) as f64;
        out.push(sentinel);
        let at_baseline: Vec<Option<u64>> = runs
            .iter()
            .map(|r| {
                let b = r.baseline?;
                let (step, v) =
                    r.evals.iter().rev().find(|(s, _)| *s > r.warmup && *s as f64 <= f * r.total as f64)?;
                (*v <= b).then_some(*step)
            })
            .collect();
        out.push(score("dev at baseline", runs, f, &at_baseline, evals));
        out.push(score("Dodge (keep half)", runs, f, &dodge_keep_half(runs, f), evals));
    }
    out
}

/// The sentinel's scores alone, one per fraction of [`FRACTIONS`] (what [`fit`] compares).
pub fn sentinel_scores(runs: &[RunSignals], rule: Rule) -> Vec<Score> {
    let flags: Vec<Option<u64>> = replay(runs, rule).into_iter().map(|w| w.map(|w| w.step)).collect();
    FRACTIONS.into_iter().map(|f| score("sentinel", runs, f, &flags, 0.0)).collect()
}

/// Dodge's decision at `fraction`: per group, the lower half by best dev metric so far is stopped at the
/// last evaluation at or before the fraction.
fn dodge_keep_half(runs: &[RunSignals], fraction: f64) -> Vec<Option<u64>> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        groups.entry(&r.group).or_default().push(i);
    }
    let mut flags = vec![None; runs.len()];
    for members in groups.values() {
        let best = |i: usize| -> Option<(u64, f64)> {
            let r = &runs[i];
            let seen: Vec<&(u64, f64)> =
                r.evals.iter().filter(|(s, _)| *s as f64 <= fraction * r.total as f64).collect();
            let step = seen.last()?.0;
            Some((step, seen.iter().map(|e| e.1).fold(f64::NEG_INFINITY, f64::max)))
        };
        let mut ranked: Vec<(usize, u64, f64)> =
            members.iter().filter_map(|&i| best(i).map(|(s, v)| (i, s, v))).collect();
        // Highest first; stable, so ties keep the runs' order (their names, seeds ascending).
        ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
        let keep = ranked.len().div_ceil(2);
        for &(i, step, _) in &ranked[keep..] {
            flags[i] = Some(step);
        }
    }
    flags
}

/// The thresholds [`fit`] searches.
pub fn grid() -> Vec<Rule> {
    let mut rules = Vec::new();
    for loss_ratio in [0.85, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98] {
        for lower_growth in [1.5, 2.0, 3.0, 4.0, 6.0, 8.0] {
            for persist in [1, 2, 3, 5] {
                for earliest in [0.0, 0.1, 0.15, 0.2, 0.25] {
                    rules.push(Rule { loss_ratio, lower_growth, persist, earliest, ..sentinel::RULE });
                }
            }
        }
    }
    rules
}

/// The fitted rule and its scores on the runs it was fitted on.
#[derive(Clone, Debug, Serialize)]
pub struct Fit {
    pub rule: Rule,
    pub scores: Vec<Score>,
    pub rules_tried: usize,
}

/// Searches [`grid`] for the rule that best flags the failed runs by 25% of training: first any rule that
/// meets the target there (precision at least `min_precision`, recall at least 0.8), then the highest F1 of
/// precision and recall at 25% (a rule that flags nothing scores 0), then the higher recall at 10%; ties go
/// to the more cautious rule (the grid's later entry: higher loss ratio, lower growth, more hits in a row,
/// later start). `None` when no rule flags any run by 25%.
pub fn fit(runs: &[RunSignals], min_precision: f64) -> Option<Fit> {
    let rules = grid();
    let at = |scores: &[Score], f: f64| -> (f64, f64) {
        let s = scores.iter().find(|s| s.fraction == f);
        (s.and_then(|s| s.precision).unwrap_or(0.0), s.and_then(|s| s.recall).unwrap_or(0.0))
    };
    // (meets the target, F1 at 25%, recall at 10%): compared in that order.
    type Key = (bool, f64, f64);
    let mut best: Option<(Key, Rule, Vec<Score>)> = None;
    for rule in &rules {
        let scores = sentinel_scores(runs, *rule);
        let (p, r) = at(&scores, 0.25);
        if r == 0.0 {
            continue;
        }
        let f1 = 2.0 * p * r / (p + r);
        let key = (p >= min_precision && r >= 0.8, f1, at(&scores, 0.1).1);
        if best.as_ref().is_none_or(|b| key >= b.0) {
            best = Some((key, *rule, scores));
        }
    }
    best.map(|(_, rule, scores)| Fit { rule, scores, rules_tried: rules.len() })
}

/// The scores as a Markdown table.
pub fn table(scores: &[Score]) -> String {
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
    let mut out = String::from(
        "| detector | at | flagged | of them failed | precision | recall | updates saved | evaluations per run |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for s in scores {
        out += &format!(
            "| {} | {:.0}% | {} | {} | {} | {} ({} of {} failed) | {:.1}% | {:.1} |\n",
            s.detector,
            100.0 * s.fraction,
            s.flagged,
            s.flagged_failed,
            pct(s.precision),
            pct(s.recall),
            s.flagged_failed,
            s.failed,
            100.0 * s.updates_saved,
            s.evals_per_run
        );
    }
    out
}

/// Per run: outcome and the sentinel's flag, for the record.
pub fn run_lines(runs: &[RunSignals], rule: Rule) -> Vec<String> {
    runs.iter()
        .zip(replay(runs, rule))
        .map(|(r, w)| {
            let outcome = if r.failed { "failed" } else { "successful" };
            match w {
                Some(w) => format!("{} ({outcome}): {}", r.name, w.sentence()),
                None => format!("{} ({outcome}): not flagged", r.name),
            }
        })
        .collect()
}

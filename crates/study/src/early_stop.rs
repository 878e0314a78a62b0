//! Dodge et al.'s early stopping, live in a study: start many runs, evaluate often, and when every run of a
//! group (one task and configuration, differing only by seed) has trained a fraction `at` of its updates,
//! continue the `keep` runs with the highest best-so-far dev metric and stop the rest.
//!
//! Everything is decided from the run store's files, so workers in any number of processes and Slurm
//! shards agree without talking:
//! - a worker pauses a run (checkpoint, status `interrupted`) at its first evaluation at or after
//!   `at x total updates`: the run is then *at the decision point*;
//! - a run that falls to the majority baseline before that point, after having been above it (both after
//!   the warmup, during which runs often sit at the majority class and leave it again), cannot win: it is
//!   stopped at once (`stopped_by_schedule`, counted as failed), as are diverged runs (`diverged`);
//! - when every run of the group is at the decision point or failed, the first worker to see it writes the
//!   group's decision, `early-stopping/<group>.json`, created exclusively (a hard link of a complete
//!   temporary file, which fails if the decision exists): it is taken once and never revised;
//! - the stopped runs get `stopped_by_schedule` (their checkpoints, optimizer state included, stay, so
//!   `stabletune train --resume` can still continue one); the kept ones are claimed and trained to the end.
//!
//! A worker killed between the decision and the stopped runs' summaries leaves nothing undone: whoever
//! next reads the decision applies it (idempotently).
//!
//! A decision records what it was taken over (the group's runs, `start`, `keep`, `at`) and its file is
//! named by them (`<group>@<fingerprint>.json`), so it is applied only to that: a study extended with more
//! seeds has a new run set, and its group is decided anew from complete information (a run the old
//! decision stopped is ranked by its best up to its decision point, and continued if it now ranks among
//! the kept). Decisions of an earlier run set are moved to `early-stopping/superseded/`.

use crate::error::{io, Result, StudyError};
use crate::plan::PlannedRun;
use crate::store::{hostname, now, Store};
use serde::{Deserialize, Serialize};
use stabletune_train::run_dir::read_evaluations;
use stabletune_train::trainer::read_summary;
use stabletune_train::{Status, Summary};
use std::path::{Path, PathBuf};
use toml::Value;

/// `[early_stopping]` of a study file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EarlyStopping {
    /// Runs started per group (the study's seeds).
    pub start: usize,
    /// Runs trained to the end per group.
    pub keep: usize,
    /// Fraction of the updates after which to decide.
    pub at: f64,
    /// Evaluations per epoch of every run.
    pub evals_per_epoch: usize,
}

impl EarlyStopping {
    /// Parses the table; `seeds` is the number of runs per group the study starts.
    pub fn parse(path: &Path, value: &Value, seeds: usize) -> Result<EarlyStopping> {
        let bad = |m: String| StudyError::Spec {
            path: path.to_path_buf(),
            message: format!("[early_stopping] {m}"),
        };
        let Value::Table(t) = value else { return Err(bad("expected a table".into())) };
        let count = |k: &str| -> Result<usize> {
            match t.get(k) {
                Some(Value::Integer(i)) if *i > 0 => Ok(*i as usize),
                Some(v) => Err(bad(format!("{k}: expected a positive number, got {v}"))),
                None => Err(bad(format!("needs {k}"))),
            }
        };
        if let Some(k) = t.keys().find(|k| !["start", "keep", "at", "evals_per_epoch"].contains(&k.as_str()))
        {
            return Err(bad(format!("unknown key {k:?} (start, keep, at, evals_per_epoch)")));
        }
        let at = match t.get("at") {
            Some(Value::Float(x)) if *x > 0.0 && *x < 1.0 => *x,
            Some(v) => return Err(bad(format!("at: expected a fraction in (0, 1), got {v}"))),
            None => return Err(bad("needs at".into())),
        };
        let es = EarlyStopping {
            start: count("start")?,
            keep: count("keep")?,
            at,
            evals_per_epoch: count("evals_per_epoch")?,
        };
        if es.start != seeds {
            return Err(bad(format!(
                "start = {} but the study starts {seeds} runs per configuration (its seeds); make them agree",
                es.start
            )));
        }
        if es.keep >= es.start {
            return Err(bad(format!("keep = {} must be below start = {}", es.keep, es.start)));
        }
        Ok(es)
    }
}

/// The runs of one group, in study order.
#[derive(Clone, Debug)]
pub struct Group {
    /// The decision file's stem.
    pub key: String,
    pub task: String,
    pub configuration: String,
    pub runs: Vec<usize>,
}

/// A group's name in file names: its task and configuration, anything but letters, digits and dots as `-`
/// (early-stopping decisions, restart slots).
pub fn group_key(run: &PlannedRun) -> String {
    format!("{}-{}", run.task, run.configuration)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' })
        .collect()
}

/// Groups runs by task and configuration.
pub fn groups(runs: &[PlannedRun]) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        match out.iter_mut().find(|g| g.task == r.task && g.configuration == r.configuration) {
            Some(g) => g.runs.push(i),
            None => {
                out.push(Group {
                    key: group_key(r),
                    task: r.task.clone(),
                    configuration: r.configuration.clone(),
                    runs: vec![i],
                });
            }
        }
    }
    out
}

/// A run's place in the ranking at the decision point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub run: String,
    /// Its best headline metric over the evaluations after step 0 up to the decision point.
    pub best_so_far: f64,
    pub rank: usize,
}

/// A run that failed before the decision point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedEarly {
    pub run: String,
    pub step: u64,
    pub reason: String,
}

/// A group's decision, as written to `early-stopping/<group>@<fingerprint>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub task: String,
    pub configuration: String,
    /// The group's runs it was taken over, in study order (empty in decisions of earlier versions).
    #[serde(default)]
    pub runs: Vec<String>,
    pub start: usize,
    pub keep: usize,
    pub at: f64,
    pub decision_step: u64,
    pub total_steps: u64,
    pub headline_metric: String,
    /// Best first; ties go to the run earlier in the study.
    pub ranking: Vec<Ranked>,
    pub continued: Vec<String>,
    pub stopped: Vec<String>,
    pub failed_before: Vec<FailedEarly>,
    pub decided_at: u64,
    pub decided_by: String,
}

/// What a run's files say, for the schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum RunState {
    /// Not started, training, or interrupted before the decision point.
    Before,
    /// Paused at its first evaluation at or after the decision point, with its best so far.
    AtDecision { step: u64, best_so_far: f64, total_steps: u64 },
    /// Fell to the majority baseline after having been above it, before the decision point.
    Collapsed { step: u64 },
    /// Ended: completed, diverged or stopped.
    Ended(Box<Summary>),
}

/// Whether a run with these evaluations (after step 0) has fallen to the baseline: counting only
/// evaluations after the warmup (during it a run often sits at the majority class and leaves it again),
/// its latest is at or below the baseline and an earlier one was above it.
pub fn collapsed(evals: &[(u64, f64)], baseline: Option<f64>, warmup_steps: u64) -> bool {
    let Some(b) = baseline else { return false };
    let after: Vec<(u64, f64)> = evals.iter().copied().filter(|e| e.0 > warmup_steps).collect();
    match after.split_last() {
        Some((last, earlier)) => last.1 <= b && earlier.iter().any(|e| e.1 > b),
        None => false,
    }
}

/// The pause point: the first evaluation at or after `at` of the updates.
pub fn at_decision_point(step: u64, total_steps: u64, at: f64) -> bool {
    step > 0 && step as f64 >= at * total_steps as f64
}

pub fn run_state(dir: &Path, es: &EarlyStopping) -> RunState {
    let Some(s) = read_summary(dir) else { return RunState::Before };
    if s.status.is_ended() {
        return RunState::Ended(Box::new(s));
    }
    let evals = read_evaluations(dir, &s.headline_metric);
    let Some(&(last, _)) = evals.last().filter(|e| e.0 == s.steps) else { return RunState::Before };
    if at_decision_point(last, s.total_steps, es.at) {
        let best_so_far = evals.iter().map(|e| e.1).fold(f64::NEG_INFINITY, f64::max);
        return RunState::AtDecision { step: last, best_so_far, total_steps: s.total_steps };
    }
    if collapsed(&evals, s.majority_baseline, s.warmup_steps) {
        return RunState::Collapsed { step: last };
    }
    RunState::Before
}

/// The group's run ids, in study order.
fn run_ids(runs: &[PlannedRun], group: &Group) -> Vec<String> {
    group.runs.iter().map(|&i| runs[i].id.clone()).collect()
}

/// The decision file of the group as it is now: named by what a decision is taken over.
pub fn decision_path(store: &Store, runs: &[PlannedRun], group: &Group, es: &EarlyStopping) -> PathBuf {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for id in run_ids(runs, group) {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    h.update(format!("start={} keep={} at={}", es.start, es.keep, es.at).as_bytes());
    let hex: String = h.finalize().iter().take(4).map(|b| format!("{b:02x}")).collect();
    store.root.join("early-stopping").join(format!("{}@{hex}.json", group.key))
}

/// The group's decision, when one was taken over exactly its current runs and plan.
pub fn read_decision(
    store: &Store,
    runs: &[PlannedRun],
    group: &Group,
    es: &EarlyStopping,
) -> Option<Decision> {
    let text = std::fs::read_to_string(decision_path(store, runs, group, es)).ok()?;
    let d: Decision = serde_json::from_str(&text).ok()?;
    (d.runs == run_ids(runs, group) && d.start == es.start && d.keep == es.keep && d.at == es.at).then_some(d)
}

/// Moves the group's decisions of an earlier run set or plan aside, so that the report and readers see
/// only the one that stands. Several workers may do it at once: a rename that fails was someone else's.
fn supersede_others(store: &Store, group: &Group, current: &Path) {
    let dir = store.root.join("early-stopping");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let aside = dir.join("superseded");
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name == format!("{}.json", group.key)
            || (name.starts_with(&format!("{}@", group.key)) && name.ends_with(".json"));
        if ours && e.path() != current {
            let _ = std::fs::create_dir_all(&aside);
            let _ = std::fs::rename(e.path(), aside.join(&name));
        }
    }
}

/// Marks an interrupted run as stopped by the schedule (`failed`: it fell to the baseline), keeping its
/// checkpoint. Nothing happens to a run that has ended otherwise.
pub fn stop_run(store: &Store, id: &str, failed: bool) -> Result<()> {
    let dir = store.run_dir(id);
    let Some(mut s) = read_summary(&dir) else { return Ok(()) };
    if s.status != Status::Interrupted {
        return Ok(());
    }
    s.status = Status::StoppedBySchedule;
    s.failed = failed.then_some(true);
    let text = serde_json::to_string_pretty(&s).expect("a summary serialises") + "\n";
    // Several workers may apply one decision at once: each writes its own temporary file, and the renames
    // (of the same content) replace one another atomically.
    stabletune_model::checkpoint::write_atomic(&dir.join("summary.json"), text.as_bytes())?;
    Ok(())
}

/// Undoes a stop of the schedule: a run stopped by an earlier decision that a new one (over an extended
/// run set) keeps is made resumable again.
fn resume_run(store: &Store, id: &str) -> Result<()> {
    let dir = store.run_dir(id);
    let Some(mut s) = read_summary(&dir) else { return Ok(()) };
    if s.status != Status::StoppedBySchedule || s.failed == Some(true) {
        return Ok(());
    }
    s.status = Status::Interrupted;
    s.failed = None;
    let text = serde_json::to_string_pretty(&s).expect("a summary serialises") + "\n";
    stabletune_model::checkpoint::write_atomic(&dir.join("summary.json"), text.as_bytes())?;
    Ok(())
}

/// Applies a decision: its stopped runs get `stopped_by_schedule`, its early failures too (as failed),
/// and a kept run that an earlier decision had stopped is resumable again.
pub fn apply(store: &Store, d: &Decision) -> Result<()> {
    for id in &d.continued {
        resume_run(store, id)?;
    }
    for id in &d.stopped {
        stop_run(store, id, false)?;
    }
    for f in &d.failed_before {
        stop_run(store, &f.run, true)?;
    }
    Ok(())
}

/// The group's decision: read (and applied) when it exists; else taken and written when every run is at
/// the decision point or has failed; else `None` (some run has not got there yet).
pub fn decide(
    store: &Store,
    runs: &[PlannedRun],
    group: &Group,
    es: &EarlyStopping,
) -> Result<Option<Decision>> {
    if let Some(d) = read_decision(store, runs, group, es) {
        apply(store, &d)?;
        return Ok(Some(d));
    }
    let mut candidates: Vec<(usize, &PlannedRun, f64)> = Vec::new();
    let mut failed_before = Vec::new();
    let (mut decision_step, mut total_steps) = (0, 0);
    for (order, &i) in group.runs.iter().enumerate() {
        let run = &runs[i];
        match run_state(&store.run_dir(&run.id), es) {
            RunState::Before => return Ok(None),
            RunState::AtDecision { step, best_so_far, total_steps: t } => {
                candidates.push((order, run, best_so_far));
                decision_step = decision_step.max(step);
                total_steps = total_steps.max(t);
            }
            RunState::Collapsed { step } => failed_before.push(FailedEarly {
                run: run.id.clone(),
                step,
                reason: "fell to the majority baseline".into(),
            }),
            RunState::Ended(s) => match s.status {
                Status::Diverged => failed_before.push(FailedEarly {
                    run: run.id.clone(),
                    step: s.steps,
                    reason: "diverged".into(),
                }),
                Status::StoppedBySchedule if s.failed == Some(true) => failed_before.push(FailedEarly {
                    run: run.id.clone(),
                    step: s.steps,
                    reason: "fell to the majority baseline".into(),
                }),
                // Ended before the decision point (its own early stopping), or ended under an earlier
                // decision over fewer runs: ranked by its best up to its decision point, as every other.
                _ => {
                    let evals = read_evaluations(&store.run_dir(&run.id), &s.headline_metric);
                    let cut = evals.iter().position(|e| at_decision_point(e.0, s.total_steps, es.at));
                    let upto = cut.map_or(evals.len(), |c| c + 1);
                    let best = evals[..upto].iter().map(|e| e.1).fold(f64::NEG_INFINITY, f64::max);
                    candidates.push((order, run, best));
                    total_steps = total_steps.max(s.total_steps);
                }
            },
        }
    }
    // Best first; a stable sort keeps the study order among equals.
    candidates.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    let ranking: Vec<Ranked> = candidates
        .iter()
        .enumerate()
        .map(|(rank, (_, r, best))| Ranked { run: r.id.clone(), best_so_far: *best, rank: rank + 1 })
        .collect();
    let headline = runs[group.runs[0]].config.metric.map(|m| m.name().to_string());
    let headline = headline.unwrap_or_else(|| {
        group
            .runs
            .iter()
            .find_map(|&i| read_summary(&store.run_dir(&runs[i].id)).map(|s| s.headline_metric))
            .unwrap_or_default()
    });
    let d = Decision {
        task: group.task.clone(),
        configuration: group.configuration.clone(),
        runs: run_ids(runs, group),
        start: es.start,
        keep: es.keep,
        at: es.at,
        decision_step,
        total_steps,
        headline_metric: headline,
        continued: ranking.iter().take(es.keep).map(|r| r.run.clone()).collect(),
        stopped: ranking.iter().skip(es.keep).map(|r| r.run.clone()).collect(),
        ranking,
        failed_before,
        decided_at: now(),
        decided_by: format!("{}:{}", hostname(), std::process::id()),
    };
    let path = decision_path(store, runs, group, es);
    let written = write_once(&path, &d)?;
    supersede_others(store, group, &path);
    apply(store, &written)?;
    Ok(Some(written))
}

/// Writes `d` to `path` unless a decision is there already; returns the decision that stands.
fn write_once(path: &Path, d: &Decision) -> Result<Decision> {
    let dir = path.parent().expect("a decision file has a folder");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // Workers of one process, or of several, may decide at the same moment: each writes its own file.
    let tmp = stabletune_model::checkpoint::temporary_beside(path);
    let text = serde_json::to_string_pretty(d).expect("a decision serialises") + "\n";
    stabletune_model::checkpoint::write_atomic(&tmp, text.as_bytes())?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(d.clone()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(io(path))?;
            serde_json::from_str(&text).map_err(|e| StudyError::Other(format!("{}: {e}", path.display())))
        }
        Err(e) => Err(StudyError::Io { path: path.to_path_buf(), source: e }),
    }
}

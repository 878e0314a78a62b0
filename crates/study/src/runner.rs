//! Workers: threads of one process, each with its own thread pool, that claim the study's unfinished runs
//! one at a time and train them (resuming any that has a checkpoint). Several processes, on one machine or
//! many, may run workers on the same study; claims keep them apart.
//!
//! A shard is a starting split, not ownership: a process trains its shard's runs first, then any other
//! run of the study that no live process holds, so shards run one after another (an array behind a job
//! cap) or a lost shard still finish the study. A worker with nothing to claim waits while runs of its
//! shard are held elsewhere or wait for an early-stopping decision, watching their claims (a silent one
//! is taken over); when nothing it waits for has moved for `max_wait`, it stops and says what it waited
//! for, and the same command later goes on.

use crate::early_stop::{self, at_decision_point, EarlyStopping, Group, RunState};
use crate::error::{Result, StudyError};
use crate::fence::Fence;
use crate::plan::PlannedRun;
use crate::restarts;
use crate::store::{Beat, ClaimInfo, Claimant, Store};
use crate::waiting::{keep_waiting, Wait, WaitOutcome};
use stabletune_train::metrics::Metrics;
use stabletune_train::run_dir::WriteFence;
use stabletune_train::trainer::train_cached;
use stabletune_train::trainer::{Observer, StepRecord};
use stabletune_train::{Status, Summary, TrainError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which runs this process works on: those whose index in the study, modulo `count`, is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// `i/n`, 0-based.
    pub fn parse(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("shard {s:?}: expected i/n with 0 <= i < n, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard of a Slurm job-array task (`SLURM_ARRAY_TASK_ID` from `SLURM_ARRAY_TASK_MIN`, of
    /// `SLURM_ARRAY_TASK_COUNT`) or of a Kubernetes indexed job (`JOB_COMPLETION_INDEX` of
    /// `JOB_COMPLETIONS`), when the environment has one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> std::result::Result<Option<Shard>, String> {
        let num = |k: &str| -> std::result::Result<Option<usize>, String> {
            var(k)
                .map(|v| v.trim().parse::<usize>().map_err(|_| format!("{k}={v:?} is not a number")))
                .transpose()
        };
        let found = match (num("SLURM_ARRAY_TASK_ID")?, num("SLURM_ARRAY_TASK_COUNT")?) {
            (Some(id), Some(count)) => Some((id - num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0).min(id), count)),
            _ => match (num("JOB_COMPLETION_INDEX")?, num("JOB_COMPLETIONS")?) {
                (Some(i), Some(n)) => Some((i, n)),
                _ => None,
            },
        };
        match found {
            Some((index, count)) if count > 0 && index < count => Ok(Some(Shard { index, count })),
            Some((index, count)) => Err(format!("array task {index} of {count} is not a shard")),
            None => Ok(None),
        }
    }

    pub fn contains(&self, run_index: usize) -> bool {
        run_index % self.count == self.index
    }
}

pub struct RunnerOptions {
    pub workers: usize,
    pub threads_per_worker: usize,
    pub shard: Option<Shard>,
    pub stale_after: u64,
    /// Set (by Ctrl-C or SIGTERM) to stop: each worker's run checkpoints and stops after its update.
    pub stop: Arc<AtomicBool>,
    pub heartbeat_every: Duration,
    /// The study's early-stopping schedule, if any.
    pub early_stopping: Option<EarlyStopping>,
    /// `sentinel = "restart"`: runs the sentinel stops are replaced from the study's reserve runs.
    pub restart: bool,
    /// The longest a worker waits, with nothing to claim, for runs of its shard held elsewhere or for a
    /// decision, while nothing it waits for moves.
    pub max_wait: Duration,
}

/// What workers report, for progress displays.
#[derive(Clone, Debug)]
pub enum Event {
    Started {
        worker: usize,
        id: String,
        resumed: bool,
    },
    Step {
        worker: usize,
        id: String,
        record: StepRecord,
    },
    Eval {
        worker: usize,
        id: String,
        step: u64,
        value: f64,
        headline: String,
    },
    Finished {
        worker: usize,
        id: String,
        summary: Box<Summary>,
    },
    /// A run paused at its group's decision point (or stopped, having fallen to the baseline before it).
    Paused {
        worker: usize,
        id: String,
        step: u64,
        collapsed: bool,
    },
    /// A group's early-stopping decision.
    Decided {
        group: String,
        continued: usize,
        stopped: usize,
        failed: usize,
    },
    /// Nothing to claim while runs of this shard are held elsewhere or wait for a decision.
    Waiting {
        worker: usize,
        runs: usize,
    },
    /// A run the failure sentinel stopped was replaced by a reserve run with the next seed.
    Restarted {
        worker: usize,
        replaced: String,
        replacement: String,
    },
    /// The failure sentinel flagged a run (`flag`: it trains on; `stop`/`restart`: it ends).
    Flagged {
        worker: usize,
        id: String,
        warning: Box<stabletune_train::sentinel::Warning>,
    },
    /// This process's claim on a run was taken over while it was stalled; it left the run to the new
    /// holder without writing more.
    Abandoned {
        worker: usize,
        id: String,
    },
}

/// What this process did.
#[derive(Debug, Default)]
pub struct RunnerReport {
    /// Runs this process finished.
    pub finished: Vec<String>,
    /// Runs stopped by Ctrl-C or SIGTERM, resumable.
    pub interrupted: Vec<String>,
    /// Runs whose claim another process took over while this one was stalled.
    pub abandoned: Vec<String>,
    /// When the workers stopped waiting: each run of the shard still not ended, and what it waits for.
    pub incomplete: Vec<String>,
    /// A full disk or quota stopped the study: the error, and the run it hit (its last checkpoint kept).
    pub disk_full: Option<String>,
}

/// A run this process holds: its claim, its beat, and the fence its writes go through.
struct Held {
    claim: ClaimInfo,
    beat: Beat,
    fence: Arc<Fence>,
}

struct WorkerObserver<'a> {
    worker: usize,
    id: String,
    held: &'a Mutex<HashMap<String, Held>>,
    fence: Arc<Fence>,
    stop: &'a AtomicBool,
    on_event: &'a (dyn Fn(Event) + Sync),
    pause: Option<PauseRule>,
}

/// When a run of a group still to be decided pauses: at its first evaluation at or after `at` of its
/// updates, or at once when it falls to the majority baseline ([`early_stop::collapsed`], the rule the
/// schedule applies to the run's files).
struct PauseRule {
    at: f64,
    baseline: Option<f64>,
    /// Its evaluations after step 0 (those before a resume included).
    evals: Vec<(u64, f64)>,
    total_steps: u64,
    warmup_steps: u64,
    /// Set when it pauses: whether it fell to the baseline, and at which step.
    paused: Option<(bool, u64)>,
}

impl Observer for WorkerObserver<'_> {
    fn on_baseline(&mut self, baseline: Option<f64>) {
        if let Some(p) = &mut self.pause {
            p.baseline = baseline;
        }
    }

    fn on_start(&mut self, _step: u64, total_steps: u64, warmup_steps: u64) {
        if let Some(p) = &mut self.pause {
            (p.total_steps, p.warmup_steps) = (total_steps, warmup_steps);
        }
    }

    fn on_step(&mut self, record: &StepRecord) {
        if let Some(h) = self.held.lock().expect("claims lock").get_mut(&self.id) {
            (h.beat.step, h.beat.total_steps) = (record.step, record.total_steps);
        }
        (self.on_event)(Event::Step { worker: self.worker, id: self.id.clone(), record: record.clone() });
    }

    fn on_eval(&mut self, step: u64, metrics: &Metrics, headline: &str) {
        let value = metrics.get(headline).copied().unwrap_or(f64::NAN);
        if let Some(p) = self.pause.as_mut().filter(|p| p.paused.is_none() && step > 0) {
            p.evals.push((step, value));
            if at_decision_point(step, p.total_steps, p.at) {
                p.paused = Some((false, step));
            } else if early_stop::collapsed(&p.evals, p.baseline, p.warmup_steps) {
                p.paused = Some((true, step));
            }
        }
        let headline = headline.to_string();
        (self.on_event)(Event::Eval { worker: self.worker, id: self.id.clone(), step, value, headline });
    }

    fn on_sentinel(&mut self, warning: &stabletune_train::sentinel::Warning) {
        // The next beat carries the flag, so `study status` shows it while the run trains on (`flag`).
        if let Some(h) = self.held.lock().expect("claims lock").get_mut(&self.id) {
            h.beat.flagged_at = Some(warning.step);
        }
        let warning = Box::new(warning.clone());
        (self.on_event)(Event::Flagged { worker: self.worker, id: self.id.clone(), warning });
    }

    fn write_fence(&self) -> Option<WriteFence> {
        let fence = self.fence.clone();
        Some(Arc::new(move || fence.allows()))
    }

    fn should_stop(&mut self) -> bool {
        self.stop.load(Ordering::SeqCst)
            || self.fence.lost()
            || self.pause.as_ref().is_some_and(|p| p.paused.is_some())
    }
}

/// Trains every unfinished run of `runs` that no live worker holds, this shard's first.
pub fn run_workers(
    store: &Store,
    runs: &[PlannedRun],
    opts: &RunnerOptions,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<RunnerReport> {
    let me = Claimant::this_process();
    let held: Mutex<HashMap<String, Held>> = Mutex::new(HashMap::new());
    let report = Mutex::new(RunnerReport::default());
    let failure: Mutex<Option<StudyError>> = Mutex::new(None);
    let workers_done = AtomicBool::new(false);
    // Set when the workers stop taking runs: waited past the bound, or a full disk.
    let give_up = AtomicBool::new(false);
    let wait = Mutex::new(Wait { key: 0, since: Instant::now() });
    let groups = if opts.early_stopping.is_some() { early_stop::groups(runs) } else { Vec::new() };
    std::thread::scope(|scope| {
        // The heartbeat of every claim this process holds, with each run's progress. Timed on the monotonic
        // clock, so the first beat after a stall comes at once.
        scope.spawn(|| {
            let mut last = Instant::now();
            while !workers_done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() < opts.heartbeat_every {
                    continue;
                }
                last = Instant::now();
                let mut claims = held.lock().expect("claims lock");
                for (id, h) in claims.iter_mut().filter(|(_, h)| !h.fence.lost()) {
                    match store.heartbeat(id, &h.claim, &mut h.beat) {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(
                                "{id}: the claim was taken over by another process; stopping this run"
                            );
                            h.fence.mark_lost();
                        }
                        Err(e) => tracing::warn!("{id}: heartbeat failed: {e}"),
                    }
                }
            }
        });
        let handles: Vec<_> = (0..opts.workers.max(1))
            .map(|worker| {
                let (me, held, report, failure, groups, give_up, wait) =
                    (&me, &held, &report, &failure, &groups, &give_up, &wait);
                scope.spawn(move || {
                    let pool = stabletune_engine::par::thread_pool(opts.threads_per_worker);
                    let go_on = || {
                        !opts.stop.load(Ordering::SeqCst)
                            && !give_up.load(Ordering::SeqCst)
                            && failure.lock().expect("lock").is_none()
                    };
                    while go_on() {
                        let next = match claim_next(store, runs, opts, me, worker, groups, on_event) {
                            Ok(Some(next)) => next,
                            Ok(None) => {
                                match keep_waiting(store, runs, opts, groups, on_event, wait) {
                                    Ok(WaitOutcome::Done) => break,
                                    Ok(WaitOutcome::Wait(n)) => {
                                        on_event(Event::Waiting { worker, runs: n });
                                        for _ in 0..10 {
                                            if !go_on() {
                                                break;
                                            }
                                            std::thread::sleep(Duration::from_millis(100));
                                        }
                                    }
                                    Ok(WaitOutcome::GiveUp(blocked)) => {
                                        let mut r = report.lock().expect("lock");
                                        if r.incomplete.is_empty() {
                                            r.incomplete = blocked;
                                        }
                                        give_up.store(true, Ordering::SeqCst);
                                    }
                                    Err(e) => *failure.lock().expect("lock") = Some(e),
                                }
                                continue;
                            }
                            Err(e) => {
                                *failure.lock().expect("lock") = Some(e);
                                break;
                            }
                        };
                        // Something to do: the wait, if any, is over.
                        *wait.lock().expect("lock") = Wait { key: 0, since: Instant::now() };
                        let (run, claim) = next;
                        let fence = Arc::new(Fence::new(store.claim_file(&run.id), claim.clone()));
                        held.lock().expect("claims lock").insert(
                            run.id.clone(),
                            Held { claim: claim.clone(), beat: Beat::default(), fence: fence.clone() },
                        );
                        let dir = store.run_dir(&run.id);
                        let resumed = dir.join("config.toml").exists();
                        on_event(Event::Started { worker, id: run.id.clone(), resumed });
                        let pause = pause_rule(store, runs, opts, groups, run, &dir);
                        let mut observer = WorkerObserver {
                            worker,
                            id: run.id.clone(),
                            held,
                            fence: fence.clone(),
                            stop: &opts.stop,
                            on_event,
                            pause,
                        };
                        let cache = store.root.join("cache");
                        let result = pool.install(|| {
                            train_cached(&run.config, &dir, resumed, &mut observer, Some(&cache))
                        });
                        held.lock().expect("claims lock").remove(&run.id);
                        let paused = observer.pause.as_ref().and_then(|p| p.paused);
                        if fence.lost() || matches!(result, Err(TrainError::Abandoned { .. })) {
                            // Another process holds the run now: nothing more is written, nothing released.
                            report.lock().expect("lock").abandoned.push(run.id.clone());
                            on_event(Event::Abandoned { worker, id: run.id.clone() });
                            continue;
                        }
                        store.release(&run.id, &claim);
                        match result {
                            Ok(summary) if summary.status == Status::Interrupted && paused.is_some() => {
                                let (collapsed, step) = paused.expect("paused");
                                let decided = (|| -> Result<()> {
                                    if collapsed {
                                        early_stop::stop_run(store, &run.id, true)?;
                                    }
                                    on_event(Event::Paused { worker, id: run.id.clone(), step, collapsed });
                                    decide_all(store, runs, opts, groups, on_event)
                                })();
                                if let Err(e) = decided {
                                    *failure.lock().expect("lock") = Some(e);
                                }
                            }
                            Ok(summary) => {
                                let mut r = report.lock().expect("lock");
                                if summary.status == Status::Interrupted {
                                    r.interrupted.push(run.id.clone());
                                } else {
                                    r.finished.push(run.id.clone());
                                }
                                drop(r);
                                on_event(Event::Finished {
                                    worker,
                                    id: run.id.clone(),
                                    summary: Box::new(summary),
                                });
                            }
                            Err(e) if e.is_disk_full() => {
                                // Every other run would fail the same way: stop taking runs, and let the
                                // ones under way checkpoint and stop (their last good checkpoints stay).
                                let mut r = report.lock().expect("lock");
                                r.disk_full.get_or_insert_with(|| {
                                    format!("run {} ({}): {e}", run.id, dir.display())
                                });
                                r.interrupted.push(run.id.clone());
                                give_up.store(true, Ordering::SeqCst);
                                opts.stop.store(true, Ordering::SeqCst);
                            }
                            Err(e) => {
                                let message = format!("run {} ({}): {e}", run.id, dir.display());
                                *failure.lock().expect("lock") = Some(StudyError::Other(message));
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
        workers_done.store(true, Ordering::SeqCst);
    });
    if let Some(e) = failure.into_inner().expect("lock") {
        return Err(e);
    }
    Ok(report.into_inner().expect("lock"))
}

/// The next run to train: this shard's first, in study order, then any other run of the study, that has
/// not ended, that the schedule lets train, and that this worker can claim (free, or held by a claim
/// gone stale).
fn claim_next<'r>(
    store: &Store,
    runs: &'r [PlannedRun],
    opts: &RunnerOptions,
    me: &Claimant,
    worker: usize,
    groups: &[Group],
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Option<(&'r PlannedRun, ClaimInfo)>> {
    let mine = |i: usize| opts.shard.is_none_or(|s| s.contains(i));
    let order = (0..runs.len()).filter(|&i| mine(i)).chain((0..runs.len()).filter(|&i| !mine(i)));
    for i in order {
        let run = &runs[i];
        if restarts::dormant(store, run) {
            continue;
        }
        if let Some(summary) = store.finished(&run.id) {
            // Stopped by the sentinel in a study that restarts: replaced by whoever holds its claim (the worker
            // that trained it, or after a kill whoever comes next), so it is replaced exactly once.
            if opts.restart && restarts::needs_restart(store, runs, run, &summary) {
                if let Some(claim) = store.try_claim(&run.id, me, worker, opts.stale_after)? {
                    let slot = restarts::restart(store, runs, run);
                    store.release(&run.id, &claim);
                    if let Some(slot) = slot? {
                        on_event(Event::Restarted {
                            worker,
                            replaced: slot.replaced,
                            replacement: slot.replacement,
                        });
                    }
                }
                continue;
            }
            // A holder killed between writing the summary and releasing its claim left the claim behind.
            if store.claim_file(&run.id).exists() {
                store.sweep_ended(&run.id, me, opts.stale_after);
            }
            continue;
        }
        if !schedule_allows(store, runs, opts, groups, i)? {
            continue;
        }
        if let Some(claim) = store.try_claim(&run.id, me, worker, opts.stale_after)? {
            // It may have finished between the check and the claim.
            if store.finished(&run.id).is_some() {
                store.release(&run.id, &claim);
                continue;
            }
            return Ok(Some((run, claim)));
        }
    }
    Ok(None)
}

/// Whether the early-stopping schedule lets run `i` train now: not while it waits at the decision point
/// for its group's decision, nor once it fell to the baseline (it is then stopped here) or was stopped.
fn schedule_allows(
    store: &Store,
    runs: &[PlannedRun],
    opts: &RunnerOptions,
    groups: &[Group],
    i: usize,
) -> Result<bool> {
    let (Some(es), Some(group)) = (&opts.early_stopping, groups.iter().find(|g| g.runs.contains(&i))) else {
        return Ok(true);
    };
    if let Some(d) = early_stop::read_decision(store, runs, group, es) {
        early_stop::apply(store, &d)?;
        return Ok(d.continued.contains(&runs[i].id));
    }
    match early_stop::run_state(&store.run_dir(&runs[i].id), es) {
        RunState::Before => Ok(true),
        RunState::Collapsed { .. } => {
            early_stop::stop_run(store, &runs[i].id, true)?;
            Ok(false)
        }
        RunState::AtDecision { .. } | RunState::Ended(_) => Ok(false),
    }
}

/// How a run of `run`'s group pauses (`None`: it trains to the end: no early stopping, or decided).
fn pause_rule(
    store: &Store,
    runs: &[PlannedRun],
    opts: &RunnerOptions,
    groups: &[Group],
    run: &PlannedRun,
    dir: &std::path::Path,
) -> Option<PauseRule> {
    let es = opts.early_stopping.as_ref()?;
    let i = runs.iter().position(|r| r.id == run.id)?;
    let group = groups.iter().find(|g| g.runs.contains(&i))?;
    if early_stop::read_decision(store, runs, group, es).is_some() {
        return None;
    }
    // A resumed run's evaluations up to its checkpoint count: it may already have been above the
    // baseline. (Later ones in the log are dropped by the resume, which repeats them.)
    let evals = match stabletune_train::trainer::read_summary(dir) {
        Some(s) => stabletune_train::run_dir::read_evaluations(dir, &s.headline_metric)
            .into_iter()
            .filter(|e| e.0 <= s.steps)
            .collect(),
        None => Vec::new(),
    };
    Some(PauseRule { at: es.at, baseline: None, evals, total_steps: 0, warmup_steps: 0, paused: None })
}

/// Takes every decision that can be taken.
pub(crate) fn decide_all(
    store: &Store,
    runs: &[PlannedRun],
    opts: &RunnerOptions,
    groups: &[Group],
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<()> {
    let Some(es) = &opts.early_stopping else { return Ok(()) };
    for g in groups {
        let existed = early_stop::read_decision(store, runs, g, es).is_some();
        if let Some(d) = early_stop::decide(store, runs, g, es)? {
            if !existed {
                on_event(Event::Decided {
                    group: g.key.clone(),
                    continued: d.continued.len(),
                    stopped: d.stopped.len(),
                    failed: d.failed_before.len(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_from_flags_and_environments() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        assert!(Shard::parse("3/3").is_err() && Shard::parse("x").is_err());
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(Shard::from_env(slurm), Ok(Some(Shard { index: 1, count: 3 })));
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2"), ("JOB_COMPLETIONS", "4")]);
        assert_eq!(Shard::from_env(k8s), Ok(Some(Shard { index: 2, count: 4 })));
        assert_eq!(Shard::from_env(env(&[])), Ok(None));
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "4"), ("JOB_COMPLETIONS", "4")])).is_err());
        let s = Shard { index: 1, count: 3 };
        assert_eq!((0..7).filter(|&i| s.contains(i)).collect::<Vec<_>>(), vec![1, 4]);
    }
}

//! A worker with nothing to claim: which runs of its shard are still open and why (held by another
//! process, an unreadable claim, waiting at the decision point for runs that have not got there), and
//! whether to wait for them. The wait is bounded by what moves: a key made of what is waited for (each
//! holder's beat, each run's state) restarts the clock whenever it changes, and once nothing has moved for
//! `max_wait` the worker gives up, naming every open run and what it waits for.

use crate::early_stop::{self, Group, RunState};
use crate::error::Result;
use crate::plan::PlannedRun;
use crate::runner::{decide_all, Event, RunnerOptions};
use crate::store::{Claim, Store};
use std::sync::Mutex;
use std::time::Instant;

/// What the workers of a process share while they wait: the last state of what they wait for, and since
/// when (monotonic) it has not changed.
pub(crate) struct Wait {
    pub key: u64,
    pub since: Instant,
}

pub(crate) enum WaitOutcome {
    /// Every run of the shard has ended.
    Done,
    /// Runs of the shard (this many) are held elsewhere or wait for a decision: look again soon.
    Wait(usize),
    /// Nothing waited for has moved for `max_wait`: each run still open, and why.
    GiveUp(Vec<String>),
}

/// With nothing to claim: whether runs of this shard are still open, and whether to wait for them.
pub(crate) fn keep_waiting(
    store: &Store,
    runs: &[PlannedRun],
    opts: &RunnerOptions,
    groups: &[Group],
    on_event: &(dyn Fn(Event) + Sync),
    wait: &Mutex<Wait>,
) -> Result<WaitOutcome> {
    decide_all(store, runs, opts, groups, on_event)?;
    let blocked = open_runs(store, runs, opts, groups);
    if blocked.is_empty() {
        return Ok(WaitOutcome::Done);
    }
    // What is waited for, as a key: a beat, a run reaching its decision point or a decision changes it.
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (id, why) in &blocked {
            (id, why.moved).hash(&mut h);
        }
        h.finish()
    };
    let mut w = wait.lock().expect("lock");
    if w.key != key {
        *w = Wait { key, since: Instant::now() };
    }
    if w.since.elapsed() >= opts.max_wait {
        return Ok(WaitOutcome::GiveUp(
            blocked.into_iter().map(|(id, why)| format!("{id}: {}", why.text)).collect(),
        ));
    }
    Ok(WaitOutcome::Wait(blocked.len()))
}

/// Why an open run of the shard cannot be trained by this process now.
struct Why {
    /// Shown to the user.
    text: String,
    /// What changes when the run moves (its holder's beat, its state), for the wait's key.
    moved: u64,
}

/// The runs of this shard that have not ended, each with why it is not being trained here.
fn open_runs(
    store: &Store,
    runs: &[PlannedRun],
    opts: &RunnerOptions,
    groups: &[Group],
) -> Vec<(String, Why)> {
    let mut out = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        if opts.shard.is_some_and(|s| !s.contains(i))
            || !crate::restarts::is_open(store, runs, run, opts.restart)
        {
            continue;
        }
        let why = match store.claim(&run.id) {
            Claim::Held(c, beat) => {
                let beat = beat.unwrap_or_default();
                Why {
                    text: format!(
                        "held by {}:{} (worker {}), step {}/{}, seen unchanged for {} s",
                        c.host,
                        c.pid,
                        c.worker,
                        beat.step,
                        beat.total_steps,
                        store.unchanged_for(&run.id)
                    ),
                    moved: beat.count ^ c.token,
                }
            }
            Claim::Unreadable(bytes) => Why {
                text: format!(
                    "its claim file is unreadable ({} bytes); taken over once unchanged past the stale limit",
                    bytes.len()
                ),
                moved: bytes.len() as u64,
            },
            Claim::Free => match waiting_for(store, runs, opts, groups, i) {
                Some(text) => {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    text.hash(&mut h);
                    Why { moved: h.finish(), text }
                }
                None => Why { text: "not claimed yet".into(), moved: 0 },
            },
        };
        out.push((run.id.clone(), why));
    }
    out
}

/// For a run at its group's decision point: the runs the decision still waits for.
fn waiting_for(
    store: &Store,
    runs: &[PlannedRun],
    opts: &RunnerOptions,
    groups: &[Group],
    i: usize,
) -> Option<String> {
    let es = opts.early_stopping.as_ref()?;
    let group = groups.iter().find(|g| g.runs.contains(&i))?;
    let pending: Vec<&str> = group
        .runs
        .iter()
        .filter(|&&j| matches!(early_stop::run_state(&store.run_dir(&runs[j].id), es), RunState::Before))
        .map(|&j| runs[j].id.as_str())
        .collect();
    Some(format!(
        "waits at the decision point for the early-stopping decision of {}, which needs {} more run(s) to get there: {}",
        group.key,
        pending.len(),
        pending.join(", ")
    ))
}

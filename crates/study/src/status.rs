//! `stabletune study status`: what is done, running (by whom, since when, at which step), pending and
//! failed, and the time left at the runs' measured speed.

use crate::plan::PlannedRun;
use crate::store::{now, Claim, Claimant, Store};
use serde::Serialize;
use stabletune_train::Status;

#[derive(Clone, Debug, Serialize)]
pub struct Running {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub worker: usize,
    pub since_seconds: u64,
    pub step: u64,
    pub total_steps: u64,
    /// The update at which the failure sentinel flagged the run, if it did.
    pub flagged_at: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StudyStatus {
    pub planned: usize,
    pub completed: usize,
    pub early_stopped: usize,
    pub diverged: usize,
    /// Runs stopped by the study's early-stopping schedule.
    pub stopped_by_schedule: usize,
    /// Runs ended by the failure sentinel (`sentinel = "stop"` or `"restart"`); counted as failed.
    pub stopped_by_sentinel: usize,
    /// Ended runs the sentinel flagged, by id (a run still training shows its flag under `running`).
    pub flagged: Vec<String>,
    /// Replacement runs started for runs the sentinel stopped (`sentinel = "restart"`).
    pub restarted: usize,
    /// Ended runs that failed (at or below the majority baseline, or diverged).
    pub failed: usize,
    pub running: Vec<Running>,
    /// Not ended and not held: never started, interrupted, or held by a worker that is gone.
    pub pending: usize,
    /// Runs whose claim file cannot be read (empty after a crash or a full disk): taken over by a worker
    /// once it has seen the file unchanged past the stale limit.
    pub claim_unreadable: Vec<String>,
    /// Seconds per update measured on the ended runs.
    pub seconds_per_update: Option<f64>,
    pub estimated_seconds_left: Option<f64>,
}

/// The study's status at a glance. A claim's staleness needs watching over time (see [`Store::is_stale`]),
/// so at a glance only a claim of a process known dead counts as gone; `stale_after` is shown with it.
pub fn status(store: &Store, runs: &[PlannedRun], stale_after: u64) -> StudyStatus {
    let me = Claimant::this_process();
    // Reserve runs of `sentinel = "restart"` join the study only when a slot activates them.
    let runs: Vec<&PlannedRun> = runs.iter().filter(|r| !crate::restarts::dormant(store, r)).collect();
    let mut s = StudyStatus { planned: runs.len(), ..Default::default() };
    s.restarted = runs.iter().filter(|r| r.reserve.is_some()).count();
    let (mut seconds, mut updates, mut totals) = (0.0, 0u64, Vec::new());
    let mut left_known = 0u64;
    let mut left_unknown = 0usize;
    for run in runs.iter().copied() {
        if let Some(sum) = store.finished(&run.id) {
            match sum.status {
                Status::Completed => s.completed += 1,
                Status::EarlyStopped => s.early_stopped += 1,
                Status::Diverged => s.diverged += 1,
                Status::StoppedBySchedule => s.stopped_by_schedule += 1,
                Status::StoppedBySentinel => s.stopped_by_sentinel += 1,
                Status::Interrupted => {}
            }
            s.failed += usize::from(sum.failed == Some(true));
            if sum.sentinel_warning.is_some() {
                s.flagged.push(run.id.clone());
            }
            seconds += sum.wall_seconds;
            updates += sum.steps;
            totals.push(sum.total_steps);
            continue;
        }
        let claim = store.claim(&run.id);
        let gone = store.is_stale(&run.id, &claim, &me, stale_after);
        match claim {
            Claim::Held(c, beat) if !gone => {
                let beat = beat.unwrap_or_default();
                if beat.total_steps > 0 {
                    left_known += beat.total_steps.saturating_sub(beat.step);
                } else {
                    left_unknown += 1;
                }
                s.running.push(Running {
                    id: run.id.clone(),
                    host: c.host,
                    pid: c.pid,
                    worker: c.worker,
                    // The holder's clock against this one's: for display only.
                    since_seconds: now().saturating_sub(c.since),
                    step: beat.step,
                    total_steps: beat.total_steps,
                    flagged_at: beat.flagged_at,
                });
            }
            Claim::Unreadable(_) => {
                s.claim_unreadable.push(run.id.clone());
                left_unknown += 1;
            }
            _ => {
                s.pending += 1;
                match stabletune_train::trainer::read_summary(&store.run_dir(&run.id)) {
                    Some(partial) => left_known += partial.total_steps.saturating_sub(partial.steps),
                    None => left_unknown += 1,
                }
            }
        }
    }
    if updates > 0 {
        let per = seconds / updates as f64;
        s.seconds_per_update = Some(per);
        let typical = totals.iter().sum::<u64>() as f64 / totals.len() as f64;
        let left = left_known as f64 + left_unknown as f64 * typical;
        s.estimated_seconds_left = Some(left * per / s.running.len().max(1) as f64);
    }
    s
}

pub fn render(s: &StudyStatus) -> String {
    let mut out = format!(
        "{} runs: {} done ({} completed, {} early-stopped, {} diverged, {} stopped by the schedule, {} stopped by \
         the sentinel; {} failed), {} running, {} pending\n",
        s.planned,
        s.completed + s.early_stopped + s.diverged + s.stopped_by_schedule + s.stopped_by_sentinel,
        s.completed,
        s.early_stopped,
        s.diverged,
        s.stopped_by_schedule,
        s.stopped_by_sentinel,
        s.failed,
        s.running.len(),
        s.pending
    );
    for id in &s.claim_unreadable {
        out += &format!(
            "  claim unreadable {id}: its claim file is empty or damaged; a worker takes the run over once it has \
             seen the file unchanged past the stale limit\n"
        );
    }
    if s.restarted > 0 {
        out += &format!(
            "  {} replacement run(s) for runs the sentinel stopped (sentinel = \"restart\")\n",
            s.restarted
        );
    }
    if !s.flagged.is_empty() {
        out +=
            &format!("  flagged by the failure sentinel ({}): {}\n", s.flagged.len(), s.flagged.join(", "));
    }
    for r in &s.running {
        let flag =
            r.flagged_at.map_or(String::new(), |step| format!(", flagged by the sentinel at update {step}"));
        out += &format!(
            "  running {}: {}:{} worker {}, for {} s, step {}/{}{flag}\n",
            r.id, r.host, r.pid, r.worker, r.since_seconds, r.step, r.total_steps
        );
    }
    match (s.seconds_per_update, s.estimated_seconds_left) {
        (Some(per), Some(left)) => {
            out += &format!(
                "{per:.3} s per update measured; about {:.0} min left at {} worker(s)\n",
                left / 60.0,
                s.running.len().max(1)
            )
        }
        _ => out += "time left: unknown until a run ends\n",
    }
    out
}

//! `stabletune study status`: what is done, running (by whom, since when, at which step), pending and
//! failed, and the time left at the runs' measured speed.

use crate::plan::PlannedRun;
use crate::store::{now, Claimant, Store};
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
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StudyStatus {
    pub planned: usize,
    pub completed: usize,
    pub early_stopped: usize,
    pub diverged: usize,
    /// Runs stopped by the study's early-stopping schedule.
    pub stopped_by_schedule: usize,
    /// Ended runs that failed (at or below the majority baseline, or diverged).
    pub failed: usize,
    pub running: Vec<Running>,
    /// Not ended and not held: never started, interrupted, or held by a worker that is gone.
    pub pending: usize,
    /// Seconds per update measured on the ended runs.
    pub seconds_per_update: Option<f64>,
    pub estimated_seconds_left: Option<f64>,
}

pub fn status(store: &Store, runs: &[PlannedRun], stale_after: u64) -> StudyStatus {
    let me = Claimant::this_process();
    let mut s = StudyStatus { planned: runs.len(), ..Default::default() };
    let (mut seconds, mut updates, mut totals) = (0.0, 0u64, Vec::new());
    let mut left_known = 0u64;
    let mut left_unknown = 0usize;
    for run in runs {
        if let Some(sum) = store.finished(&run.id) {
            match sum.status {
                Status::Completed => s.completed += 1,
                Status::EarlyStopped => s.early_stopped += 1,
                Status::Diverged => s.diverged += 1,
                Status::StoppedBySchedule => s.stopped_by_schedule += 1,
                Status::Interrupted => {}
            }
            s.failed += usize::from(sum.failed == Some(true));
            seconds += sum.wall_seconds;
            updates += sum.steps;
            totals.push(sum.total_steps);
            continue;
        }
        match store.read_claim(&run.id).filter(|c| !store.is_stale(c, &me, stale_after)) {
            Some(c) => {
                if c.total_steps > 0 {
                    left_known += c.total_steps.saturating_sub(c.step);
                } else {
                    left_unknown += 1;
                }
                s.running.push(Running {
                    id: run.id.clone(),
                    host: c.host,
                    pid: c.pid,
                    worker: c.worker,
                    since_seconds: now().saturating_sub(c.since),
                    step: c.step,
                    total_steps: c.total_steps,
                });
            }
            None => {
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
        "{} runs: {} done ({} completed, {} early-stopped, {} diverged, {} stopped by the schedule; {} failed), \
         {} running, {} pending\n",
        s.planned,
        s.completed + s.early_stopped + s.diverged + s.stopped_by_schedule,
        s.completed,
        s.early_stopped,
        s.diverged,
        s.stopped_by_schedule,
        s.failed,
        s.running.len(),
        s.pending
    );
    for r in &s.running {
        out += &format!(
            "  running {}: {}:{} worker {}, for {} s, step {}/{}\n",
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

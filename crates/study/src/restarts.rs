//! `sentinel = "restart"`: a run the failure sentinel stops is replaced by a run with the next unused seed,
//! up to `max_restarts` per configuration.
//!
//! The replacements are planned with the study, as *reserve* runs after the original ones (seeds above the
//! configuration's largest, in order), and stay dormant until a slot file activates one:
//! `restarts/<group>/<reserve run>.json`, naming the run it replaces. A slot is created exclusively (a
//! hard link of a complete temporary file, which fails if the slot exists), so two workers never activate
//! the same reserve; and a stopped run is only ever handled by the worker holding its claim, which first
//! looks for a slot that already names it, so no run is replaced twice. A worker killed between the
//! stopped run's summary and its slot leaves the run in need of a restart: whoever next claims it
//! activates the slot. The store then holds every original and every replacement exactly once.

use crate::early_stop::group_key;
use crate::error::{io, Result, StudyError};
use crate::plan::PlannedRun;
use crate::store::{hostname, now, Store};
use serde::{Deserialize, Serialize};
use stabletune_train::{Status, Summary};
use std::path::PathBuf;

/// A reserve run's place: its configuration's slot folder and its seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reserve {
    /// The slot folder's name (the task and configuration).
    pub group: String,
    pub seed: u64,
}

/// A slot: which run a reserve run replaces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub replaced: String,
    pub replacement: String,
    pub seed: u64,
    pub at: u64,
    pub by: String,
}

fn slot_dir(store: &Store, group: &str) -> PathBuf {
    store.root.join("restarts").join(group)
}

fn slot_path(store: &Store, reserve: &PlannedRun, r: &Reserve) -> PathBuf {
    slot_dir(store, &r.group).join(format!("{}.json", reserve.id))
}

/// Every slot of a study, by replacement run (for the guard).
pub fn all_slots(store: &Store) -> Vec<Slot> {
    let Ok(groups) = std::fs::read_dir(store.root.join("restarts")) else { return Vec::new() };
    let mut out: Vec<Slot> =
        groups.flatten().flat_map(|g| slots(store, &g.file_name().to_string_lossy())).collect();
    out.sort_by(|a, b| a.replacement.cmp(&b.replacement));
    out
}

/// Whether a run is a reserve no slot has activated: not part of the study (yet).
pub fn dormant(store: &Store, run: &PlannedRun) -> bool {
    run.reserve.as_ref().is_some_and(|r| !slot_path(store, run, r).exists())
}

/// The slots of `group`.
fn slots(store: &Store, group: &str) -> Vec<Slot> {
    let dir = slot_dir(store, group);
    let Ok(files) = std::fs::read_dir(&dir) else { return Vec::new() };
    files
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
        .filter_map(|f| serde_json::from_str(&std::fs::read_to_string(f.path()).ok()?).ok())
        .collect()
}

/// The reserve runs of `run`'s configuration, in seed order.
fn reserves<'r>(runs: &'r [PlannedRun], run: &PlannedRun) -> Vec<(&'r PlannedRun, &'r Reserve)> {
    let group = group_key(run);
    runs.iter()
        .filter_map(|r| r.reserve.as_ref().filter(|res| res.group == group).map(|res| (r, res)))
        .collect()
}

/// Whether a run is part of the study and not over: not a dormant reserve, and not ended, or (with
/// `restart`) ended by the sentinel and still waiting for its replacement.
pub fn is_open(store: &Store, runs: &[PlannedRun], run: &PlannedRun, restart: bool) -> bool {
    !dormant(store, run)
        && match store.finished(&run.id) {
            None => true,
            Some(s) => restart && needs_restart(store, runs, run, &s),
        }
}

/// Whether an ended run still waits for its replacement: the sentinel stopped it, no slot names it, and
/// its configuration has a reserve left.
pub fn needs_restart(store: &Store, runs: &[PlannedRun], run: &PlannedRun, summary: &Summary) -> bool {
    if summary.status != Status::StoppedBySentinel {
        return false;
    }
    let group = group_key(run);
    if slots(store, &group).iter().any(|s| s.replaced == run.id) {
        return false;
    }
    reserves(runs, run).iter().any(|(r, res)| !slot_path(store, r, res).exists())
}

/// Activates the first free reserve of `run`'s configuration for it (the caller holds `run`'s claim).
/// Returns the slot that names `run` (an existing one when it was replaced already), or `None` when
/// every reserve is taken.
pub fn restart(store: &Store, runs: &[PlannedRun], run: &PlannedRun) -> Result<Option<Slot>> {
    let group = group_key(run);
    if let Some(slot) = slots(store, &group).into_iter().find(|s| s.replaced == run.id) {
        return Ok(Some(slot));
    }
    let dir = slot_dir(store, &group);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    for (reserve, res) in reserves(runs, run) {
        let path = slot_path(store, reserve, res);
        if path.exists() {
            continue;
        }
        let slot = Slot {
            replaced: run.id.clone(),
            replacement: reserve.id.clone(),
            seed: res.seed,
            at: now(),
            by: format!("{}:{}", hostname(), std::process::id()),
        };
        let tmp = stabletune_model::checkpoint::temporary_beside(&path);
        let text = serde_json::to_string_pretty(&slot).expect("a slot serialises") + "\n";
        stabletune_model::checkpoint::write_atomic(&tmp, text.as_bytes())?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(Some(slot)),
            // Another worker activated this reserve for another stopped run a moment ago: the next one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(StudyError::Io { path, source: e }),
        }
    }
    Ok(None)
}

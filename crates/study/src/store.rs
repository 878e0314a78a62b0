//! The run store: one folder per run under `runs/`, and claims under `claims/`.
//!
//! Any number of worker processes, on one machine or on many sharing a filesystem (NFS, Lustre), may work
//! on a study at once. A run is claimed by creating `claims/<id>.json` exclusively (`O_CREAT | O_EXCL`,
//! atomic on NFSv3+ and Lustre), holding the claimant's host, process, worker and a heartbeat time that its
//! process refreshes. A claim is taken over when its heartbeat is older than the study's timeout, or at
//! once when it was made on this host by a process that no longer exists (kill -9): the claim is renamed
//! aside (only one of several takers can rename it) and created anew. The taker resumes the run from its
//! last checkpoint. No database: plain files are what shared filesystems lock reliably.

use crate::error::{io, Result};
use serde::{Deserialize, Serialize};
use stabletune_train::trainer::read_summary;
use stabletune_train::Summary;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Who holds a run, since when, and how far it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimInfo {
    pub host: String,
    pub pid: u32,
    /// A number drawn per process, so a reused process id is not mistaken for the claimant.
    pub token: u64,
    pub worker: usize,
    pub since: u64,
    pub heartbeat: u64,
    pub step: u64,
    pub total_steps: u64,
}

/// This process, as a claimant.
#[derive(Clone, Debug)]
pub struct Claimant {
    pub host: String,
    pub pid: u32,
    pub token: u64,
}

impl Claimant {
    pub fn this_process() -> Claimant {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let token = stabletune_engine::rng::mix64(nanos ^ ((std::process::id() as u64) << 32));
        Claimant { host: hostname(), pid: std::process::id(), token }
    }
}

pub struct Store {
    pub root: PathBuf,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store> {
        for sub in ["runs", "claims"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).map_err(io(&d))?;
        }
        Ok(Store { root: root.to_path_buf() })
    }

    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(id)
    }

    fn claim_path(&self, id: &str) -> PathBuf {
        self.root.join("claims").join(format!("{id}.json"))
    }

    /// The run's summary when it has ended for good (completed, early-stopped or diverged).
    pub fn finished(&self, id: &str) -> Option<Summary> {
        read_summary(&self.run_dir(id)).filter(|s| s.status.is_ended())
    }

    pub fn read_claim(&self, id: &str) -> Option<ClaimInfo> {
        let text = std::fs::read_to_string(self.claim_path(id)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Whether a claim's holder is gone: made on this host by a process that no longer exists (or by an
    /// earlier process with this one's id), or silent for longer than `stale_after` seconds.
    pub fn is_stale(&self, c: &ClaimInfo, me: &Claimant, stale_after: u64) -> bool {
        if c.host == me.host {
            let dead = !Path::new(&format!("/proc/{}", c.pid)).exists() && Path::new("/proc/self").exists();
            if dead || (c.pid == me.pid && c.token != me.token) {
                return true;
            }
        }
        now().saturating_sub(c.heartbeat) > stale_after
    }

    /// Claims run `id` for `worker`, taking over a stale claim. `None`: someone else holds it.
    pub fn try_claim(
        &self,
        id: &str,
        me: &Claimant,
        worker: usize,
        stale_after: u64,
    ) -> Result<Option<ClaimInfo>> {
        // The workers of one process claim one at a time; other processes are kept apart by the files.
        static CLAIMING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = CLAIMING.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.claim_path(id);
        let t = now();
        let info = ClaimInfo {
            host: me.host.clone(),
            pid: me.pid,
            token: me.token,
            worker,
            since: t,
            heartbeat: t,
            step: 0,
            total_steps: 0,
        };
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let text = serde_json::to_string(&info).expect("serialisable");
                    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(io(&path))?;
                    return Ok(Some(info));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A claim being written has no content yet: only a claim that reads back can be stale.
                    let Some(held) = self.read_claim(id) else { return Ok(None) };
                    if !self.is_stale(&held, me, stale_after) {
                        return Ok(None);
                    }
                    let aside = path.with_extension(format!("stale-{}-{}", me.pid, me.token));
                    if std::fs::rename(&path, &aside).is_err() {
                        return Ok(None); // another taker was first
                    }
                    // Between reading the stale claim and renaming it, another process may have taken it
                    // over and claimed the run afresh: then what was renamed is that live claim. Put it
                    // back (a hard link creates the name only if it is still free) and leave the run.
                    let renamed: Option<ClaimInfo> =
                        std::fs::read_to_string(&aside).ok().and_then(|t| serde_json::from_str(&t).ok());
                    if renamed.as_ref() != Some(&held) {
                        let _ = std::fs::hard_link(&aside, &path);
                        let _ = std::fs::remove_file(&aside);
                        return Ok(None);
                    }
                    let _ = std::fs::remove_file(&aside);
                    tracing::info!(
                        "{id}: took over the claim of {}:{} (worker {}), silent or gone",
                        held.host,
                        held.pid,
                        held.worker
                    );
                }
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Ok(None)
    }

    /// Refreshes the heartbeat (and progress) of a claim this process holds; false when it was taken over.
    pub fn heartbeat(&self, id: &str, info: &mut ClaimInfo) -> Result<bool> {
        match self.read_claim(id) {
            Some(c) if c.token == info.token && c.pid == info.pid && c.host == info.host => {}
            _ => return Ok(false),
        }
        info.heartbeat = now();
        let text = serde_json::to_string(info).expect("serialisable");
        stabletune_model::checkpoint::write_atomic(&self.claim_path(id), text.as_bytes())?;
        Ok(true)
    }

    /// Gives a claim up (the run finished or stopped).
    pub fn release(&self, id: &str, info: &ClaimInfo) {
        if self.read_claim(id).is_some_and(|c| c.token == info.token && c.pid == info.pid) {
            let _ = std::fs::remove_file(self.claim_path(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_exclusive_and_stale_ones_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let me = Claimant::this_process();
        let first = store.try_claim("r1", &me, 0, 60).unwrap().expect("free run");
        assert!(
            store.try_claim("r1", &me, 1, 60).unwrap().is_none(),
            "held by a live worker of this process"
        );
        // Another live process on another host, beating recently: left alone.
        let other =
            ClaimInfo { host: "elsewhere".into(), pid: 1, token: 7, heartbeat: now(), ..first.clone() };
        std::fs::write(store.claim_path("r2"), serde_json::to_string(&other).unwrap()).unwrap();
        assert!(store.try_claim("r2", &me, 0, 60).unwrap().is_none());
        // The same, silent for longer than the timeout: taken over.
        let silent = ClaimInfo { heartbeat: now() - 61, ..other.clone() };
        std::fs::write(store.claim_path("r2"), serde_json::to_string(&silent).unwrap()).unwrap();
        assert!(store.try_claim("r2", &me, 0, 60).unwrap().is_some());
        // On this host, by a process that is gone (kill -9): taken over at once.
        let gone = ClaimInfo {
            host: me.host.clone(),
            pid: u32::MAX - 1,
            token: 9,
            heartbeat: now(),
            ..first.clone()
        };
        std::fs::write(store.claim_path("r3"), serde_json::to_string(&gone).unwrap()).unwrap();
        let mut mine = store.try_claim("r3", &me, 0, 3600).unwrap().expect("a dead claimant's run");
        assert!(store.heartbeat("r3", &mut mine).unwrap());
        store.release("r3", &mine);
        assert!(store.read_claim("r3").is_none());
        // A heartbeat on a claim taken over by someone else reports it.
        let mut stolen = first.clone();
        stolen.token ^= 1;
        assert!(!store.heartbeat("r1", &mut stolen).unwrap());
    }
}

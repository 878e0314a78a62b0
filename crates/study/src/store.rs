//! The run store: one folder per run under `runs/`, and claims under `claims/`.
//!
//! Any number of worker processes, on one machine or on many sharing a filesystem (NFS, Lustre), may work
//! on a study at once, with clocks that disagree and processes that stall for minutes. The protocol:
//! - A run is claimed by creating `claims/<id>.json` exclusively (`O_CREAT | O_EXCL`, atomic on NFSv3+ and
//!   Lustre), naming the holder (host, process, a per-process token, worker). The claim file is never
//!   rewritten, so no writer can overwrite another's claim.
//! - The holder beats in a file of its own, `claims/<id>.<token>.beat` (a counter and its progress), which
//!   only it writes.
//! - Staleness is judged on the reader's own clock only: a claim (with its beat) seen unchanged for
//!   `stale_after` seconds of the reader's monotonic time is stale, whatever the clocks of the hosts say.
//!   A claim made on this host by a process that no longer exists (kill -9) is stale at once. An empty or
//!   unreadable claim (a crash or a full disk between creating and writing it) is judged the same way, by
//!   its bytes.
//! - A stale claim is renamed aside (only one of several takers can rename it), checked to be the claim
//!   judged stale, and created anew; the taker resumes the run from its last checkpoint.
//! - A holder checks that the claim file still names it before writing into its run ([`Store::holds`]),
//!   so a process that wakes up after its claim was taken over writes nothing more.
//!
//! No database: plain files are what shared filesystems lock reliably.

use crate::error::{io, Result};
use serde::{Deserialize, Serialize};
use stabletune_train::trainer::read_summary;
use stabletune_train::Summary;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Who holds a run, and since when (by the holder's clock, for display only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimInfo {
    pub host: String,
    pub pid: u32,
    /// A number drawn per process, so a reused process id is not mistaken for the claimant.
    pub token: u64,
    pub worker: usize,
    pub since: u64,
}

/// A holder's heartbeat: a counter that changes at every beat (what other processes watch), and the
/// run's progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub count: u64,
    /// The holder's clock at the beat (for display only; never compared across hosts).
    pub time: u64,
    pub step: u64,
    pub total_steps: u64,
    /// The update at which the failure sentinel flagged the run (absent in beats of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_at: Option<u64>,
}

/// A claim as read from the store.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    Free,
    /// A claim file that cannot be read as a claim: its bytes (empty after a crash or a full disk).
    Unreadable(Vec<u8>),
    Held(ClaimInfo, Option<Beat>),
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
    /// Each claim as this process last saw it (a fingerprint of its bytes and its beat's), and when, by
    /// this process's monotonic clock.
    seen: Mutex<HashMap<String, (u64, Instant)>>,
}

impl Store {
    /// The store of the study folder `root`, without creating anything.
    pub fn at(root: &Path) -> Store {
        Store { root: root.to_path_buf(), seen: Mutex::new(HashMap::new()) }
    }

    pub fn open(root: &Path) -> Result<Store> {
        for sub in ["runs", "claims"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).map_err(io(&d))?;
        }
        Ok(Store::at(root))
    }

    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(id)
    }

    fn claim_path(&self, id: &str) -> PathBuf {
        self.root.join("claims").join(format!("{id}.json"))
    }

    fn beat_path(&self, id: &str, token: u64) -> PathBuf {
        self.root.join("claims").join(format!("{id}.{token:016x}.beat"))
    }

    /// The run's summary when it has ended for good (completed, early-stopped or diverged).
    pub fn finished(&self, id: &str) -> Option<Summary> {
        read_summary(&self.run_dir(id)).filter(|s| s.status.is_ended())
    }

    pub fn claim(&self, id: &str) -> Claim {
        let Ok(bytes) = std::fs::read(self.claim_path(id)) else { return Claim::Free };
        match serde_json::from_slice::<ClaimInfo>(&bytes) {
            Ok(info) => {
                let beat = std::fs::read(self.beat_path(id, info.token))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                Claim::Held(info, beat)
            }
            Err(_) => Claim::Unreadable(bytes),
        }
    }

    /// The holder of run `id`, when the claim reads.
    pub fn read_claim(&self, id: &str) -> Option<ClaimInfo> {
        match self.claim(id) {
            Claim::Held(info, _) => Some(info),
            _ => None,
        }
    }

    /// Whether the claim file of `id` still names `holder` (the check before every write of a holder).
    pub fn holds(&self, id: &str, holder: &ClaimInfo) -> bool {
        holds_file(&self.claim_path(id), holder)
    }

    /// The claim file of run `id`, for a check that outlives the store ([`holds_file`]).
    pub fn claim_file(&self, id: &str) -> PathBuf {
        self.claim_path(id)
    }

    /// Whether a claim's holder is gone: made on this host by a process that no longer exists (or by an
    /// earlier process with this one's id), or seen unchanged (claim and beat) for `stale_after` seconds
    /// of this process's own clock. The first look at a claim starts its watch: a claim is never stale on
    /// sight unless its process is known dead.
    pub fn is_stale(&self, id: &str, claim: &Claim, me: &Claimant, stale_after: u64) -> bool {
        let fingerprint = match claim {
            Claim::Free => return false,
            Claim::Held(c, beat) => {
                if c.host == me.host {
                    let dead =
                        !Path::new(&format!("/proc/{}", c.pid)).exists() && Path::new("/proc/self").exists();
                    if dead || (c.pid == me.pid && c.token != me.token) {
                        return true;
                    }
                }
                fingerprint(&(c.token, c.pid, &c.host, beat.as_ref().map(|b| b.count)))
            }
            Claim::Unreadable(bytes) => fingerprint(&bytes),
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let t = Instant::now();
        match seen.get(id) {
            Some(&(f, since)) if f == fingerprint => t.duration_since(since).as_secs() >= stale_after,
            _ => {
                seen.insert(id.to_string(), (fingerprint, t));
                false
            }
        }
    }

    /// How long this process has seen the claim of `id` unchanged (0 when it has not watched it).
    pub fn unchanged_for(&self, id: &str) -> u64 {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(id).map_or(0, |(_, since)| since.elapsed().as_secs())
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
        static CLAIMING: Mutex<()> = Mutex::new(());
        let _one_at_a_time = CLAIMING.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.claim_path(id);
        let info = ClaimInfo { host: me.host.clone(), pid: me.pid, token: me.token, worker, since: now() };
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let text = serde_json::to_string(&info).expect("serialisable");
                    if let Err(e) = f.write_all(text.as_bytes()).and_then(|_| f.sync_all()) {
                        // A claim that cannot be written (a full disk) is removed, not left empty.
                        let _ = std::fs::remove_file(&path);
                        return Err(io(&path)(e));
                    }
                    self.beat(id, &info, &mut Beat::default())?;
                    return Ok(Some(info));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let held = self.claim(id);
                    if held == Claim::Free {
                        continue; // released between the two calls
                    }
                    if !self.is_stale(id, &held, me, stale_after) {
                        return Ok(None);
                    }
                    if !self.take_aside(id, &held, &format!("stale-{}-{:x}", me.pid, me.token)) {
                        return Ok(None);
                    }
                    self.seen.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                    match &held {
                        Claim::Held(c, _) => {
                            let _ = std::fs::remove_file(self.beat_path(id, c.token));
                            tracing::info!(
                                "{id}: took over the claim of {}:{} (worker {}), silent or gone",
                                c.host,
                                c.pid,
                                c.worker
                            );
                        }
                        _ => tracing::info!(
                            "{id}: took over an unreadable claim, unchanged past the stale limit"
                        ),
                    }
                }
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Ok(None)
    }

    /// Renames the claim of `id` aside when it is still `expected`, and removes it; false when it is not
    /// (another process took it over and claimed it afresh in the meantime: then it is put back, a hard
    /// link creating the name only if it is still free).
    fn take_aside(&self, id: &str, expected: &Claim, why: &str) -> bool {
        let path = self.claim_path(id);
        let aside = path.with_extension(why);
        if std::fs::rename(&path, &aside).is_err() {
            return false; // another taker was first
        }
        let renamed = match std::fs::read(&aside) {
            Ok(bytes) => match serde_json::from_slice::<ClaimInfo>(&bytes) {
                Ok(c) => matches!(expected, Claim::Held(e, _) if same_holder(e, &c)),
                Err(_) => *expected == Claim::Unreadable(bytes),
            },
            Err(_) => false,
        };
        if !renamed {
            let _ = std::fs::hard_link(&aside, &path);
        }
        let _ = std::fs::remove_file(&aside);
        renamed
    }

    /// Writes this holder's beat (its own file; the claim file is never touched). Replaced by a rename, but
    /// not flushed to disk: a beat lost in a power cut only makes the claim look older, which is safe.
    fn beat(&self, id: &str, info: &ClaimInfo, beat: &mut Beat) -> Result<()> {
        beat.count += 1;
        beat.time = now();
        let text = serde_json::to_string(beat).expect("serialisable");
        let path = self.beat_path(id, info.token);
        let tmp = stabletune_model::checkpoint::temporary_beside(&path);
        if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&path)(e));
        }
        Ok(())
    }

    /// Removes what claims of run `id` left behind (holders killed while they held it or took it over):
    /// called once the run has ended, when nobody beats for it any more.
    fn remove_leftovers(&self, id: &str) {
        let dir = self.root.join("claims");
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // `<id>.<token>.beat`, a claim renamed aside (`<id>.stale-…`, `<id>.release-…`) by a process
            // killed before it removed it, or a temporary `.<id>.….tmp`; never the claim `<id>.json`.
            let aside = name.starts_with(&format!("{id}.")) && name != format!("{id}.json");
            if aside || (name.starts_with(&format!(".{id}.")) && name.ends_with(".tmp")) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Clears what claims left of an ended run: a claim file whose holder is known gone or stale (killed
    /// between writing the summary and releasing the claim), then beats and temporary files.
    pub fn sweep_ended(&self, id: &str, me: &Claimant, stale_after: u64) {
        let claim = self.claim(id);
        if claim != Claim::Free
            && !(self.is_stale(id, &claim, me, stale_after)
                && self.take_aside(id, &claim, &format!("ended-{}-{:x}", me.pid, me.token)))
        {
            return;
        }
        self.remove_leftovers(id);
    }

    /// Beats for a claim this process holds, with the run's progress; false (and nothing written) when the
    /// claim was taken over.
    pub fn heartbeat(&self, id: &str, info: &ClaimInfo, beat: &mut Beat) -> Result<bool> {
        if !self.holds(id, info) {
            return Ok(false);
        }
        self.beat(id, info, beat)?;
        Ok(true)
    }

    /// Gives a claim up (the run finished or stopped); a claim that another process holds now is left.
    pub fn release(&self, id: &str, info: &ClaimInfo) {
        let mine = Claim::Held(info.clone(), None);
        if self.holds(id, info)
            && self.take_aside(id, &mine, &format!("release-{}-{:x}", info.pid, info.token))
        {
            let _ = std::fs::remove_file(self.beat_path(id, info.token));
            if self.finished(id).is_some() {
                self.remove_leftovers(id);
            }
        }
    }
}

/// Whether the claim file at `path` names `holder`.
pub fn holds_file(path: &Path, holder: &ClaimInfo) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<ClaimInfo>(&b).ok())
        .is_some_and(|c| same_holder(&c, holder))
}

fn same_holder(a: &ClaimInfo, b: &ClaimInfo) -> bool {
    a.token == b.token && a.pid == b.pid && a.host == b.host
}

fn fingerprint(value: &impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests;

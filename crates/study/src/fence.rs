//! The write fence of a claimed run: before each write into the run's folder the trainer asks it, and it
//! says no once the claim file names another holder. A process stopped for minutes (SIGSTOP, an NFS hang,
//! a suspended node) may have lost its claim to a process that judged it dead; on waking up it must
//! write nothing more into the run, or two trainers would mix their logs and checkpoints.
//!
//! The claim file is read again whenever a second or more has passed since the last check, by the
//! monotonic clock or by the wall clock (either may stand still across a stall: the monotonic one across
//! a suspend, the wall one when set back), so the first write after any stall checks first. Within a
//! second of a check the answer stands: a claim is taken over only after it was seen silent for the
//! study's stale limit, far longer than that.

use crate::store::{holds_file, ClaimInfo};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

const RECHECK: Duration = Duration::from_secs(1);

pub struct Fence {
    claim_file: PathBuf,
    holder: ClaimInfo,
    lost: AtomicBool,
    checked: Mutex<(Instant, SystemTime)>,
}

impl Fence {
    pub fn new(claim_file: PathBuf, holder: ClaimInfo) -> Fence {
        Fence {
            claim_file,
            holder,
            lost: AtomicBool::new(false),
            checked: Mutex::new((Instant::now(), SystemTime::now())),
        }
    }

    /// Whether this holder may still write into the run.
    pub fn allows(&self) -> bool {
        if self.lost() {
            return false;
        }
        let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        let (mono, wall) = *checked;
        let wall_gap = match SystemTime::now().duration_since(wall) {
            Ok(d) => d,
            Err(e) => e.duration(), // the wall clock went back
        };
        if mono.elapsed() < RECHECK && wall_gap < RECHECK {
            return true;
        }
        if holds_file(&self.claim_file, &self.holder) {
            *checked = (Instant::now(), SystemTime::now());
            true
        } else {
            self.mark_lost();
            false
        }
    }

    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub fn mark_lost(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }
}

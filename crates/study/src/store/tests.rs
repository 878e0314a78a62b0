use super::*;

fn other_host(token: u64) -> ClaimInfo {
    ClaimInfo { host: "elsewhere".into(), pid: 1, token, worker: 0, since: 0 }
}

#[test]
fn claims_are_exclusive_and_a_live_one_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let me = Claimant::this_process();
    let first = store.try_claim("r1", &me, 0, 60).unwrap().expect("free run");
    assert!(store.try_claim("r1", &me, 1, 60).unwrap().is_none(), "held by a live worker of this process");
    assert!(store.holds("r1", &first));
    let mut beat = Beat::default();
    assert!(store.heartbeat("r1", &first, &mut beat).unwrap());
    store.release("r1", &first);
    assert_eq!(store.claim("r1"), Claim::Free);
}

#[test]
fn staleness_is_judged_on_the_readers_clock_never_on_the_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let me = Claimant::this_process();
    // A claim from a host whose clock is an hour behind ours: its times look old, but it is not stale
    // until this process has seen it unchanged for the limit.
    let behind = ClaimInfo { since: now() - 3600, ..other_host(7) };
    std::fs::write(store.claim_path("r2"), serde_json::to_string(&behind).unwrap()).unwrap();
    let old_beat = Beat { count: 3, time: now() - 3600, step: 5, total_steps: 10, flagged_at: None };
    std::fs::write(store.beat_path("r2", 7), serde_json::to_string(&old_beat).unwrap()).unwrap();
    assert!(store.try_claim("r2", &me, 0, 1).unwrap().is_none(), "first sight starts the watch");
    // It beats (the counter changes): the watch starts again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let new_beat = Beat { count: 4, ..old_beat };
    std::fs::write(store.beat_path("r2", 7), serde_json::to_string(&new_beat).unwrap()).unwrap();
    assert!(store.try_claim("r2", &me, 0, 1).unwrap().is_none(), "a beat since the last look");
    // Silent for the limit by this process's clock: taken over, its beat file removed.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mine = store.try_claim("r2", &me, 0, 1).unwrap().expect("silent past the limit");
    assert!(!store.beat_path("r2", 7).exists());
    // The former holder finds it out and can neither beat nor release the new claim.
    let mut beat = Beat::default();
    assert!(!store.heartbeat("r2", &behind, &mut beat).unwrap());
    assert!(!store.beat_path("r2", 7).exists(), "a holder that lost its claim writes no beat");
    store.release("r2", &behind);
    assert!(store.holds("r2", &mine), "releasing a lost claim leaves the new holder's");
}

#[test]
fn a_dead_process_on_this_host_is_taken_over_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let me = Claimant::this_process();
    let gone = ClaimInfo { host: me.host.clone(), pid: u32::MAX - 1, token: 9, worker: 0, since: now() };
    std::fs::write(store.claim_path("r3"), serde_json::to_string(&gone).unwrap()).unwrap();
    assert!(store.try_claim("r3", &me, 0, 3600).unwrap().is_some());
}

#[test]
fn an_empty_claim_is_taken_over_once_it_stays_empty_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let me = Claimant::this_process();
    std::fs::write(store.claim_path("r4"), b"").unwrap();
    assert_eq!(store.claim("r4"), Claim::Unreadable(Vec::new()));
    assert!(store.try_claim("r4", &me, 0, 1).unwrap().is_none());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let c = store.try_claim("r4", &me, 0, 1).unwrap().expect("unreadable past the limit");
    assert!(store.holds("r4", &c));
}

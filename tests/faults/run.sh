#!/usr/bin/env bash
# Fault injection: what clusters do to a study, done for real to tiny studies of the real MiniLM, each
# checked against a study never disturbed (bit for bit: summaries, logs, weights; every step logged once;
# no temporary file left) and against its time bound:
#   1. early stopping with two shards run one after the other, and with one shard killed -9;
#   2. a holder stopped (SIGSTOP) past the stale limit while another process takes its run over, then
#      continued (SIGCONT): it must write nothing more into the run;
#   3. clock skew: one process under faketime ten minutes ahead of the other: no live claim taken over;
#   4. an empty claim file (a crash or a full disk between creating and writing it);
#   5. a full disk: a small tmpfs (mounted here; CI runs as root), the study stops taking runs, keeps the last
#      good checkpoint, and finishes once there is room;
#   6. a changed study refused with the difference shown, and an extended one training only its new runs;
#   7. sentinel = "restart": a process killed -9 in the middle, the other replacing every stopped run exactly
#      once (the same runs as the undisturbed study, no run twice, one slot per replacement).
# (A resubmitted subset of a Slurm array runs on the real Slurm of tests/slurm/run.sh.)
# Usage: tests/faults/run.sh [path/to/stabletune]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-target/release/stabletune}")
ASSETS=$(realpath ../shared/assets)
CHECK="python3 $(pwd)/tests/faults/check.py"

if ! command -v faketime >/dev/null; then
    echo "installing faketime"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq faketime >/dev/null
fi

DIR=$(mktemp -d /tmp/stabletune-faults.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -CONT "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true; done
    mountpoint -q "$DIR/small" 2>/dev/null && umount "$DIR/small" || true
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT
START=$SECONDS
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

mkdir -p "$DIR/sst2"
head -n 101 "$ASSETS/glue/SST-2/train.tsv" > "$DIR/sst2/train.tsv"
head -n 33 "$ASSETS/glue/SST-2/dev.tsv" > "$DIR/sst2/dev.tsv"
# study FILE NAME SEEDS STEPS EXTRA: one recipe on 32 examples, stale limit 3 s and a 20 s wait bound.
study() {
    cat > "$1" <<TOML
name = "$2"
model = "$ASSETS/models/all-MiniLM-L6-v2"
tasks = ["sst-2"]
data_dir = "$DIR/sst2"
recipes = ["devlin2019"]
seeds = "$3"
train_limit = 32
max_steps = $4
$5
[execution]
stale_after_seconds = 3
max_wait_seconds = 20
TOML
}
study "$DIR/plain.toml" plain 1..2 8 "evals_per_epoch = 1"
# Early stopping: 3 runs, the best 1 kept at half of the updates; the runs evaluate twice an epoch.
study "$DIR/es.toml" es 1..3 6 ""
cat >> "$DIR/es.toml" <<TOML
[early_stopping]
start = 3
keep = 1
at = 0.5
evals_per_epoch = 2
TOML

# (background processes run the binary itself, so that $! is its process id)
run() { "$BIN" study run "$@"; }
# waits for a background process with a bound; its status in $rc
wait_for() {
    local pid=$1 limit=$2 t=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1; t=$((t + 1))
        if [ "$t" -ge "$limit" ]; then echo "  (process $pid still running after $limit s)"; kill -9 "$pid"; rc=124; return; fi
    done
    set +e; wait "$pid"; rc=$?; set -e
}
# the id of a run held by process $2 in study folder $1, once it has logged $3 updates (empty if none yet)
held_by() {
    local f
    for f in "$1"/claims/*.json; do
        [ -s "$f" ] || continue
        if [ "$(jq -r .pid "$f" 2>/dev/null)" = "$2" ]; then
            local id; id=$(basename "$f" .json)
            local n; n=$(grep -c '"loss"' "$1/runs/$id/metrics.jsonl" 2>/dev/null || true)
            if [ "${n:-0}" -ge "$3" ]; then echo "$id"; return 0; fi
        fi
    done
    return 0
}
# ONLY="2 5" runs just those faults (for working on one); all by default.
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

echo "references (undisturbed)"
run "$DIR/plain.toml" --out "$DIR/ref-plain" --workers 1 > /dev/null 2> "$DIR/ref-plain.err" || { cat "$DIR/ref-plain.err"; exit 1; }
run "$DIR/es.toml" --out "$DIR/ref-es" --workers 1 > /dev/null 2> "$DIR/ref-es.err" || { cat "$DIR/ref-es.err"; exit 1; }
ls "$DIR/ref-es/early-stopping/"*.json > /dev/null

if want 1; then
echo "1a. early stopping, shards one after the other"
t0=$SECONDS
"$BIN" study run "$DIR/es.toml" --out "$DIR/es-seq" --shard 0/2 --workers 1 > /dev/null 2> "$DIR/es-seq0.err" & p=$!; PIDS+=("$p")
wait_for "$p" 120
[ "$rc" = 0 ] && ok "shard 0/2 alone ends the study (exit $rc, $((SECONDS - t0)) s)" || { bad "shard 0/2 alone: exit $rc"; tail -5 "$DIR/es-seq0.err"; }
run "$DIR/es.toml" --out "$DIR/es-seq" --shard 1/2 --workers 1 > /dev/null 2> "$DIR/es-seq1.err" && ok "shard 1/2 afterwards: nothing left, exit 0" || bad "shard 1/2 afterwards"
$CHECK "$DIR/ref-es" "$DIR/es-seq" && ok "identical to the undisturbed study" || bad "sequential shards differ"

fi
if want 1; then
echo "1b. early stopping, one of two shards killed -9 mid-training"
"$BIN" study run "$DIR/es.toml" --out "$DIR/es-kill" --shard 0/2 --workers 1 > /dev/null 2> "$DIR/es-kill0.err" & p0=$!; PIDS+=("$p0")
"$BIN" study run "$DIR/es.toml" --out "$DIR/es-kill" --shard 1/2 --workers 1 > /dev/null 2> "$DIR/es-kill1.err" & p1=$!; PIDS+=("$p1")
for _ in $(seq 1 120); do [ -n "$(held_by "$DIR/es-kill" "$p1" 1)" ] && break; sleep 0.5; done
kill -9 "$p1" 2>/dev/null && ok "shard 1/2 killed -9 while training" || bad "shard 1/2 ended before the kill"
wait_for "$p0" 120
[ "$rc" = 0 ] && ok "shard 0/2 takes over and ends the study (exit 0)" || { bad "shard 0/2 after the kill: exit $rc"; tail -5 "$DIR/es-kill0.err"; }
$CHECK "$DIR/ref-es" "$DIR/es-kill" && ok "identical to the undisturbed study" || bad "killed shard study differs"

fi
if want 2; then
echo "2. a holder stopped past the stale limit, then continued"
"$BIN" study run "$DIR/plain.toml" --out "$DIR/stop" --workers 1 > /dev/null 2> "$DIR/stopA.err" & pa=$!; PIDS+=("$pa")
id=""
for _ in $(seq 1 120); do id=$(held_by "$DIR/stop" "$pa" 2); [ -n "$id" ] && break; sleep 0.25; done
kill -STOP "$pa"
"$BIN" study run "$DIR/plain.toml" --out "$DIR/stop" --workers 1 > /dev/null 2> "$DIR/stopB.err" & pb=$!; PIDS+=("$pb")
taken=0
for _ in $(seq 1 120); do
    [ "$(jq -r .pid "$DIR/stop/claims/$id.json" 2>/dev/null)" = "$pb" ] && { taken=1; break; }
    sleep 0.25
done
[ "$taken" = 1 ] && ok "$id taken over from the stopped holder" || bad "$id not taken over"
sleep 1
kill -CONT "$pa"
wait_for "$pb" 120; rb=$rc
wait_for "$pa" 120; ra=$rc
[ "$ra" = 0 ] && [ "$rb" = 0 ] && ok "both processes end (exit $ra and $rb)" || bad "exit statuses $ra and $rb"
grep -q "left to it" "$DIR/stopA.err" && ok "the woken holder left the run, writing nothing more" || { bad "the woken holder did not report the takeover"; tail -5 "$DIR/stopA.err"; }
$CHECK "$DIR/ref-plain" "$DIR/stop" && ok "no duplicate log line, no mixed checkpoint: identical to the undisturbed study" || bad "stopped-holder study differs"

fi
if want 3; then
echo "3. clock skew: one process ten minutes ahead"
FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "+10m" "$BIN" study run "$DIR/plain.toml" --out "$DIR/skew" --workers 1 > /dev/null 2> "$DIR/skewA.err" & pa=$!; PIDS+=("$pa")
"$BIN" study run "$DIR/plain.toml" --out "$DIR/skew" --workers 1 > /dev/null 2> "$DIR/skewB.err" & pb=$!; PIDS+=("$pb")
wait_for "$pa" 120; ra=$rc
wait_for "$pb" 120; rb=$rc
[ "$ra" = 0 ] && [ "$rb" = 0 ] && ok "both end (exit $ra and $rb)" || bad "exit statuses $ra and $rb"
if grep -q "took over\|left to it" "$DIR/skewA.err" "$DIR/skewB.err"; then bad "a live claim was taken over under clock skew"; else ok "no live claim taken over"; fi
$CHECK "$DIR/ref-plain" "$DIR/skew" && ok "identical to the undisturbed study" || bad "skewed study differs"

fi
if want 4; then
echo "4. an empty claim file"
first=$(ls "$DIR/ref-plain/runs" | head -1)
mkdir -p "$DIR/empty/claims"
: > "$DIR/empty/claims/$first.json"
cp "$DIR/plain.toml" "$DIR/empty/study.toml"
"$BIN" study status "$DIR/empty" > "$DIR/empty-status.out"
grep -q "claim unreadable $first" "$DIR/empty-status.out" && ok "study status shows it as claim unreadable" || bad "study status: $(cat "$DIR/empty-status.out")"
t0=$SECONDS
run "$DIR/plain.toml" --out "$DIR/empty" --workers 1 > /dev/null 2> "$DIR/empty.err" && ok "taken over past the stale limit; the study ends ($((SECONDS - t0)) s)" || bad "empty claim: $(tail -3 "$DIR/empty.err")"
$CHECK "$DIR/ref-plain" "$DIR/empty" && ok "identical to the undisturbed study" || bad "empty-claim study differs"

fi
if want 5; then
echo "5. a full disk"
mkdir -p "$DIR/small"
if mount -t tmpfs -o size=400m tmpfs "$DIR/small" 2>/dev/null; then
    set +e; run "$DIR/plain.toml" --out "$DIR/small/study" --workers 1 > /dev/null 2> "$DIR/full.err"; rc=$?; set -e
    [ "$rc" = 5 ] && grep -q "disk full" "$DIR/full.err" && ok "stops with exit 5 and says disk full" || { bad "full disk: exit $rc"; tail -5 "$DIR/full.err"; }
    [ "$(grep -c 'starting\|resuming' "$DIR/full.err")" = 1 ] && ok "no further run was started" || bad "runs kept starting on a full disk"
    leftovers=$(find "$DIR/small/study/runs" -name '*.tmp' | wc -l)
    [ "$leftovers" = 0 ] && ok "no partial temporary file left" || bad "$leftovers temporary files left"
    ls "$DIR/small/study/runs/"*/checkpoint-last/trainer_state.json > /dev/null 2>&1 && ok "the last good checkpoint is intact" || bad "no checkpoint to resume from"
    mount -o remount,size=3g "$DIR/small"
    run "$DIR/plain.toml" --out "$DIR/small/study" --workers 1 > /dev/null 2> "$DIR/full2.err" && ok "with room again the same command ends the study" || bad "after the full disk: $(tail -3 "$DIR/full2.err")"
    $CHECK "$DIR/ref-plain" "$DIR/small/study" && ok "identical to the undisturbed study" || bad "full-disk study differs"
else
    echo "skip 5: this machine does not allow mounting a tmpfs"
fi

fi
if want 6; then
echo "6. a changed study and an extended one"
sed 's/^max_steps = 8$/max_steps = 8\nlr = 3e-5/' "$DIR/plain.toml" > "$DIR/changed.toml"
set +e; run "$DIR/changed.toml" --out "$DIR/ref-plain" > /dev/null 2> "$DIR/changed.err"; rc=$?; set -e
[ "$rc" != 0 ] && grep -q "holds another study" "$DIR/changed.err" && grep -q "+ lr = 3e-5" "$DIR/changed.err" \
    && ok "refused with the difference shown (exit $rc)" || { bad "changed study: exit $rc"; cat "$DIR/changed.err"; }
sed 's/^seeds = "1..2"$/seeds = "1..3"/' "$DIR/plain.toml" > "$DIR/extended.toml"
run "$DIR/extended.toml" --out "$DIR/ref-plain" --workers 1 > /dev/null 2> "$DIR/extended.err" || bad "extended study: $(tail -3 "$DIR/extended.err")"
grep -q "is extended: 1 run(s) added" "$DIR/extended.err" && ok "accepted as an extension" || bad "no extension note"
[ "$(grep -c 'starting' "$DIR/extended.err")" = 1 ] && ok "only the new run trained" || bad "$(grep -c starting "$DIR/extended.err") runs started"

fi
if want 7; then
echo "7. sentinel = restart, one of two processes killed -9"
# A learning rate too small to leave the constant prediction: the sentinel stops runs at their third update
# (norms every update), and each stopped run is replaced by the next seed, at most 2 times.
study "$DIR/restart.toml" restart 1..3 12 "lr = 1e-7
grad_norms_every = 1
sentinel = \"restart\"
max_restarts = 2"
run "$DIR/restart.toml" --out "$DIR/ref-restart" --workers 1 > /dev/null 2> "$DIR/ref-restart.err" || { bad "restart reference: $(tail -3 "$DIR/ref-restart.err")"; }
slots() { ls "$1"/restarts/*/*.json 2>/dev/null | wc -l; }
[ "$(slots "$DIR/ref-restart")" = 2 ] && ok "undisturbed: 2 replacements ($(ls "$DIR/ref-restart/runs" | wc -l) runs)" || bad "undisturbed: $(slots "$DIR/ref-restart") slots"
"$BIN" study run "$DIR/restart.toml" --out "$DIR/restart" --workers 1 > /dev/null 2> "$DIR/restartA.err" & pa=$!; PIDS+=("$pa")
"$BIN" study run "$DIR/restart.toml" --out "$DIR/restart" --workers 1 > /dev/null 2> "$DIR/restartB.err" & pb=$!; PIDS+=("$pb")
for _ in $(seq 1 240); do [ -n "$(held_by "$DIR/restart" "$pa" 2)" ] && break; sleep 0.25; done
kill -9 "$pa" 2>/dev/null && ok "a process killed -9 while training" || bad "process A ended before the kill"
wait_for "$pb" 120
run "$DIR/restart.toml" --out "$DIR/restart" --workers 1 > /dev/null 2> "$DIR/restartC.err"; rc=$?
[ "$rc" = 0 ] && ok "the study ends (exit 0)" || { bad "restart study: exit $rc"; tail -5 "$DIR/restartC.err"; }
[ "$(slots "$DIR/restart")" = 2 ] && ok "2 replacements, as undisturbed" || bad "$(slots "$DIR/restart") slots"
$CHECK "$DIR/ref-restart" "$DIR/restart" --same-runs && ok "every original and replacement once, identical to the undisturbed study" || bad "restart study differs"
md="$DIR/restart/report/report.md"
grep -q "by the sentinel, 2 restarted)" "$md" && grep -q "(originals: " "$md" && grep -q "Cite the original runs' std" "$md" \
    && grep -q "## Failure sentinel" "$md" && ok "the report shows the original failures, the restarts and both spreads" \
    || bad "the report misses the restarts: $(grep -A3 '^| task' "$md" | tail -1)"

fi
echo "$((SECONDS - START)) s"
[ "$fail" = 0 ] && echo "faults: all passed" || { echo "faults: FAILED (KEEP=1 keeps $DIR)"; exit 1; }

#!/usr/bin/env bash
# Study sharding on a real Slurm: installs Debian's slurmctld, slurmd and munge, starts a single-node cluster
# without systemd (munged with its own key and socket, a generated slurm.conf), submits a small study as a
# job array of 3 with `stabletune study slurm --submit`, waits with squeue (accounting is off, so no sacct),
# and checks that every run finished exactly once and equals the same study run locally. Stops its daemons
# on exit. Usage: tests/slurm/run.sh [path/to/stabletune]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-target/release/stabletune}")
ASSETS=$(realpath ../shared/assets)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurmctld, slurmd and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq slurmctld slurmd munge >/dev/null
fi

DIR=$(mktemp -d /tmp/stabletune-slurm.XXXXXX)
cleanup() {
    for pid in "$DIR"/slurmd.pid "$DIR"/slurmctld.pid "$DIR"/munged.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    sleep 1
    for pid in "$DIR"/slurmd.pid "$DIR"/slurmctld.pid "$DIR"/munged.pid; do
        [ -f "$pid" ] && kill -9 "$(cat "$pid")" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT

# munge: its own key, socket and seed file.
head -c 1024 /dev/urandom > "$DIR/munge.key"
chmod 400 "$DIR/munge.key"
munged -S "$DIR/munge.sock" --key-file "$DIR/munge.key" --seed-file "$DIR/munge.seed" \
    --pid-file "$DIR/munged.pid" --log-file "$DIR/munged.log" --force

HOST=$(hostname)
NODE=$(slurmd -C | head -1)
mkdir -p "$DIR/state" "$DIR/spool"
export SLURM_CONF="$DIR/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=stabletune-test
SlurmctldHost=$HOST
AuthType=auth/munge
AuthInfo=socket=$DIR/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
$NODE
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld
slurmd
for _ in $(seq 1 30); do
    sinfo -h -o %t 2>/dev/null | grep -q idle && break
    sleep 1
done
sinfo -h -o %t | grep -q idle || { echo "the Slurm node never became idle"; sinfo || true; cat "$DIR"/slurm*.log; exit 1; }

# A small study on real SST-2 rows with the real MiniLM: 2 recipes x 3 seeds, 2 updates each.
. tests/small_study.sh
small_study "$DIR" slurm-test "max_steps = 2"

cd "$DIR"
"$BIN" study slurm "$DIR/study.toml" --out "$DIR/cluster" --array-size 3 --cpus-per-task 1 --submit > "$DIR/submit.out"
JOB=$(grep -o 'Submitted batch job [0-9]*' "$DIR/submit.out" | awk '{print $4}')
[ -n "$JOB" ] || { echo "no job id in:"; cat "$DIR/submit.out"; exit 1; }
echo "submitted job array $JOB"
for _ in $(seq 1 600); do
    [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] && break
    sleep 1
done
[ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] || { echo "the job array did not finish in 10 minutes"; squeue; exit 1; }
ls "$DIR/cluster/slurm/"*.out >/dev/null

"$BIN" study run "$DIR/study.toml" --out "$DIR/local" > "$DIR/local.out" 2> "$DIR/local.err"

fail=0
runs=$(ls "$DIR/local/runs")
[ "$(echo "$runs" | wc -l)" = 6 ] || { echo "expected 6 runs locally, got: $runs"; fail=1; }
[ "$(ls "$DIR/cluster/runs")" = "$runs" ] || { echo "the cluster's runs differ from the local ones"; fail=1; }
for run in $runs; do
    c="$DIR/cluster/runs/$run" l="$DIR/local/runs/$run"
    grep -q '"status": "completed"' "$c/summary.json" || { echo "$run: not completed on the cluster"; fail=1; }
    # Trained exactly once: two evaluations (step 0 and the end), and the same log, summary and weights as
    # the local run.
    [ "$(grep -c '"eval"' "$c/metrics.jsonl")" = 2 ] || { echo "$run: not evaluated exactly twice"; fail=1; }
    cmp -s "$c/metrics.jsonl" "$l/metrics.jsonl" || { echo "$run: metrics.jsonl differs"; fail=1; }
    cmp -s "$c/checkpoint-last/model.safetensors" "$l/checkpoint-last/model.safetensors" || { echo "$run: weights differ"; fail=1; }
    strip() { grep -v -e wall_seconds -e train_examples_per_second "$1/summary.json"; }
    [ "$(strip "$c")" = "$(strip "$l")" ] || { echo "$run: summary differs"; fail=1; }
done
[ -z "$(ls "$DIR/cluster/claims")" ] || { echo "claims left behind"; fail=1; }
# The array task that ended the study's last run wrote its report.
[ -f "$DIR/cluster/report/report.html" ] || { echo "no report after the job array"; fail=1; }
for t in 0 1 2; do
    grep -q "shard $t/3" "$DIR"/cluster/slurm/*_"$t".out || { echo "array task $t did not run shard $t/3"; fail=1; }
done

# A resubmitted subset of an array, with the user's study file edited after the script was written: the
# script was written for 3 tasks; task 2 submitted alone runs shard 2/3 of the folder's snapshot (before,
# it read the edited file and computed its shard against the subset's size).
mkdir -p "$DIR/user"
cp "$DIR/study.toml" "$DIR/user/study.toml"
"$BIN" study slurm "$DIR/user/study.toml" --out "$DIR/subset" --array-size 3 --cpus-per-task 1 > /dev/null
echo 'lr = 9e-5' >> "$DIR/user/study.toml"
JOB2=$(sbatch --array=2 "$DIR/subset/slurm/job.sbatch" | awk '{print $4}')
for _ in $(seq 1 300); do
    [ -z "$(squeue -h -j "$JOB2" 2>/dev/null)" ] && break
    sleep 1
done
grep -q "shard 2/3" "$DIR"/subset/slurm/*_2.out || { echo "the resubmitted task 2 did not run shard 2/3"; cat "$DIR"/subset/slurm/*_2.out; fail=1; }
[ "$(ls "$DIR/subset/runs")" = "$runs" ] || { echo "the resubmitted task did not run the snapshot's runs"; fail=1; }
if [ "$fail" != 0 ]; then
    KEEP=1
    echo "kept $DIR for inspection"; exit 1
fi
echo "Slurm: a job array of 3 ran the study's 6 runs once each, identical to the local study; a resubmitted subset ran its own shard of the snapshot"

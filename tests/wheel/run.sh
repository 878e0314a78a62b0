#!/usr/bin/env bash
# The Python wheel as a user meets it: built with maturin in a throwaway virtual environment (reusing the
# release build), installed into a second, fresh one whose PATH has no cargo, and used there: the command's
# version, a tiny real study through the installed command, `read_runs` checked against the report's
# runs.csv, the DataFrame's dtypes with pandas, clear errors on bad input. Also the CPU check: the code
# that runs before `main` is disassembled (no vector register may appear in it) and the binary is run
# under QEMU as a CPU without AVX2 (installs Debian's qemu-user when missing).
#
#   tests/wheel/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ASSETS=$(realpath ../shared/assets)
export DEBIAN_FRONTEND=noninteractive

DIR=$(mktemp -d /tmp/stabletune-wheel.XXXXXX)
cleanup() { if [ "${KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi; }
trap cleanup EXIT
fail=0
check() { # check DESCRIPTION COMMAND...: runs the command, says what failed.
    local what=$1
    shift
    if ! "$@"; then
        echo "FAILED: $what"
        fail=1
    fi
}

echo "== building the wheel with maturin"
python3 -m venv "$DIR/build"
"$DIR/build/bin/pip" install -q maturin
"$DIR/build/bin/maturin" build --release --out "$DIR/wheels" 2>&1 | tail -3
WHEEL=$(ls "$DIR"/wheels/stabletune-*.whl)
echo "built $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1))"

echo "== installing it into a fresh environment without Rust"
python3 -m venv "$DIR/user"
"$DIR/user/bin/pip" install -q "$WHEEL"
# The user's shell: the environment's bin first, then the system's; no cargo, no rustup, no target/.
USER_ENV=(env -i "HOME=$DIR" "PATH=$DIR/user/bin:/usr/local/bin:/usr/bin:/bin" "LANG=C.UTF-8")
if "${USER_ENV[@]}" sh -c 'command -v cargo || command -v rustc'; then
    echo "FAILED: the user environment must not see a Rust toolchain"
    fail=1
fi
INSTALLED=$("${USER_ENV[@]}" sh -c 'command -v stabletune')
check "the command is the environment's own" [ "$INSTALLED" = "$DIR/user/bin/stabletune" ]

echo "== stabletune --version"
VERSION=$("${USER_ENV[@]}" stabletune --version)
echo "$VERSION"
CRATE_VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
COMMIT=$(git rev-parse HEAD | cut -c1-12)
check "--version prints the workspace version and the commit" \
    [ "$VERSION" = "stabletune $CRATE_VERSION (commit $COMMIT)" ]
check "the wheel has the workspace version" grep -q "stabletune-$CRATE_VERSION-" <<< "$(basename "$WHEEL")"

echo "== a tiny real study through the installed command"
. tests/small_study.sh
small_study "$DIR/s" wheel-test "max_steps = 2"
(cd "$DIR" && "${USER_ENV[@]}" stabletune study run "$DIR/s/study.toml" --out "$DIR/study" > "$DIR/study.out" 2>&1) ||
    { echo "FAILED: the study"; tail -20 "$DIR/study.out"; exit 1; }
[ -f "$DIR/study/report/runs.csv" ] || { echo "FAILED: the study wrote no report"; exit 1; }

echo "== read_runs and read_report against the report's runs.csv"
"${USER_ENV[@]}" python - "$DIR/study" <<'PY' || fail=1
import csv, sys
import stabletune

study = sys.argv[1]
with open(f"{study}/report/runs.csv", newline="") as f:
    expected = list(csv.DictReader(f))
runs = stabletune.read_runs(study)
assert len(runs) == len(expected) == 6, (len(runs), len(expected))
assert [r["run"] for r in runs] == [e["run"] for e in expected]
assert [r["status"] for r in runs] == [e["status"] for e in expected] == ["completed"] * 6
for r, e in zip(runs, expected):
    assert r["final_acc"] == float(e["final_acc"]), (r["final_acc"], e["final_acc"])
    assert isinstance(r["init_seed"], int) and r["init_seed"] == int(e["init_seed"])
    assert r["failed"] == {"true": True, "false": False}[e["failed"]]
    assert r["steps"] == 2
assert set(runs[0]) == set(expected[0]), "the records have runs.csv's columns"
report = stabletune.read_report(study)
assert len(report["runs"]) == 6 and {t["task"] for t in report["table"]} == {"sst-2"}, list(report)
print(f"read_runs: {len(runs)} runs, statuses and final_acc as in runs.csv; read_report: {len(report['table'])} rows")
PY

echo "== errors name the folder and the file"
mkdir -p "$DIR/empty"
cp -r "$DIR/study" "$DIR/broken"
BROKEN_RUN=$(ls -d "$DIR"/broken/runs/* | head -1)
echo '{"status": "completed", "final_metrics": {' > "$BROKEN_RUN/summary.json"
"${USER_ENV[@]}" python - "$DIR" "$BROKEN_RUN" <<'PY' || fail=1
import sys
import stabletune

root, broken_run = sys.argv[1], sys.argv[2]
def error_of(call, *args, **kw):
    try:
        call(*args, **kw)
    except stabletune.StabletuneError as e:
        return str(e)
    raise AssertionError(f"{call.__name__}{args} raised nothing")

said = error_of(stabletune.read_runs, f"{root}/empty")
assert f"{root}/empty" in said and "no run directories" in said, said
said = error_of(stabletune.read_runs, f"{root}/missing")
assert said == f"{root}/missing: no such folder", said
said = error_of(stabletune.read_runs, f"{root}/broken")
assert f"{broken_run}/summary.json" in said and "line" in said, said
said = error_of(stabletune.read_report, f"{root}/empty")
assert "no report.json" in said and f"{root}/empty/report.json" in said, said
with open(f"{root}/empty/report.json", "w") as f:
    f.write('{"runs": [')
said = error_of(stabletune.read_report, f"{root}/empty")
assert f"{root}/empty/report.json: not valid JSON at line 1" in said, said
said = error_of(stabletune.run, ["study", "status", f"{root}/empty"], capture_output=True)
assert "exited with status" in said and "not a study folder" in said, said
print("errors: folder with no runs, no folder, a corrupt summary.json, no or corrupt report.json, a failed command")
PY

echo "== read_runs(..., as_frame=True) with pandas"
"$DIR/user/bin/pip" install -q pandas
"${USER_ENV[@]}" python - "$DIR/study" <<'PY' || fail=1
import sys
import stabletune

df = stabletune.read_runs(sys.argv[1], as_frame=True)
dtypes = {c: str(t) for c, t in df.dtypes.items()}
want = {"run": "string", "status": "string", "init_seed": "Int64", "steps": "Int64", "failed": "boolean",
        "final_acc": "Float64", "wall_seconds": "Float64", "recipe": "string", "bias_correction": "boolean"}
for column, dtype in want.items():
    assert dtypes.get(column) == dtype, (column, dtypes.get(column), dtype)
assert len(df) == 6 and df["final_acc"].between(0, 1).all()
print(f"DataFrame: {len(df)} rows, dtypes {want}")
PY

echo "== the CPU check before main"
BIN="$DIR/user/bin/stabletune"
if ! command -v objdump >/dev/null || ! command -v qemu-x86_64 >/dev/null; then
    echo "installing binutils and qemu-user"
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends binutils qemu-user >/dev/null
fi
# The wheel's binary is the release build's; its symbols name the check's functions.
CHECK_ASM=$(objdump -d --no-show-raw-insn "$ROOT/target/release/stabletune" |
    awk '/^[0-9a-f]+ <.*stabletune3cpu.*>:$/ {on=1} on && /^$/ {on=0} on')
check "the check's code is in the binary" grep -q "cpuid" <<< "$CHECK_ASM"
if grep -E '%[xyz]mm' <<< "$CHECK_ASM"; then
    echo "FAILED: the code that runs before main uses vector registers (above)"
    fail=1
fi
check "the wheel's binary is the release build's" cmp -s "$BIN" "$ROOT/target/release/stabletune"
set +e
qemu-x86_64 -cpu Nehalem "$BIN" --version > "$DIR/old-cpu.out" 2>&1
status=$?
qemu-x86_64 -cpu Haswell "$BIN" --version > "$DIR/v3-cpu.out" 2>/dev/null
v3_status=$?
set -e
cat "$DIR/old-cpu.out"
check "a CPU without AVX2 is refused with status 7" [ "$status" = 7 ]
check "the refusal names AVX2" grep -q "this CPU lacks:.* AVX2" "$DIR/old-cpu.out"
check "a Haswell runs it" [ "$v3_status" = 0 ]
check "a Haswell prints the version" grep -q "^stabletune $CRATE_VERSION" "$DIR/v3-cpu.out"

if [ "$fail" = 0 ]; then echo "wheel: all checks passed"; else echo "wheel: FAILED"; exit 1; fi

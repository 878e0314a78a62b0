"""Checks a study folder against a reference study never disturbed (standard library only).

    check.py REFERENCE STUDY [--same-runs]

Every run of the reference must have ended in STUDY exactly as there: the summary without its timings,
the metrics log line for line, the final weights byte for byte. Every run's log must hold each step once
(no second trainer appended to it), and no temporary file or folder may be left in a run folder. With --same-runs, STUDY must hold no run folder
the reference does not (every run exactly once: none trained twice under another name). Prints
what differs and exits 1; prints nothing and exits 0 when all holds.
"""

import hashlib
import json
import os
import sys

TIMINGS = ("wall_seconds", "train_examples_per_second")


def summary(run):
    with open(os.path.join(run, "summary.json")) as f:
        s = json.load(f)
    for k in TIMINGS:
        s.pop(k, None)
    return s


def weights(run):
    for ck in ("checkpoint-last", "checkpoint-best"):
        p = os.path.join(run, ck, "model.safetensors")
        if os.path.exists(p):
            with open(p, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()
    return None


def log_problems(run):
    seen = set()
    problems = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for n, line in enumerate(f, 1):
            rec = json.loads(line)
            kind = "eval" if "eval" in rec else "sentinel" if "sentinel" in rec else "update"
            key = (kind, rec["step"])
            if key in seen:
                problems.append(f"line {n}: step {rec['step']} logged twice")
            seen.add(key)
    return problems


def main():
    ref, study = sys.argv[1], sys.argv[2]
    bad = []
    ref_runs = sorted(os.listdir(os.path.join(ref, "runs")))
    for name in ref_runs:
        a, b = os.path.join(ref, "runs", name), os.path.join(study, "runs", name)
        if not os.path.isfile(os.path.join(b, "summary.json")):
            bad.append(f"{name}: no summary")
            continue
        if summary(a) != summary(b):
            bad.append(f"{name}: summary differs: {summary(a)} != {summary(b)}")
        with open(os.path.join(a, "metrics.jsonl")) as f, open(os.path.join(b, "metrics.jsonl")) as g:
            if f.read() != g.read():
                bad.append(f"{name}: metrics.jsonl differs")
        if weights(a) != weights(b):
            bad.append(f"{name}: weights differ")
        bad.extend(f"{name}: {p}" for p in log_problems(b))
        leftovers = [e for e in os.listdir(b) if e.endswith(".tmp") or ".old." in e]
        if leftovers:
            bad.append(f"{name}: temporary files left: {leftovers}")
    if "--same-runs" in sys.argv[3:]:
        extra = sorted(set(os.listdir(os.path.join(study, "runs"))) - set(ref_runs))
        if extra:
            bad.append(f"run folders the reference does not have: {extra}")
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Write the golden cases of `fisher_exact` and `holm` (crates/stats/src/multiple.rs).

Run by hand, not in CI (CI reads the committed JSON):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scipy statsmodels
    /tmp/venv/bin/python tools/make_multiple_testing_goldens.py

Output: `crates/stats/tests/goldens/multiple_testing.json` with two lists of named cases:
`fisher` (the 2 x 2 table, scipy's odds ratio, null when it is infinite or undefined, and the
two-sided p-value) and `holm` (p-values in, `multipletests(method="holm")` adjusted p-values out).
"""

import json
import math
import pathlib

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.multitest import multipletests

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "stats" / "tests" / "goldens" / "multiple_testing.json"


def fisher():
    tables = [
        # failed / successful runs of two recipes, as a stability study has them
        ("table1 rte devlin vs mosbach", [[5, 20], [0, 25]]),
        ("demo 0 of 4 vs 3 of 4", [[0, 4], [3, 1]]),
        ("all failed vs none", [[25, 0], [0, 25]]),
        ("equal", [[2, 8], [2, 8]]),
        ("tea", [[3, 1], [1, 3]]),
        ("one possible table", [[0, 0], [3, 4]]),
        ("empty", [[0, 0], [0, 0]]),
        ("zero column", [[0, 5], [0, 7]]),
        ("symmetric ties", [[5, 5], [5, 5]]),
        ("lopsided", [[1, 30], [12, 19]]),
        ("large", [[120, 380], [95, 405]]),
        ("large tied margins", [[250, 250], [250, 250]]),
        ("single failure", [[1, 24], [0, 25]]),
        ("dodge 10x10 vs 10x10", [[17, 83], [4, 96]]),
    ]
    rng = np.random.default_rng(20261201)
    for i in range(12):
        n1, n2 = rng.integers(2, 60, 2)
        a = int(rng.integers(0, n1 + 1))
        c = int(rng.integers(0, n2 + 1))
        tables.append((f"random {i}", [[a, int(n1 - a)], [c, int(n2 - c)]]))
    cases = []
    for name, t in tables:
        r = stats.fisher_exact(t)
        odds = float(r.statistic)
        cases.append({
            "name": name,
            "table": t,
            "odds_ratio": odds if math.isfinite(odds) else None,
            "p_value": float(r.pvalue),
        })
    return cases


def holm():
    lists = [
        ("textbook", [0.01, 0.04, 0.03, 0.5]),
        ("single", [0.03]),
        ("ties", [0.02, 0.02, 0.02]),
        ("all large", [0.6, 0.7, 0.9]),
        ("ones and zeros", [0.0, 1.0, 0.0, 0.5]),
        ("levene column", [0.003, 0.41, 0.049, 0.2, 0.0001]),
    ]
    rng = np.random.default_rng(7)
    for i in range(6):
        lists.append((f"random {i}", list(rng.uniform(0, 0.2, int(rng.integers(2, 12))))))
    return [
        {"name": name, "p": [float(x) for x in p], "adjusted": [float(x) for x in multipletests(p, method="holm")[1]]}
        for name, p in lists
    ]


def main():
    out = {
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
        "fisher": fisher(),
        "holm": holm(),
    }
    # One case per line, so that a change shows as a readable diff.
    sections = [f' "versions": {json.dumps(out["versions"])}']
    for key in ("fisher", "holm"):
        body = ",\n  ".join(json.dumps(c, allow_nan=False) for c in out[key])
        sections.append(f" {json.dumps(key)}: [\n  {body}\n ]")
    OUT.write_text("{\n" + ",\n".join(sections) + "\n}\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

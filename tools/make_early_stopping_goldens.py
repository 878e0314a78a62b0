#!/usr/bin/env python3
"""Goldens for the offline early-stopping simulation (crates/report/src/early_stopping.rs): Dodge et al.'s
procedure (dodgejesse/bert_on_stilts, analysis/early_stopping.py: find_valid_assignments,
assignment_within_budget, one_experiment, find_rank_after_num_evals) re-implemented directly, with its
average over random subsamples replaced by the exact average over every ordered subsample, so that the
Rust code (which computes the same expectation exactly for small studies) can be held to 1e-12.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy
    /tmp/venv/bin/python tools/make_early_stopping_goldens.py

Writes crates/report/tests/goldens/early_stopping.json: the synthetic study (6 runs x 8 evaluations of
distinct values, so that no ranking has ties) and, per budget, every valid plan with its expected best
and the best plan (their sort: the highest value, the earliest plan among equals).
"""

import itertools
import json
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "report" / "tests" / "goldens" / "early_stopping.json"


def find_valid_assignments(n_runs, evals, budget):
    """Their loops: started 1..N, then (started, 0, E) and (started, stop 1..started, t 1..E-1)."""
    out = []
    total = budget * evals

    def within(num_exp, num_stop, num_evals):
        if (num_exp - num_stop) * evals + num_stop * num_evals == total:
            out.append((num_exp, num_stop, num_evals))

    for num_exp in range(1, n_runs + 1):
        within(num_exp, 0, evals)
        for num_stop in range(1, num_exp + 1):
            for num_evals in range(1, evals):
                within(num_exp, num_stop, num_evals)
    return out


def one_draw(sub, num_stop, num_evals):
    """one_experiment's body for one subsample."""
    to_rank = sub[:, :num_evals].max(axis=1)
    ranks = np.argsort(to_rank, kind="stable")
    train_fully = sub[ranks[num_stop:]]
    stop_train = sub[ranks[:num_stop]]
    values = []
    if len(train_fully):
        values.append(train_fully.max(axis=1).max())
    if len(stop_train):
        values.append(stop_train[:, :num_evals].max(axis=1).max())
    return max(values)


def expected(curves, num_exp, num_stop, num_evals):
    n = len(curves)
    total = 0.0
    count = 0
    for idx in itertools.product(range(n), repeat=num_exp):
        total += one_draw(curves[list(idx)], num_stop, num_evals)
        count += 1
    return total / count


def main():
    rng = np.random.default_rng(2020)
    n, e = 6, 8
    # Learning curves: a run's level plus noise, rising over training; every value distinct.
    level = rng.uniform(0.5, 0.8, n)
    curves = np.array([[level[i] * (0.7 + 0.3 * j / (e - 1)) + rng.normal(0, 0.03) for j in range(e)] for i in range(n)])
    assert len(set(curves.ravel().tolist())) == n * e
    budgets = []
    for budget in range(1, n + 1):
        plans = []
        for num_exp, num_stop, num_evals in find_valid_assignments(n, e, budget):
            plans.append({
                "started": num_exp, "stopped": num_stop, "evals_before_stop": num_evals,
                "value": expected(curves, num_exp, num_stop, num_evals),
            })
        best = max(plans, key=lambda p: p["value"])  # max keeps the first of equals
        budgets.append({"budget": budget, "plans": plans, "best": best})
        print(f"budget {budget}: {len(plans)} plans, train fully {plans[0]['value']:.6f}, best {best}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"curves": curves.tolist(), "budgets": budgets}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

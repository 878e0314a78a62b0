#!/usr/bin/env python3
"""Goldens for the offline early-stopping simulation (crates/report/src/early_stopping.rs): Dodge et al.'s
procedure (dodgejesse/bert_on_stilts, analysis/early_stopping.py: find_valid_assignments,
assignment_within_budget, one_experiment, find_rank_after_num_evals, early_stop_with_fixed_budget; and
early_stopping_analysis.py, which reads each budget's best plan) re-implemented directly in plain Python,
with its average over random subsamples replaced by the exact average over every ordered subsample, so that
the Rust code (which computes the same expectation exactly for small studies) can be held to 1e-12.

Their rules kept here:
- a run's curve starts with its evaluation at batch 0 (every grid of batch_nums_for_early_stopping.py starts
  at 0), so a plan may stop runs after 1 evaluation: ranked on the model before training;
- ranking after t evaluations by each run's best of its first t (np.argsort, whose default sort is an
  insertion sort, so stable, for fewer than 17 runs: ties go to the run drawn first);
- each budget's plans are sorted as (value, counter, plan) tuples, the counter counting plans in their
  order, and the last is the best: the highest value, and among equal values the LAST plan.

    python3 tools/make_early_stopping_goldens.py

Writes crates/report/tests/goldens/early_stopping.json with two studies, each with its curves (runs x
evaluations, the step-0 evaluation first) and, per budget, every valid plan with its expected best and the
best plan:
- "random": 6 runs x 8 evaluations of distinct values, rising over training, whose best plans are unique;
- "ties": 4 runs x 4 evaluations of multiples of 1/8 (so every sum is exact in any order, and equal
  expectations are equal floats in both implementations), each run at its best by its second evaluation, so
  that plans stopping after two or more evaluations tie with training the same runs fully and the tie rule
  decides the best plan.
"""

import itertools
import json
import pathlib
import random

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
    """one_experiment's body for one subsample (a list of curves)."""
    to_rank = [max(c[:num_evals]) for c in sub]
    ranks = sorted(range(len(sub)), key=lambda i: to_rank[i])  # stable, as their argsort here
    train_fully = [max(sub[i]) for i in ranks[num_stop:]]
    stop_train = [max(sub[i][:num_evals]) for i in ranks[:num_stop]]
    return max(train_fully + stop_train)


def expected(curves, num_exp, num_stop, num_evals):
    n = len(curves)
    total = 0.0
    count = 0
    for idx in itertools.product(range(n), repeat=num_exp):
        total += one_draw([curves[i] for i in idx], num_stop, num_evals)
        count += 1
    return total / count


def best_of(plans):
    """early_stop_with_fixed_budget's sort of (value, counter, plan) and early_stopping_analysis's [-1]."""
    # Their counter runs on across budgets; within one budget it orders plans as they were found.
    ranked = sorted((p["value"], counter) for counter, p in enumerate(plans))
    return plans[ranked[-1][1]]


def study(curves):
    n, e = len(curves), len(curves[0])
    budgets = []
    for budget in range(1, n + 1):
        plans = []
        for num_exp, num_stop, num_evals in find_valid_assignments(n, e, budget):
            plans.append({
                "started": num_exp, "stopped": num_stop, "evals_before_stop": num_evals,
                "value": expected(curves, num_exp, num_stop, num_evals),
            })
        best = best_of(plans)
        tied = [p for p in plans if p["value"] == best["value"]]
        budgets.append({"budget": budget, "plans": plans, "best": best})
        print(f"budget {budget}: {len(plans)} plans, train fully {plans[0]['value']:.6f}, best {best}"
              + (f", tied with {len(tied) - 1} earlier" if len(tied) > 1 else ""))
    return {"curves": curves, "budgets": budgets}


def random_curves():
    rng = random.Random(2020)
    n, e = 6, 8
    # Learning curves: a run's level plus noise, rising over training; every value distinct.
    level = [rng.uniform(0.5, 0.8) for _ in range(n)]
    curves = [[level[i] * (0.7 + 0.3 * j / (e - 1)) + rng.gauss(0, 0.03) for j in range(e)] for i in range(n)]
    assert len({v for c in curves for v in c}) == n * e
    return curves


TIE_CURVES = [
    [0.25, 0.5, 0.5, 0.375],
    [0.25, 0.625, 0.5, 0.5],
    [0.125, 0.75, 0.625, 0.75],
    [0.25, 0.875, 0.75, 0.75],
]


def main():
    print("random study")
    rand = study(random_curves())
    for b in rand["budgets"]:
        values = sorted(p["value"] for p in b["plans"])
        # The best plan is unique by a margin far above rounding, so the order of summation cannot decide it.
        assert len(values) == 1 or values[-1] - values[-2] > 1e-9, b["budget"]
    print("tie study")
    ties = study(TIE_CURVES)
    b3 = ties["budgets"][2]
    assert (b3["best"]["started"], b3["best"]["stopped"], b3["best"]["evals_before_stop"]) == (4, 4, 3)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"random": rand, "ties": ties}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

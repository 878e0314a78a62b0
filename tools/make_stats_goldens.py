#!/usr/bin/env python3
"""Write the golden cases of `crates/stats` from numpy, scipy and scikit-learn.

Run by hand, not in CI (CI reads the committed JSON):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scipy scikit-learn statsmodels
    /tmp/venv/bin/python tools/make_stats_goldens.py

statsmodels is optional: when installed, the hand-written two-way ANOVA is checked against
`anova_lm`, and its sums of squares are written beside the hand-computed ones. Output:
`crates/stats/tests/goldens/stats.json` and `intervals.json` (t and BCa intervals), each one object
whose keys name the Rust function family; each holds a list of named cases. Non-finite inputs are written as the strings
"nan", "inf", "-inf" (JSON has no NaN). A case with an "error" key expects that `StatsError`
variant from the Rust function, and "scipy" records what the reference does with the same input.
"""

import itertools
import json
import math
import pathlib
import sys
import warnings
from fractions import Fraction

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from stats_interval_goldens import intervals_doc

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "stats" / "tests" / "goldens" / "stats.json"
INTERVALS = ROOT / "crates" / "stats" / "tests" / "goldens" / "intervals.json"
QS = [0.0, 0.01, 0.1, 0.25, 1 / 3, 0.5, 0.9, 0.975, 1.0]

warnings.simplefilter("ignore")  # scipy warns on the degenerate cases we record on purpose


def enc(v):
    """A float (or nested list of floats) as JSON: non-finite values as strings."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [enc(x) for x in v]
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def scipy_outcome(f):
    """What the reference does with an input we refuse: 'nan', 'inf', 'raises' or 'value'."""
    try:
        r = f()
    except Exception as e:  # noqa: BLE001
        return f"raises {type(e).__name__}"
    vals = np.atleast_1d(np.asarray(r, dtype=float))
    if np.isnan(vals).any():
        return "nan"
    if np.isinf(vals).any():
        return "inf"
    return "value"


rng = np.random.default_rng(20240605)


def accuracies(n, size=277, p=0.65, spread=0.05):
    """n plausible dev accuracies on a dev set of `size` examples (multiples of 1/size)."""
    return np.round(np.clip(rng.normal(p, spread, n), 0, 1) * size) / size


# ---------------------------------------------------------------- descriptive
def describe_case(name, x):
    x = np.asarray(x, dtype=float)
    q25, q75 = np.quantile(x, [0.25, 0.75])
    return {
        "name": name,
        "x": enc(x),
        "mean": enc(np.mean(x)),
        "std_sample": enc(np.std(x, ddof=1)) if len(x) > 1 else None,
        "std_population": enc(np.std(x, ddof=0)),
        "var_sample": enc(np.var(x, ddof=1)) if len(x) > 1 else None,
        "var_population": enc(np.var(x, ddof=0)),
        "median": enc(np.median(x)),
        "min": enc(np.min(x)),
        "max": enc(np.max(x)),
        "q25": enc(q25),
        "q75": enc(q75),
        "iqr": enc(iqr_numpy(x)),
        "qs": enc(QS),
        "quantiles": enc(np.quantile(x, QS)),
    }


def iqr_numpy(x):
    """Q(0.75) - Q(0.25) with numpy's quantiles. scipy.stats.iqr interpolates with its own
    `stats.quantile` and can differ in the last bit (one ulp of the data, not of the range)."""
    q25, q75 = np.quantile(x, [0.25, 0.75])
    ulp = np.spacing(np.max(np.abs(x)))
    assert abs(stats.iqr(x) - (q75 - q25)) <= 4 * ulp
    return q75 - q25


def descriptive():
    cases = [
        describe_case("small_ints", [2, 4, 4, 4, 5, 5, 7, 9]),
        describe_case("two_values", [1.5, -2.25]),
        describe_case("single_value", [0.527]),
        describe_case("equal_values", [0.7] * 5),
        describe_case("ties_and_negatives", [-1, 3, 3, -1, 0, 2.5, 3, -7.25, 0]),
        describe_case("rte_accuracies_25_seeds", accuracies(25)),
        describe_case("odd_length_unsorted", rng.normal(size=11)),
        describe_case("large_normal_5000", rng.normal(100, 15, 5000)),
        describe_case("large_offset_3000", 1e6 + rng.normal(0, 1e-3, 3000)),
        describe_case("tiny_scale", rng.normal(0, 1e-9, 40)),
        describe_case("heavy_tailed", rng.standard_cauchy(301)),
    ]
    errors = [
        {"name": "empty", "x": [], "error": "Empty", "scipy": scipy_outcome(lambda: np.mean([]))},
        {"name": "nan", "x": enc([0.5, float("nan"), 0.6]), "error": "NonFinite", "index": 1,
         "scipy": scipy_outcome(lambda: np.mean([0.5, np.nan, 0.6]))},
        {"name": "inf", "x": enc([0.5, 0.6, float("inf")]), "error": "NonFinite", "index": 2,
         "scipy": scipy_outcome(lambda: np.std([0.5, 0.6, np.inf]))},
    ]
    return cases, errors


def rankdata():
    xs = {
        "no_ties": [3.0, 1.0, 2.0],
        "ties": [3, 1, 3, 2, 3, -0.0, 0.0, 1],
        "all_equal": [4.2] * 4,
        "random_ties": np.round(rng.normal(size=200), 1),
    }
    return [{"name": k, "x": enc(np.asarray(v, float)), "ranks": enc(stats.rankdata(v))}
            for k, v in xs.items()]


# ---------------------------------------------------------------- metrics
def classification():
    def case(name, t, p):
        t, p = np.asarray(t), np.asarray(p)
        acc = accuracy_score(t, p)
        f1 = f1_score(t, p, labels=[1], average=None, zero_division=0.0)[0]
        if len(np.union1d(t, p)) <= 2 and set(np.union1d(t, p)) <= {0, 1}:
            # GLUE's call: the binary average with pos_label=1 and the default zero_division
            assert f1 == f1_score(t, p)
        return {"name": name, "y_true": t.tolist(), "y_pred": p.tolist(), "accuracy": acc,
                "f1": f1, "mcc": matthews_corrcoef(t, p), "acc_and_f1": (acc + f1) / 2}

    t408 = (rng.random(408) < 0.68).astype(int)
    flip = rng.random(408) < 0.15
    t1043 = (rng.random(1043) < 0.69).astype(int)
    t3 = rng.integers(0, 3, 500)
    p3 = np.where(rng.random(500) < 0.6, t3, rng.integers(0, 3, 500))
    t_big = rng.integers(0, 2, 20000)
    p_big = np.where(rng.random(20000) < 0.9, t_big, 1 - t_big)
    cases = [
        case("mrpc_like_408", t408, np.where(flip, 1 - t408, t408)),
        case("constant_majority_prediction", t1043, np.ones_like(t1043)),
        case("constant_minority_prediction", t1043, np.zeros_like(t1043)),
        case("no_positive_anywhere", [0, 0, 0, 0], [0, 0, 0, 0]),
        case("no_positive_prediction", [1, 0, 1, 0], [0, 0, 0, 0]),
        case("all_correct", [0, 1, 1, 0, 1], [0, 1, 1, 0, 1]),
        case("all_wrong", [0, 1, 1, 0, 1], [1, 0, 0, 1, 0]),
        case("single_example", [1], [1]),
        case("multiclass_3", t3, p3),
        case("large_20000", t_big, p_big),
    ]
    errors = [
        {"name": "length_mismatch", "y_true": [0, 1, 1], "y_pred": [0, 1], "error": "LengthMismatch",
         "scipy": scipy_outcome(lambda: accuracy_score([0, 1, 1], [0, 1]))},
        {"name": "empty", "y_true": [], "y_pred": [], "error": "Empty",
         "scipy": scipy_outcome(lambda: matthews_corrcoef([], []))},
    ]
    return cases, errors


def majority():
    def case(name, train, dev, metric):
        train, dev = np.asarray(train), np.asarray(dev)
        clf = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(train), 1)), train)
        pred = clf.predict(np.zeros((len(dev), 1)))
        score = {
            "accuracy": lambda: accuracy_score(dev, pred),
            "f1": lambda: f1_score(dev, pred, zero_division=0.0),
            "mcc": lambda: matthews_corrcoef(dev, pred),
            "acc_and_f1": lambda: (accuracy_score(dev, pred) + f1_score(dev, pred)) / 2,
        }[metric]()
        return {"name": name, "train": train.tolist(), "dev": dev.tolist(), "metric": metric,
                "label": int(pred[0]), "baseline": score}

    def labels(n, p1):
        return (rng.random(n) < p1).astype(int)

    return [
        # RTE: 2490 train, 277 dev; label 1 = not_entailment (the paper's 0.527)
        case("rte_like_accuracy", labels(2490, 0.498), [0] * 146 + [1] * 131, "accuracy"),
        case("mrpc_like_acc_and_f1", labels(3668, 0.674), [1] * 279 + [0] * 129, "acc_and_f1"),
        case("cola_like_mcc", labels(8551, 0.704), labels(1043, 0.69), "mcc"),
        case("majority_zero_f1", labels(100, 0.2), labels(50, 0.5), "f1"),
        case("tie_goes_to_smallest", [0, 1, 1, 0], [1, 1, 0], "accuracy"),
        case("multiclass", rng.integers(0, 3, 300), rng.integers(0, 3, 80), "accuracy"),
    ]


def failed():
    def case(name, values, baseline):
        v = np.asarray(values, float)
        return {"name": name, "values": enc(v), "baseline": baseline,
                "failed": int(np.sum(v <= baseline)), "fraction": float(np.mean(v <= baseline))}

    acc = accuracies(25, p=0.6, spread=0.08)
    return [
        case("rte_25_seeds", acc, 146 / 277),
        case("exactly_at_baseline", [146 / 277, 0.6, 0.5, 146 / 277], 146 / 277),
        case("cola_mcc", [0.0, 0.61, 0.0, 0.58, -0.01, 0.6], 0.0),
        case("none_failed", [0.9, 0.91], 0.5),
    ]


def correlation():
    def case(name, x, y, with_test=True):
        x, y = np.asarray(x, float), np.asarray(y, float)
        c = {"name": name, "x": enc(x), "y": enc(y)}
        for key, f in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr)):
            r, p = f(x, y)
            # A perfect correlation computed as 1 - 1e-16: the 1e-16 and the p-value (scipy: 1e-24,
            # or 1e-8 with three points) are rounding noise; the exact r = +-1 has p = 0. What
            # scipy returned is kept beside the exact values.
            exact_r = np.sign(r) if abs(abs(r) - 1) < 4e-16 else r
            exact_p = 0.0 if with_test and abs(exact_r) == 1 else p
            if exact_r != r:
                c[f"scipy_{key}"] = enc(r)
            if with_test and exact_p != p:
                c[f"scipy_{key}_p"] = enc(p)
            r, p = exact_r, exact_p
            c[key] = enc(r)
            if with_test:
                c[f"{key}_p"] = enc(p)
        return c

    x50 = rng.normal(size=50)
    stsb_true = np.round(rng.uniform(0, 5, 1500), 1)
    stsb_pred = stsb_true + rng.normal(0, 0.8, 1500)
    xl = np.round(rng.normal(size=5000), 1)
    yl = np.round(0.3 * xl + rng.normal(size=5000), 1)
    early = accuracies(25, p=0.6, spread=0.06)
    final = np.clip(early + rng.normal(0.05, 0.03, 25), 0, 1)
    cases = [
        case("three_points", [1, 2, 3.5], [2, 1, 7]),
        case("two_points_statistic_only", [1, 2], [5, 3], with_test=False),
        case("perfect", [1, 2, 3, 4, 5], [2, 4, 6, 8, 10]),
        case("monotone_nonlinear", [1, 2, 3, 4, 5, 6], [1, 8, 27, 64, 125, 216]),
        case("negative_50", x50, -0.7 * x50 + rng.normal(0, 0.5, 50)),
        case("ties_in_both", [1, 2, 2, 3, 3, 3, 4, 5], [2, 2, 1, 4, 4, 5, 5, 3]),
        case("stsb_like_1500", stsb_pred, stsb_true),
        case("early_vs_final_25", early, final),
        case("large_ties_5000", xl, yl),
        case("near_independent", rng.normal(size=40), rng.normal(size=40)),
        case("strong_tiny_p", x50, x50 + rng.normal(0, 0.01, 50)),
        case("offset_scale", 1e6 + x50 * 1e-3, 1e-6 * x50 + rng.normal(0, 1e-7, 50)),
        # Perfect relations whose computed r is 1 - 1e-16 in this crate before the rounding
        # threshold (crates/stats/src/spread.rs); exactly +-1 with p = 0 expected.
        case("collinear_decimals_11", [0.1 * i for i in range(11)], [0.3 * i + 0.1 for i in range(11)]),
        case("anticollinear_decimals_6", [0.1 * i for i in range(6)], [-0.07 * i + 0.3 for i in range(6)]),
        case("monotone_three", [0.0, 0.1, 0.2], [0.0, 0.001, 0.008]),
    ]
    errors = [
        {"name": "constant_x", "x": [1.0, 1.0, 1.0], "y": [1.0, 2.0, 3.0], "error": "Degenerate",
         "scipy": scipy_outcome(lambda: stats.pearsonr([1.0, 1, 1], [1.0, 2, 3]).statistic)},
        {"name": "nan", "x": enc([1.0, float("nan"), 3.0]), "y": [1.0, 2.0, 3.0],
         "error": "NonFinite", "scipy": scipy_outcome(
             lambda: stats.spearmanr([1.0, np.nan, 3.0], [1.0, 2, 3]).statistic)},
        {"name": "length_mismatch", "x": [1.0, 2.0, 3.0], "y": [1.0, 2.0], "error": "LengthMismatch",
         "scipy": scipy_outcome(lambda: stats.pearsonr([1.0, 2, 3], [1.0, 2]))},
        {"name": "one_pair", "x": [1.0], "y": [2.0], "error": "TooFew",
         "scipy": scipy_outcome(lambda: stats.pearsonr([1.0], [2.0]))},
    ]
    return cases, errors


# ---------------------------------------------------------------- variance tests
def levene():
    def case(name, groups):
        groups = [np.asarray(g, float) for g in groups]
        out = {"name": name, "groups": [enc(g) for g in groups]}
        for center in ("mean", "median"):
            r = stats.levene(*groups, center=center)
            out[center] = {"statistic": enc(r.statistic), "pvalue": enc(r.pvalue)}
        return out

    cases = [
        case("two_recipes_25_seeds", [accuracies(25, spread=0.045), accuracies(25, spread=0.027)]),
        case("three_recipes", [accuracies(25, spread=s) for s in (0.079, 0.045, 0.027)]),
        case("ties", [[1, 1, 2, 2, 3], [1, 2, 2, 2, 5, 5], [0, 0, 0, 4]]),
        case("tiny_group_of_two", [[0.5, 0.7], [0.1, 0.4, 0.9, 0.3]]),
        case("one_group_constant", [[0.5, 0.5, 0.5], [0.1, 0.4, 0.9, 0.3]]),
        case("unequal_sizes", [rng.normal(0, 1, 7), rng.normal(5, 3, 40), rng.normal(-2, 1, 12)]),
        case("large_3x2000", [rng.normal(0, s, 2000) for s in (1.0, 1.05, 1.1)]),
        case("very_different", [rng.normal(0, 1, 100), rng.normal(0, 10, 100)]),
        case("offset", [1e6 + rng.normal(0, 1, 30), 1e6 + rng.normal(0, 2, 30)]),
    ]
    errors = [
        {"name": "one_group", "groups": [[1.0, 2.0, 3.0]], "error": "TooFew",
         "scipy": scipy_outcome(lambda: stats.levene([1.0, 2, 3]))},
        {"name": "group_of_one", "groups": [[1.0, 2.0, 3.0], [4.0]], "error": "TooFew",
         "scipy": scipy_outcome(lambda: stats.levene([1.0, 2, 3], [4.0], center="mean"))},
        {"name": "empty_group", "groups": [[1.0, 2.0, 3.0], []], "error": "Empty",
         "scipy": scipy_outcome(lambda: stats.levene([1.0, 2, 3], []))},
        {"name": "nan", "groups": [[1.0, 2.0, 3.0], enc([4.0, float("nan"), 5.0])],
         "error": "NonFinite", "scipy": scipy_outcome(
             lambda: stats.levene([1.0, 2, 3], [4.0, np.nan, 5]))},
        {"name": "all_groups_of_two", "groups": [[1.0, 2.0], [3.0, 5.0]], "error": "Degenerate",
         "scipy": scipy_outcome(lambda: stats.levene([1.0, 2], [3.0, 5], center="mean"))},
        # Two values lie equally far from their mean in exact arithmetic, not in floating point:
        # the within-group sum of squares is ~1e-33, rounding error.
        {"name": "groups_of_two_rounding", "groups": [[0.1, 0.3], [0.5, 0.6]], "error": "Degenerate",
         "scipy": scipy_outcome(lambda: stats.levene([0.1, 0.3], [0.5, 0.6], center="mean").statistic)},
        {"name": "collapsed_groups", "groups": [[0.7] * 3, [0.1] * 4], "error": "Degenerate",
         "scipy": scipy_outcome(lambda: stats.levene([0.7] * 3, [0.1] * 4, center="mean").statistic)},
    ]
    return cases, errors


# ---------------------------------------------------------------- comparisons
def welch():
    def case(name, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        r = stats.ttest_ind(x, y, equal_var=False)
        return {"name": name, "x": enc(x), "y": enc(y), "statistic": enc(r.statistic),
                "df": enc(r.df), "pvalue": enc(r.pvalue),
                "mean_difference": enc(np.mean(x) - np.mean(y))}

    cases = [
        case("two_recipes_25_seeds", accuracies(25, p=0.509, spread=0.045),
             accuracies(25, p=0.673, spread=0.027)),
        case("unequal_sizes", rng.normal(0, 1, 5), rng.normal(0.5, 3, 40)),
        case("tiny_two_and_two", [0.5, 0.7], [0.6, 0.65]),
        case("one_constant_sample", [0.5, 0.5, 0.5], [0.4, 0.6, 0.7, 0.3]),
        case("equal_means", [1.0, 2.0, 3.0], [0.0, 2.0, 4.0]),
        case("large_5000_4000", rng.normal(0, 1, 5000), rng.normal(0.02, 1.3, 4000)),
        case("tiny_p", rng.normal(0, 1, 200), rng.normal(2, 1, 200)),
        case("offset", 1e6 + rng.normal(0, 1e-3, 20), 1e6 + rng.normal(1e-3, 1e-3, 20)),
    ]
    errors = [
        {"name": "both_constant", "x": [1.0, 1.0], "y": [2.0, 2.0, 2.0], "error": "Degenerate",
         "scipy": scipy_outcome(lambda: stats.ttest_ind([1.0, 1], [2.0, 2, 2], equal_var=False))},
        # The mean of three 0.7s can round to 0.6999999999999998: a variance of ~1e-32, not 0.
        {"name": "both_constant_0.7", "x": [0.7] * 3, "y": [0.7] * 7, "error": "Degenerate",
         "scipy": scipy_outcome(lambda: stats.ttest_ind([0.7] * 3, [0.7] * 7, equal_var=False))},
        {"name": "single_value", "x": [1.0], "y": [2.0, 3.0], "error": "TooFew",
         "scipy": scipy_outcome(lambda: stats.ttest_ind([1.0], [2.0, 3], equal_var=False))},
        {"name": "nan", "x": enc([1.0, float("nan")]), "y": [2.0, 3.0], "error": "NonFinite",
         "scipy": scipy_outcome(lambda: stats.ttest_ind([1.0, np.nan], [2.0, 3], equal_var=False))},
    ]
    return cases, errors


def mann_whitney():
    from scipy.stats._mannwhitneyu import _mwu_choose_method

    def case(name, x, y, method="auto"):
        x, y = np.asarray(x, float), np.asarray(y, float)
        r = stats.mannwhitneyu(x, y, method=method)
        ties = len(np.unique(np.concatenate([x, y]))) < len(x) + len(y)
        used = _mwu_choose_method(len(x), len(y), ties) if method == "auto" else method
        return {"name": name, "x": enc(x), "y": enc(y), "method": method, "method_used": used,
                "statistic": enc(r.statistic), "pvalue": enc(r.pvalue)}

    big_x = np.round(rng.normal(0, 1, 3000), 1)
    big_y = np.round(rng.normal(0.05, 1, 2500), 1)
    cases = [
        case("exact_5_7", rng.normal(size=5), rng.normal(size=7)),
        case("exact_3_20", rng.normal(0, 1, 3), rng.normal(1, 1, 20)),
        case("exact_8_8", rng.normal(size=8), rng.normal(0.5, 1, 8)),
        case("exact_1_1", [1.0], [2.0]),
        case("exact_complete_separation", [1, 2, 3, 4], [5, 6, 7, 8, 9]),
        case("exact_8_60", rng.normal(size=8), rng.normal(0.3, 1, 60)),
        case("asymptotic_ties_small", [1, 2, 2, 3], [2, 3, 4, 4, 5]),
        case("asymptotic_25_seeds_ties", accuracies(25, p=0.62), accuracies(25, p=0.64)),
        case("asymptotic_no_ties_9_10", rng.normal(size=9), rng.normal(size=10)),
        case("forced_asymptotic_small", rng.normal(size=5), rng.normal(size=6), "asymptotic"),
        case("forced_exact_9_12", rng.normal(size=9), rng.normal(0.8, 1, 12), "exact"),
        case("large_ties_3000_2500", big_x, big_y),
        case("asymptotic_tiny_p", rng.normal(0, 1, 300), rng.normal(1.5, 1, 300)),
        # Every value tied: the variance of U is 0, z = -0.5 / 0 = -inf and scipy's p is 1.
        case("all_tied", [0.5, 0.5], [0.5, 0.5, 0.5]),
    ]
    errors = [
        {"name": "empty", "x": [], "y": [1.0, 2.0], "error": "Empty",
         "scipy": scipy_outcome(lambda: stats.mannwhitneyu([], [1.0, 2]))},
        {"name": "nan", "x": enc([1.0, float("nan")]), "y": [1.0, 2.0], "error": "NonFinite",
         "scipy": scipy_outcome(lambda: stats.mannwhitneyu([1.0, np.nan], [1.0, 2]))},
    ]
    return cases, errors


def mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def exact_permutation_p(x, y):
    """Exact two-sided p of mean(x) - mean(y) over all splits, in rational arithmetic, with
    scipy's definition min(1, 2 min(P(null <= obs), P(null >= obs)))."""
    pooled = list(x) + list(y)
    n1, n2 = len(x), len(y)
    total = sum(pooled)
    obs = sum(x) / n1 - sum(y) / n2
    less = greater = count = 0
    for idx in itertools.combinations(range(len(pooled)), n1):
        sa = sum(pooled[i] for i in idx)
        d = sa / n1 - (total - sa) / n2
        less += d <= obs
        greater += d >= obs
        count += 1
    return min(Fraction(1), 2 * min(Fraction(less, count), Fraction(greater, count))), count


def permutation():
    def exact_case(name, x, y, denominator=None):
        """`denominator`: the values are k / denominator (dev-set accuracies), and ties among
        them are ties of those rationals, not of their binary roundings."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        r = stats.permutation_test((x, y), mean_diff, n_resamples=np.inf, vectorized=True)
        if denominator:
            rational = [[Fraction(round(v * denominator), denominator) for v in s] for s in (x, y)]
        else:
            rational = [[Fraction(v) for v in s] for s in (x, y)]
        p, count = exact_permutation_p(*rational)
        assert count == len(r.null_distribution)
        out = {"name": name, "x": enc(x), "y": enc(y), "statistic": enc(r.statistic),
               "pvalue": float(p), "n_splits": count}
        if r.pvalue != float(p):
            # scipy treats null values within 100 eps |observed| as ties; with a small observed
            # difference of means of tied values that misses ties lost to rounding.
            out["scipy_pvalue"] = enc(r.pvalue)
        return out

    def mc_case(name, x, y, n_resamples=99999):
        x, y = np.asarray(x, float), np.asarray(y, float)
        r = stats.permutation_test((x, y), mean_diff, n_resamples=n_resamples, vectorized=True,
                                   rng=np.random.default_rng(12345))
        return {"name": name, "x": enc(x), "y": enc(y), "statistic": enc(r.statistic),
                "pvalue": enc(r.pvalue), "n_resamples": n_resamples}

    exact = [
        exact_case("two_and_two", [3.0, 4.0], [1.0, 2.0]),
        exact_case("ties_3_4", [1, 2, 2], [2, 3, 3, 4]),
        exact_case("five_and_five", rng.normal(size=5), rng.normal(1, 1, 5)),
        exact_case("two_and_six", [10.0, 9.0], [1, 2, 3, 4, 5, 6]),
        exact_case("equal_values", [0.5, 0.5, 0.5], [0.5, 0.5]),
        exact_case("seeds_8_8", accuracies(8, p=0.6), accuracies(8, p=0.63), denominator=277),
        exact_case("seeds_7_9", accuracies(7, p=0.6), accuracies(9, p=0.62), denominator=277),
        exact_case("dyadic_ties_6_6", rng.integers(100, 110, 6) / 256, rng.integers(101, 111, 6) / 256),
        exact_case("six_and_nine", rng.normal(size=6), rng.normal(0.4, 1, 9)),
    ]
    mc = [
        mc_case("recipes_25_25", accuracies(25, p=0.62, spread=0.05),
                accuracies(25, p=0.645, spread=0.03)),
        mc_case("clear_difference_20_30", rng.normal(0, 1, 20), rng.normal(0.9, 1, 30)),
    ]
    return exact, mc


def bootstrap():
    def case(name, x, statistic, ddof=None, level=0.95, n_resamples=99999):
        x = np.asarray(x, float)
        f = {"mean": lambda s, axis=-1: np.mean(s, axis=axis),
             "std": lambda s, axis=-1: np.std(s, ddof=ddof, axis=axis)}[statistic]
        r = stats.bootstrap((x,), f, method="percentile", confidence_level=level,
                            n_resamples=n_resamples, vectorized=True,
                            rng=np.random.default_rng(777))
        return {"name": name, "x": enc(x), "statistic": statistic, "ddof": ddof,
                "confidence_level": level, "n_resamples": n_resamples, "estimate": enc(f(x)),
                "low": enc(r.confidence_interval.low), "high": enc(r.confidence_interval.high),
                "standard_error": enc(r.standard_error)}

    acc = accuracies(25, p=0.67, spread=0.027)
    return [
        case("mean_25_seeds", acc, "mean"),
        case("std_sample_25_seeds", acc, "std", ddof=1),
        case("std_population_40", rng.normal(0, 2, 40), "std", ddof=0, level=0.9),
        case("mean_skewed_60", rng.exponential(1.0, 60), "mean", level=0.99),
    ]


# ---------------------------------------------------------------- Dodge et al.
def anova_by_hand(cells):
    """Two-way ANOVA of a balanced grid cells[a][b][r] by the sums-of-squares formulas, in exact
    rational arithmetic (numpy's float version loses ~1e-10 on the offset grid), p from scipy."""
    y = [[[Fraction(float(v)) for v in cell] for cell in row] for row in cells]
    a, b, r = len(y), len(y[0]), len(y[0][0])
    cell = [[sum(c) / r for c in row] for row in y]
    grand = sum(sum(row) for row in cell) / (a * b)
    row_m = [sum(row) / b for row in cell]
    col_m = [sum(cell[i][j] for i in range(a)) / a for j in range(b)]
    ss_a = b * r * sum((m - grand) ** 2 for m in row_m)
    ss_b = a * r * sum((m - grand) ** 2 for m in col_m)
    ss_ab = r * sum((cell[i][j] - row_m[i] - col_m[j] + grand) ** 2
                    for i in range(a) for j in range(b))
    ss_w = sum((v - cell[i][j]) ** 2 for i in range(a) for j in range(b) for v in y[i][j])
    total = sum((v - grand) ** 2 for row in y for c in row for v in c)
    df_a, df_b, df_ab = a - 1, b - 1, (a - 1) * (b - 1)
    if r == 1:
        ss_res, df_res, inter = ss_ab, df_ab, None
    else:
        ss_res, df_res, inter = ss_w, a * b * (r - 1), (ss_ab, df_ab)
    ms_res = ss_res / df_res

    def effect(ss, df, per_level):
        # Omega squared and the method-of-moments variance component (clipped at 0), with
        # `per_level` the number of values at each level of the effect: b r for the rows, a r for
        # the columns, r for the interaction.
        f = (ss / df) / ms_res
        return {"sum_sq": float(ss), "df": df, "mean_sq": float(ss / df), "f": float(f),
                "pvalue": stats.f.sf(float(f), df, df_res),
                "omega_squared": float((ss - df * ms_res) / (total + ms_res)),
                "variance_component": float(max(Fraction(0), (ss / df - ms_res) / per_level))}

    return {
        "rows": effect(ss_a, df_a, b * r),
        "columns": effect(ss_b, df_b, a * r),
        "interaction": effect(*inter, r) if inter else None,
        "residual": {"sum_sq": float(ss_res), "df": df_res, "mean_sq": float(ms_res)},
        "total_sum_sq": float(total),
    }


def check_with_statsmodels(cells, expected):
    """statsmodels' table of the grid as {line: {sum_sq, df}} after checking the hand-computed
    table against it, or None without statsmodels."""
    try:
        import pandas as pd
        from statsmodels.formula.api import ols
        from statsmodels.stats.anova import anova_lm
    except ImportError:
        return None
    y = np.asarray(cells, float)
    a, b, r = y.shape
    df = pd.DataFrame([(i, j, y[i, j, k]) for i in range(a) for j in range(b) for k in range(r)],
                      columns=["init", "data", "y"])
    formula = "y ~ C(init) + C(data)" if r == 1 else "y ~ C(init) * C(data)"
    table = anova_lm(ols(formula, df).fit(), typ=2)
    pairs = [("C(init)", "rows"), ("C(data)", "columns")]
    if r > 1:
        pairs.append(("C(init):C(data)", "interaction"))
    for sm, ours in pairs:
        np.testing.assert_allclose(table.loc[sm, "sum_sq"], expected[ours]["sum_sq"], rtol=1e-9)
        np.testing.assert_allclose(table.loc[sm, "F"], expected[ours]["f"], rtol=1e-9)
        np.testing.assert_allclose(table.loc[sm, "PR(>F)"], expected[ours]["pvalue"], rtol=1e-8)
    np.testing.assert_allclose(table.loc["Residual", "sum_sq"], expected["residual"]["sum_sq"],
                               rtol=1e-9)
    # The components once more from statsmodels' lines, by the same formulas written out again.
    ms_res = table.loc["Residual", "sum_sq"] / table.loc["Residual", "df"]
    total = table["sum_sq"].sum()
    per_level = {"rows": b * r, "columns": a * r, "interaction": r}
    for sm, ours in pairs:
        ss, df_ = table.loc[sm, "sum_sq"], table.loc[sm, "df"]
        omega = (ss - df_ * ms_res) / (total + ms_res)
        component = max(0.0, (ss / df_ - ms_res) / per_level[ours])
        np.testing.assert_allclose(omega, expected[ours]["omega_squared"], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(component, expected[ours]["variance_component"], rtol=1e-8,
                                   atol=1e-14)
    lines = {ours: sm for sm, ours in pairs} | {"residual": "Residual"}
    return {ours: {"sum_sq": float(table.loc[sm, "sum_sq"]), "df": float(table.loc[sm, "df"])}
            for ours, sm in lines.items()}


def anova():
    def grid(a, b, r, init_sd, data_sd, noise_sd, inter_sd=0.0, base=0.65):
        init = rng.normal(0, init_sd, a)[:, None, None]
        data = rng.normal(0, data_sd, b)[None, :, None]
        inter = rng.normal(0, inter_sd, (a, b))[:, :, None]
        return base + init + data + inter + rng.normal(0, noise_sd, (a, b, r))

    checked = []

    def case(name, cells):
        cells = np.asarray(cells, float)
        expected = anova_by_hand(cells)
        statsmodels_table = check_with_statsmodels(cells, expected)
        if statsmodels_table is not None:
            checked.append(name)
        out = {"name": name, "cells": enc(cells)}
        out.update(jsonable(expected))
        # statsmodels' own sums of squares (least squares, good to ~1e-12), for the Rust test to
        # check the formulas against an independent fit, not only against this script.
        out["statsmodels"] = statsmodels_table
        return out

    cases = [
        case("minimal_2x2", [[[1.0], [9.0]], [[2.0], [13.0]]]),
        case("seeds_5x5", grid(5, 5, 1, 0.02, 0.03, 0.01)),
        case("seeds_3x4", grid(3, 4, 1, 0.05, 0.0, 0.02)),
        case("seeds_10x10", grid(10, 10, 1, 0.02, 0.02, 0.02)),
        case("replicated_3x3x2", grid(3, 3, 2, 0.02, 0.01, 0.01, inter_sd=0.02)),
        case("replicated_4x5x3", grid(4, 5, 3, 0.0, 0.02, 0.02, inter_sd=0.0)),
        case("offset_4x4", 1e3 + grid(4, 4, 1, 1e-3, 2e-3, 1e-3)),
    ]
    errors = [
        {"name": "one_row", "cells": [[[1.0], [2.0]]], "error": "TooFew"},
        {"name": "one_column", "cells": [[[1.0]], [[2.0]]], "error": "TooFew"},
        {"name": "ragged", "cells": [[[1.0], [2.0]], [[1.0], [2.0], [3.0]]], "error": "LengthMismatch"},
        {"name": "unbalanced", "cells": [[[1.0, 2.0], [2.0, 3.0]], [[1.0, 4.0], [2.0]]],
         "error": "LengthMismatch"},
        {"name": "empty_cell", "cells": [[[1.0], [2.0]], [[1.0], []]], "error": "Empty"},
        {"name": "additive", "cells": [[[1.0], [2.0]], [[3.0], [4.0]]], "error": "Degenerate"},
        # Additive in exact arithmetic; the computed residual is ~1e-31, rounding error.
        {"name": "additive_decimals", "cells": [[[r + c] for c in (0.3, 0.05, 0.6, 0.33)]
                                               for r in (0.1, 0.25, 0.7)], "error": "Degenerate"},
        {"name": "collapsed_replicates", "cells": [[[0.1] * 3, [0.7] * 3], [[0.6] * 3, [0.9] * 3]],
         "error": "Degenerate"},
        {"name": "nan", "cells": [[[1.0], ["nan"]], [[3.0], [4.0]]], "error": "NonFinite"},
    ]
    return cases, errors, checked


def jsonable(d):
    if isinstance(d, dict):
        return {k: jsonable(v) for k, v in d.items()}
    if d is None:
        return None
    return enc(d)


# ---------------------------------------------------------------- expected validation performance
def evp_exact(values, n, replacement):
    """E[max] and its spread with exact rational probabilities (then rounded once)."""
    v = sorted(Fraction(float(x)) for x in values)
    big_n = len(v)
    if replacement:
        p = [Fraction(i, big_n) ** n - Fraction(i - 1, big_n) ** n for i in range(1, big_n + 1)]
    else:
        total = math.comb(big_n, n)
        p = [Fraction(math.comb(i - 1, n - 1), total) for i in range(1, big_n + 1)]
    assert sum(p) == 1
    mean = sum(pi * vi for pi, vi in zip(p, v))
    var = sum(pi * (vi - mean) ** 2 for pi, vi in zip(p, v))
    return float(mean), math.sqrt(var)


def evp_allentune(values, n):
    """allentune's float computation, to show the exact values are what allentune computes."""
    v = np.sort(values)
    big_n = len(v)
    p = np.array([(i / big_n) ** n - ((i - 1) / big_n) ** n for i in range(1, big_n + 1)])
    mean = np.sum(p * v)
    return mean, math.sqrt(np.sum(p * (v - mean) ** 2))


def evp():
    def case(name, values, extra_n=()):
        values = np.asarray(values, float)
        big_n = len(values)
        out = {"name": name, "values": enc(values), "with_replacement": [], "without_replacement": []}
        for n in list(range(1, big_n + 1)) + list(extra_n):
            m, s = evp_exact(values, n, True)
            am, a_s = evp_allentune(values, n)
            assert abs(am - m) <= 1e-12 * max(1.0, abs(m)) and abs(a_s - s) <= 1e-9 * max(1.0, s)
            out["with_replacement"].append({"n": n, "mean": m, "std": s})
        for n in range(1, big_n + 1):
            m, s = evp_exact(values, n, False)
            out["without_replacement"].append({"n": n, "mean": m, "std": s})
        return out

    return [
        case("single", [0.7], extra_n=[2, 10]),
        case("ties_5", [0.5, 0.7, 0.7, 0.2, 0.7], extra_n=[10, 100]),
        case("equal_values", [0.6] * 4, extra_n=[7]),
        case("rte_25_seeds", accuracies(25, p=0.6, spread=0.08), extra_n=[50, 200, 1000]),
        case("random_120", rng.normal(0.8, 0.05, 120), extra_n=[500, 10000]),
    ]


def statsmodels_version():
    try:
        import statsmodels
    except ImportError:
        return None
    return statsmodels.__version__


def main():
    desc, desc_err = descriptive()
    cls, cls_err = classification()
    corr, corr_err = correlation()
    lev, lev_err = levene()
    wel, wel_err = welch()
    mwu, mwu_err = mann_whitney()
    perm_exact, perm_mc = permutation()
    ano, ano_err, ano_checked = anova()
    doc = {
        "meta": {
            "generator": "tools/make_stats_goldens.py",
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "sklearn": sklearn.__version__,
            "statsmodels": statsmodels_version(),
            "anova_checked_with_statsmodels": ano_checked,
        },
        "describe": desc,
        "describe_errors": desc_err,
        "rankdata": rankdata(),
        "classification": cls,
        "classification_errors": cls_err,
        "majority_baseline": majority(),
        "failed_runs": failed(),
        "correlation": corr,
        "correlation_errors": corr_err,
        "levene": lev,
        "levene_errors": lev_err,
        "welch": wel,
        "welch_errors": wel_err,
        "mann_whitney": mwu,
        "mann_whitney_errors": mwu_err,
        "permutation_exact": perm_exact,
        "permutation_monte_carlo": perm_mc,
        "bootstrap": bootstrap(),
        "two_way_anova": ano,
        "two_way_anova_errors": ano_err,
        "evp": evp(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write(OUT, doc)
    print(f"ANOVA checked with statsmodels: {ano_checked or 'no (statsmodels not installed)'}")
    write(INTERVALS, intervals_doc())


def write(path, doc):
    # One case per line: diffs stay readable when a reference changes.
    sections = []
    for key, value in doc.items():
        if isinstance(value, list):
            body = ",\n  ".join(json.dumps(c, allow_nan=False) for c in value)
            sections.append(f" {json.dumps(key)}: [\n  {body}\n ]")
        else:
            sections.append(f" {json.dumps(key)}: {json.dumps(value, allow_nan=False)}")
    path.write_text("{\n" + ",\n".join(sections) + "\n}\n")
    counts = {k: len(v) for k, v in doc.items() if isinstance(v, list)}
    print(f"wrote {path.relative_to(ROOT)}: {sum(counts.values())} cases {counts}")


if __name__ == "__main__":
    main()

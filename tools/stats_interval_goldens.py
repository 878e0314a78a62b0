"""The interval goldens of `crates/stats` (`tests/goldens/intervals.json`): Student's t and BCa
bootstrap intervals against scipy. Imported by `make_stats_goldens.py`, which writes the file; run
that script, not this module.

The cases have their own generator, so that adding cases here leaves every case of `stats.json`
as it was.
"""

import math
import sys

import numpy as np
import scipy
from scipy import special, stats


def enc(v):
    """A float (or list of floats) as JSON: NaN as the string "nan" (JSON has none)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [enc(x) for x in v]
    v = float(v)
    return "nan" if math.isnan(v) else v


def scipy_outcome(f):
    """What the reference does with an input we refuse: 'nan', 'raises ...' or 'value'."""
    try:
        r = f()
    except Exception as e:  # noqa: BLE001
        return f"raises {type(e).__name__}"
    return "nan" if np.isnan(np.atleast_1d(np.asarray(r, dtype=float))).any() else "value"


irng = np.random.default_rng(20250607)


def seed_accuracies(n, size=277, p=0.67, spread=0.03):
    """n dev accuracies on a dev set of `size` examples: multiples of 1/size, with ties."""
    return np.round(np.clip(irng.normal(p, spread, n), 0, 1) * size) / size


def t_intervals():
    def case(name, x, level):
        x = np.asarray(x, float)
        n = len(x)
        low, high = stats.t.interval(level, n - 1, loc=np.mean(x), scale=stats.sem(x))
        q = stats.t.ppf((1 + level) / 2, n - 1)
        out = {"name": name, "x": enc(x), "confidence_level": level, "df": n - 1,
               "estimate": enc(np.mean(x)), "low": enc(low), "high": enc(high), "t_quantile": enc(q)}
        if n == 2:
            # One degree of freedom is the Cauchy distribution: t = cot(pi tail / 2), with
            # tail = 1 - level exact in floating point. scipy rounds (1 + level) / 2 first, which
            # costs it 1e-10 at level 0.999999; the closed form is the reference there.
            exact_q = 1 / math.tan(math.pi * (1 - level) / 2)
            assert abs(exact_q / q - 1) < 1e-9, (name, exact_q, q)
            half = exact_q * stats.sem(x)
            out.update({"t_quantile": exact_q, "low": enc(np.mean(x) - half),
                        "high": enc(np.mean(x) + half), "scipy_low": enc(low), "scipy_high": enc(high)})
        return out

    cases = [
        case("two_values", [0.7111913357400722, 0.6498194945848376], 0.95),
        case("three_seeds", seed_accuracies(3), 0.9),
        case("five_seeds", seed_accuracies(5), 0.95),
        case("five_seeds_99", seed_accuracies(5), 0.99),
        case("nine_seeds", seed_accuracies(9), 0.95),
        case("normal_25", irng.normal(0.8, 0.02, 25), 0.95),
        case("two_values_extreme_level", [1.0, 2.0], 0.999999),
        case("offset_6", 1e6 + irng.normal(0, 1e-3, 6), 0.8),
    ]
    constant = [0.7] * 4
    errors = [
        {"name": "one_value", "x": [0.7], "confidence_level": 0.95, "error": "TooFew",
         "scipy": scipy_outcome(lambda: stats.t.interval(0.95, 0, loc=0.7, scale=stats.sem([0.7])))},
        {"name": "level_one", "x": [0.7, 0.8], "confidence_level": 1.0, "error": "InvalidArgument"},
    ]
    # A constant sample: scipy's interval is NaN (scale 0); this crate's is [c, c].
    cases.append({"name": "constant", "x": constant, "confidence_level": 0.95, "df": 3,
                  "estimate": 0.7, "low": 0.7, "high": 0.7,
                  "scipy": scipy_outcome(lambda: stats.t.interval(0.95, 3, loc=0.7,
                                                                  scale=stats.sem(constant)))})
    return cases, errors


def statistic_of(name):
    """The vectorised statistic scipy resamples, by the golden's name for it."""
    ddof = {"mean": None, "std_sample": 1, "std_population": 0}[name]
    if ddof is None:
        return lambda s, axis=-1: np.mean(s, axis=axis)
    return lambda s, axis=-1: np.std(s, ddof=ddof, axis=axis)


def tie_allowance(x, theta):
    """The crate's allowance for a bootstrap value to tie with the estimate (bca.rs)."""
    return 100 * np.finfo(float).eps * max(np.max(np.abs(x)), abs(theta))


def bca_by_formula(x, f, dist, alpha):
    """Efron and Tibshirani's BCa levels written out, to check scipy's private function."""
    theta = f(x)
    z0 = special.ndtri((np.sum(dist < theta) + np.sum(dist <= theta)) / (2 * len(dist)))
    jack = np.array([f(np.delete(x, i)) for i in range(len(x))])
    d = jack.mean() - jack
    a = np.sum(d ** 3) / (6 * np.sum(d ** 2) ** 1.5)
    z = special.ndtri(alpha)
    return tuple(special.ndtr(z0 + (z0 + zz) / (1 - a * (z0 + zz))) for zz in (z, -z))


def bca_given_distribution():
    """BCa from a bootstrap distribution saved in the case: scipy's own `_bca_interval` on it, so
    the Rust test feeds both sides the same resamples (our draws cannot equal numpy's)."""
    from scipy.stats import _resampling

    def case(name, x, statistic, level, dist=None, b=499):
        x = np.asarray(x, float)
        f = statistic_of(statistic)
        theta = f(x)
        if dist is None:
            idx = irng.integers(0, len(x), (b, len(x)))
            dist = f(x[idx], axis=-1)
        dist = np.asarray(dist, float)
        # Resamples that reorder tied values have the estimate's value in exact arithmetic but
        # land an ulp either side of it; snap them to it, as the crate counts them (bca.rs), and
        # make sure no other value is near enough for rounding to decide its side.
        gap = np.abs(dist - theta)
        allowance = tie_allowance(x, theta)
        tied = gap <= allowance
        assert not np.any((gap > allowance) & (gap < 1e6 * allowance)), name
        dist = np.where(tied, theta, dist)
        alpha = (1 - level) / 2
        a1, a2, a_hat = _resampling._bca_interval((x,), f, axis=-1, alpha=alpha,
                                                  theta_hat_b=dist, batch=None, xp=np)
        a1, a2, a_hat = float(np.squeeze(a1)), float(np.squeeze(a2)), float(np.squeeze(a_hat))
        b1, b2 = bca_by_formula(x, f, dist, alpha)
        assert abs(a1 - b1) < 1e-12 and abs(a2 - b2) < 1e-12, (name, a1, b1, a2, b2)
        low, high = stats.quantile(dist, [a1, a2])
        return {"name": name, "x": enc(x), "statistic": statistic, "confidence_level": level,
                "distribution": enc(dist), "ties_with_estimate": int(tied.sum()),
                "alpha_1": a1, "alpha_2": a2, "acceleration": a_hat,
                "low": enc(low), "high": enc(high)}

    acc10 = seed_accuracies(10)
    x3 = np.array([1.0, 2.0, 3.0])
    cases = [
        case("std_10_tied", acc10, "std_sample", 0.95),
        case("std_12_tied_90", seed_accuracies(12), "std_sample", 0.9),
        case("std_25_normal", irng.normal(0.8, 0.02, 25), "std_sample", 0.95),
        case("std_population_15", irng.normal(0, 1, 15), "std_population", 0.95),
        case("mean_20_skewed_99", irng.exponential(1.0, 20), "mean", 0.99),
        case("mean_4_seeds", seed_accuracies(4), "mean", 0.8, b=199),
        # Not a resampling: the distribution only has to be one; all at the estimate gives z0 = 0.
        case("all_at_estimate", x3, "mean", 0.95, dist=[2.0] * 5),
    ]
    errors = [
        # scipy's "interval" here is the rounding error of np.std of twelve 0.7s (about 1e-16).
        {"name": "constant_sample", "x": [0.7] * 12, "statistic": "std_sample",
         "confidence_level": 0.95, "distribution": [0.0] * 5, "error": "Degenerate",
         "scipy_interval": enc(list(stats.bootstrap(
             ([0.7] * 12,), statistic_of("std_sample"), method="BCa", n_resamples=99,
             rng=np.random.default_rng(1)).confidence_interval))},
        {"name": "all_above_estimate", "x": enc(x3), "statistic": "mean",
         "confidence_level": 0.9, "distribution": [2.5, 2.6, 2.7], "error": "Degenerate"},
        {"name": "too_few_for_jackknife", "x": [0.6, 0.7], "statistic": "std_sample",
         "confidence_level": 0.9, "distribution": [0.0, 0.07], "error": "TooFew"},
        {"name": "nan_in_distribution", "x": enc(x3), "statistic": "mean",
         "confidence_level": 0.9, "distribution": enc([2.0, float("nan")]), "error": "NonFinite"},
    ]
    return cases, errors


def bca_end_to_end(repeats=30, n_resamples=9999):
    """scipy.stats.bootstrap(method="BCa") itself, `repeats` times with different generators: the
    mean and spread of its interval ends, for a Monte-Carlo comparison with the Rust draws."""
    def case(name, x, statistic="std_sample", level=0.95):
        x = np.asarray(x, float)
        f = statistic_of(statistic)
        ends = []
        for k in range(repeats):
            r = stats.bootstrap((x,), f, method="BCa", confidence_level=level,
                                n_resamples=n_resamples, vectorized=True,
                                rng=np.random.default_rng(1000 + k))
            ends.append((r.confidence_interval.low, r.confidence_interval.high, r.standard_error))
        ends = np.array(ends)
        return {"name": name, "x": enc(x), "statistic": statistic, "confidence_level": level,
                "n_resamples": n_resamples, "repeats": repeats, "estimate": enc(f(x)),
                "low_mean": enc(ends[:, 0].mean()), "low_sd": enc(ends[:, 0].std(ddof=1)),
                "high_mean": enc(ends[:, 1].mean()), "high_sd": enc(ends[:, 1].std(ddof=1)),
                "standard_error_mean": enc(ends[:, 2].mean())}

    return [
        case("std_10_tied", seed_accuracies(10)),
        case("std_12_tied", seed_accuracies(12, p=0.62, spread=0.05)),
        case("std_25_tied", seed_accuracies(25)),
        case("std_25_normal", irng.normal(0.8, 0.02, 25)),
    ]


def intervals_doc():
    t_cases, t_errors = t_intervals()
    given, given_errors = bca_given_distribution()
    return {
        "meta": {
            "generator": "tools/make_stats_goldens.py",
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "t_interval": t_cases,
        "t_interval_errors": t_errors,
        "bca_given_distribution": given,
        "bca_given_distribution_errors": given_errors,
        "bca_end_to_end": bca_end_to_end(),
    }

//! # stabletune-stats: the statistics of fine-tuning stability
//!
//! Pure functions over slices of `f64` (and label slices for the task metrics), each checked
//! against numpy, scipy or scikit-learn to 1e-10 relative on statistics and 1e-8 on p-values by the
//! golden tests (`tests/goldens/stats.json`, written by `tools/make_stats_goldens.py`).
//!
//! | need | functions | reference |
//! |---|---|---|
//! | describe runs | [`mean`], [`std_dev`] ([`Ddof`]), [`median`], [`quantile`], [`iqr`], [`describe`] | numpy |
//! | failed runs | [`failed_runs`], [`majority_label`], [`majority_baseline`] | sklearn `DummyClassifier` |
//! | task metrics | [`accuracy`], [`f1`], [`matthews_corrcoef`], [`acc_and_f1`], [`pearson`], [`spearman`] | sklearn, scipy |
//! | equal variances | [`levene`] with [`Center::Mean`] (Levene) or [`Center::Median`] (Brown-Forsythe) | `scipy.stats.levene` |
//! | compare recipes | [`welch_t_test`], [`mann_whitney_u`], [`permutation_test`], [`bootstrap_ci`] | scipy |
//! | intervals over seeds | [`t_interval_mean`] (below 10 seeds), [`bootstrap_bca_ci`] ([`bca_interval_from_distribution`]) | scipy `t.interval`, `bootstrap(method="BCa")` |
//! | failed runs, many tests | [`fisher_exact`], [`holm`] | scipy, statsmodels `multipletests` |
//! | Dodge et al. | [`two_way_anova`], [`two_way_anova_replicated`], [`early_final_correlation`] | statsmodels `anova_lm` |
//! | expected validation performance | [`expected_max`], [`expected_max_curve`] | allentune |
//!
//! ## Conventions
//! - Invalid input is a [`StatsError`], never a panic or a silent `NaN`: an empty input, too few
//!   values for a variance, mismatched lengths, a `NaN` or infinity anywhere (scipy would mostly
//!   propagate `NaN`), or a statistic that is undefined for the input (a constant sample where a
//!   correlation or a test needs variation; scipy returns `NaN` there).
//! - Inputs are finite values of moderate magnitude (well below 1e150, so that squares and sums of
//!   squares cannot overflow; the property tests cover up to 1e100).
//! - Standard deviations state their divisor: [`Ddof::Sample`] (`n - 1`, what the papers report as
//!   "std over seeds") or [`Ddof::Population`] (`n`, numpy's default).
//! - p-values are two-sided. Student's t and F tails come from `statrs`' regularised incomplete
//!   beta function, normal tails from `libm`'s `erfc`.
//! - Resampling is seeded and platform-independent through the crate's own [`SplitMix64`].
//!
//! ## Deliberate differences from the references
//! - `NaN` and infinities are refused ([`StatsError::NonFinite`]) where scipy propagates `NaN`.
//! - Undefined statistics are [`StatsError::Degenerate`] where scipy returns `NaN` or `inf`, or a
//!   huge value made of rounding error: a correlation with a constant input, Levene's test when no
//!   group varies in its deviations, Welch's test of two constant samples, an ANOVA with a residual
//!   of 0. "Constant" is judged on the raw values, and a sum of squares counts as 0 when it is no
//!   larger than rounding produces at the magnitude of the data (a root-mean-square deviation of
//!   64 eps times the largest magnitude): the mean of three 0.7s can round to
//!   0.6999999999999998, and a Welch test of `[0.7; 3]` against `[0.7; 7]` would then divide by
//!   the ~1e-32 variance that follows.
//!   The error's reason says what is constant, in words a report can show.
//! - The mean of a constant sample is its value exactly, so its variance is exactly 0.
//! - [`levene`] wants two values per group (scipy accepts one); [`pearson_test`] and
//!   [`spearman_test`] want three pairs (scipy returns p = 1 or `NaN` for two).
//! - A perfect correlation (collinear data for Pearson, a monotone relation for Spearman, judged
//!   with the same rounding threshold) is exactly +-1 with p = 0; scipy can return r = 1 - 1e-16
//!   and p ~ 1e-24 (or p ~ 1e-8 with three points).
//! - [`permutation_test`] counts null values as tied with the observed one within a tolerance
//!   scaled to the data, not only to the observed difference as scipy does; with tied data
//!   (accuracies are multiples of 1 / dev size) scipy's p-value then depends on rounding, this
//!   crate's equals the exact rational one.

mod anova;
mod bca;
mod compare;
mod descriptive;
mod dist;
mod error;
mod evp;
mod failed;
mod metrics;
mod multiple;
mod rank;
mod resampling;
mod rng;
mod spread;
mod t_interval;
mod variance_tests;

pub use anova::{
    early_final_correlation, two_way_anova, two_way_anova_replicated, AnovaEffect, AnovaResidual, TwoWayAnova,
};
pub use bca::{bca_interval_from_distribution, bootstrap_bca_ci};
pub use compare::{
    mann_whitney_exact_sf, mann_whitney_u, welch_t_test, MannWhitneyMethod, MannWhitneyTest, WelchTest,
    MAX_EXACT_U,
};
pub use descriptive::{
    describe, iqr, max, mean, median, min, quantile, quantiles, std_dev, variance, Ddof, Summary,
};
pub use error::{Result, StatsError};
pub use evp::{expected_max, expected_max_curve, ExpectedMax, Sampling};
pub use failed::{failed_runs, majority_baseline, majority_label, FailedRuns};
pub use metrics::{
    acc_and_f1, accuracy, f1, matthews_corrcoef, pearson, pearson_test, spearman, spearman_test, AccAndF1,
    CorrelationTest,
};
pub use multiple::{fisher_exact, holm, FisherExact};
pub use rank::rank_average;
pub use resampling::{
    bootstrap_ci, permutation_test, permutation_test_exact, BootstrapCi, BootstrapStatistic, PermutationTest,
    MAX_BOOTSTRAP_RESAMPLES, MAX_EXACT_SPLITS,
};
pub use rng::SplitMix64;
pub use t_interval::{t_interval_mean, TInterval};
pub use variance_tests::{levene, Center, FTest};

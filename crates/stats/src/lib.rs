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
//! | Dodge et al. | [`two_way_anova`], [`two_way_anova_replicated`], [`early_final_correlation`] | statsmodels `anova_lm` |
//! | expected validation performance | [`expected_max`], [`expected_max_curve`] | allentune |
//!
//! ## Conventions
//! - Invalid input is a [`StatsError`], never a panic or a silent `NaN`: an empty input, too few
//!   values for a variance, mismatched lengths, a `NaN` or infinity anywhere (scipy would mostly
//!   propagate `NaN`), or a statistic that is undefined for the input (a constant sample where a
//!   correlation or a test needs variation; scipy returns `NaN` there).
//! - Standard deviations state their divisor: [`Ddof::Sample`] (`n - 1`, what the papers report as
//!   "std over seeds") or [`Ddof::Population`] (`n`, numpy's default).
//! - p-values are two-sided. Their tail probabilities come from `statrs`' regularised incomplete
//!   beta and error functions.
//! - Resampling is seeded and platform-independent through the crate's own [`SplitMix64`].

mod anova;
mod compare;
mod descriptive;
mod dist;
mod error;
mod evp;
mod failed;
mod metrics;
mod rank;
mod resampling;
mod rng;
mod variance_tests;

pub use anova::{
    early_final_correlation, two_way_anova, two_way_anova_replicated, AnovaEffect,
    AnovaResidual, TwoWayAnova,
};
pub use compare::{
    mann_whitney_exact_sf, mann_whitney_u, welch_t_test, MannWhitneyMethod, MannWhitneyTest,
    WelchTest,
};
pub use descriptive::{
    describe, iqr, max, mean, median, min, quantile, quantiles, std_dev, variance, Ddof, Summary,
};
pub use error::{Result, StatsError};
pub use evp::{expected_max, expected_max_curve, ExpectedMax, Sampling};
pub use failed::{failed_runs, majority_baseline, majority_label, FailedRuns};
pub use metrics::{
    acc_and_f1, accuracy, f1, matthews_corrcoef, pearson, pearson_test, spearman, spearman_test,
    AccAndF1, CorrelationTest,
};
pub use rank::rank_average;
pub use resampling::{
    bootstrap_ci, permutation_test, permutation_test_exact, BootstrapCi, BootstrapStatistic,
    PermutationTest, MAX_EXACT_SPLITS,
};
pub use rng::SplitMix64;
pub use variance_tests::{levene, Center, FTest};

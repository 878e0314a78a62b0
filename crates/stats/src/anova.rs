//! The analyses of Dodge et al. (2020): two-way ANOVA of a grid of init seeds x data seeds, and
//! the correlation of early with final dev performance.

use crate::descriptive::{mean_unchecked, sum};
use crate::dist::f_sf;
use crate::error::{check_finite, check_min_len, degenerate, Result, StatsError};
use crate::metrics::{spearman_test, CorrelationTest};
use crate::spread::{constant_value, is_rounding_noise, list_some, magnitude, no_spread};

/// One effect of an ANOVA table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnovaEffect {
    pub sum_sq: f64,
    pub df: f64,
    /// `sum_sq / df`.
    pub mean_sq: f64,
    /// `mean_sq / residual mean_sq`.
    pub f: f64,
    /// `P(F(df, residual df) >= f)`.
    pub p_value: f64,
    /// Omega squared, `(sum_sq - df * residual mean_sq) / (total_sum_sq + residual mean_sq)`: the
    /// share of the variance the effect explains, nearly unbiased. `sum_sq / total_sum_sq` is
    /// biased up: with no effect at all a factor still takes about `df / total df` of the total
    /// (4 / 24, 17%, on a 5 x 5 grid). Negative when the effect is smaller than chance would make
    /// it (left so: a reader can tell "no effect" from "exactly 0").
    pub omega_squared: f64,
    /// The random-effects variance component, the method-of-moments estimate
    /// `(mean_sq - residual mean_sq) / k` clipped at 0, with `k` the number of values at each level
    /// of the effect: for the rows (`a` levels) of an `a x b` grid with `r` runs per cell,
    /// `k = b r`; for the columns `k = a r`; for the interaction `k = r`. In the units of the
    /// metric squared: its square root is the standard deviation this factor alone causes.
    pub variance_component: f64,
}

/// The residual (error) line of an ANOVA table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnovaResidual {
    pub sum_sq: f64,
    pub df: f64,
    pub mean_sq: f64,
}

/// A two-way ANOVA of a balanced grid; the same numbers as statsmodels'
/// `anova_lm(ols("y ~ C(row) + C(col)"))` (one value per cell) or
/// `ols("y ~ C(row) * C(col)")` (replicates), which for a balanced grid do not depend on the type
/// of sums of squares.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoWayAnova {
    /// The row factor (Dodge et al.: the init seed).
    pub rows: AnovaEffect,
    /// The column factor (Dodge et al.: the data seed).
    pub columns: AnovaEffect,
    /// Row x column interaction; only with two or more replicates per cell.
    pub interaction: Option<AnovaEffect>,
    /// With one value per cell the interaction is the error term.
    pub residual: AnovaResidual,
    /// Sum of squared deviations from the grand mean; the lines above add up to it.
    pub total_sum_sq: f64,
    /// Values per cell.
    pub replicates: usize,
}

/// Two-way ANOVA without replication: `grid[i][j]` is the one run with row level `i` (init seed)
/// and column level `j` (data seed). Main effects only, tested against the residual
/// `x_ij - rowmean_i - colmean_j + grandmean` with `(a - 1)(b - 1)` degrees of freedom. With one
/// run per cell the interaction cannot be told from run-to-run noise: the residual is interaction
/// plus noise (Dodge et al.'s design), and the variance components of the two seeds are those
/// left over beyond it.
///
/// Needs at least 2 x 2 cells, all rows of the same length, finite values. A residual sum of
/// squares of 0 (an exactly additive grid, every value a row effect plus a column effect) leaves
/// F undefined: [`StatsError::Degenerate`], as is a grid without any variation. A sum of squares
/// counts as 0 when it is no larger than rounding produces at the magnitude of the values
/// (`crate::spread`): an additive grid of decimals has a computed residual of ~1e-32, not 0.
pub fn two_way_anova<R: AsRef<[f64]>>(grid: &[R]) -> Result<TwoWayAnova> {
    let cells: Vec<Vec<Vec<f64>>> =
        grid.iter().map(|row| row.as_ref().iter().map(|&v| vec![v]).collect()).collect();
    two_way_anova_replicated(&cells)
}

/// Two-way ANOVA of a balanced grid with `r >= 1` replicates in every cell: `cells[i][j]` holds
/// the runs with row level `i` and column level `j`. With `r >= 2` the table has an interaction
/// line and the residual is the within-cell variation (`ab(r - 1)` degrees of freedom); with
/// `r = 1` it is [`two_way_anova`]. With `r >= 2`, cells whose runs are all identical (every run
/// collapsed to the same score) leave no residual: [`StatsError::Degenerate`].
pub fn two_way_anova_replicated<R, C>(cells: &[R]) -> Result<TwoWayAnova>
where
    R: AsRef<[C]>,
    C: AsRef<[f64]>,
{
    let (a, b, r) = check_grid(cells)?;
    let cell = |i: usize, j: usize| cells[i].as_ref()[j].as_ref();
    let all: Vec<f64> = (0..a).flat_map(|i| (0..b).flat_map(move |j| cell(i, j).iter().copied())).collect();
    let grand = mean_unchecked(&all);
    let cell_means: Vec<Vec<f64>> =
        (0..a).map(|i| (0..b).map(|j| mean_unchecked(cell(i, j))).collect()).collect();
    // Balanced: row and column means are means of cell means.
    let row_means: Vec<f64> = cell_means.iter().map(|row| mean_unchecked(row)).collect();
    let col_means: Vec<f64> =
        (0..b).map(|j| mean_unchecked(&cell_means.iter().map(|row| row[j]).collect::<Vec<_>>())).collect();
    let (af, bf, rf) = (a as f64, b as f64, r as f64);
    let ss_rows = bf * rf * sum(row_means.iter().map(|m| (m - grand) * (m - grand)));
    let ss_cols = af * rf * sum(col_means.iter().map(|m| (m - grand) * (m - grand)));
    let ss_inter = rf
        * sum((0..a).flat_map(|i| {
            let (cell_means, row_means, col_means) = (&cell_means, &row_means, &col_means);
            (0..b).map(move |j| {
                let d = cell_means[i][j] - row_means[i] - col_means[j] + grand;
                d * d
            })
        }));
    let ss_within = sum((0..a).flat_map(|i| {
        let cell_means = &cell_means;
        (0..b).flat_map(move |j| {
            let m = cell_means[i][j];
            cell(i, j).iter().map(move |x| (x - m) * (x - m))
        })
    }));
    let total_sum_sq = sum(all.iter().map(|x| (x - grand) * (x - grand)));
    let df_inter = (af - 1.0) * (bf - 1.0);
    let (residual, interaction_line) = if r == 1 {
        ((ss_inter, df_inter), None)
    } else {
        ((ss_within, af * bf * (rf - 1.0)), Some((ss_inter, df_inter)))
    };
    let (ss_res, df_res) = residual;
    // Every line of the table is a sum of squares of deviations built from means of the values,
    // so they all carry rounding error at the magnitude of the values.
    let (n, scale) = (all.len(), magnitude(&all));
    if is_rounding_noise(total_sum_sq, n, scale) {
        return Err(degenerate("two_way_anova", no_spread("the grid", &all)));
    }
    if is_rounding_noise(ss_res, n, scale) {
        return Err(degenerate("two_way_anova", no_residual(r, cell, a, b)));
    }
    let ms_res = ss_res / df_res;
    // `per_level`: how many values each level of the effect averages (see `variance_component`).
    let effect = |ss: f64, df: f64, per_level: f64| {
        let mean_sq = ss / df;
        let f = mean_sq / ms_res;
        AnovaEffect {
            sum_sq: ss,
            df,
            mean_sq,
            f,
            p_value: f_sf(f, df, df_res),
            omega_squared: (ss - df * ms_res) / (total_sum_sq + ms_res),
            variance_component: ((mean_sq - ms_res) / per_level).max(0.0),
        }
    };
    Ok(TwoWayAnova {
        rows: effect(ss_rows, af - 1.0, bf * rf),
        columns: effect(ss_cols, bf - 1.0, af * rf),
        interaction: interaction_line.map(|(ss, df)| effect(ss, df, rf)),
        residual: AnovaResidual { sum_sq: ss_res, df: df_res, mean_sq: ms_res },
        total_sum_sq,
        replicates: r,
    })
}

/// Why the residual is 0, in plain words.
fn no_residual<'a>(r: usize, cell: impl Fn(usize, usize) -> &'a [f64], a: usize, b: usize) -> String {
    const LEFT: &str = "so no residual variation is left to test the effects against";
    if r == 1 {
        return format!(
            "the grid is exactly additive (every value is a row effect plus a column effect), {LEFT}"
        );
    }
    let cells = || (0..a).flat_map(move |i| (0..b).map(move |j| (i, j)));
    if cells().all(|(i, j)| constant_value(cell(i, j)).is_some()) {
        let phrases = cells().map(|(i, j)| format!("cell ({i}, {j}) is {}", cell(i, j)[0]));
        format!("every cell's runs are identical ({}), {LEFT}", list_some(phrases, 2))
    } else {
        format!("the runs within every cell differ only by rounding error, {LEFT}")
    }
}

/// Checks a balanced grid of at least 2 x 2 cells of finite values; returns (rows, columns,
/// replicates).
fn check_grid<R, C>(cells: &[R]) -> Result<(usize, usize, usize)>
where
    R: AsRef<[C]>,
    C: AsRef<[f64]>,
{
    check_min_len("two_way_anova: rows", cells, 2)?;
    let b = cells[0].as_ref().len();
    let mut r = None;
    for (i, row) in cells.iter().enumerate() {
        let row = row.as_ref();
        check_min_len(&format!("two_way_anova: row {i}"), row, 2)?;
        if row.len() != b {
            return Err(StatsError::LengthMismatch {
                what: format!("two_way_anova: row {i} against row 0"),
                left: row.len(),
                right: b,
            });
        }
        for (j, c) in row.iter().enumerate() {
            let c = c.as_ref();
            let what = format!("two_way_anova: cell ({i}, {j})");
            check_finite(&what, c)?;
            let expected = *r.get_or_insert(c.len());
            if c.len() != expected {
                return Err(StatsError::LengthMismatch {
                    what: format!("{what} against cell (0, 0) (the grid must be balanced)"),
                    left: c.len(),
                    right: expected,
                });
            }
        }
    }
    Ok((cells.len(), b, r.expect("at least one cell")))
}

/// Spearman correlation of early against final dev performance over runs, with its two-sided
/// p-value (Dodge et al.: does an early evaluation predict which runs end well?). `early[k]` and
/// `final_[k]` belong to run `k`. See [`spearman_test`].
pub fn early_final_correlation(early: &[f64], final_: &[f64]) -> Result<CorrelationTest> {
    spearman_test(early, final_)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_grid() {
        // Rows add 0, 1, 2; columns add 0, 10; plus a residual of +-1.
        let grid = [[1.0, 9.0], [1.0, 13.0], [3.0, 13.0]];
        let t = two_way_anova(&grid).unwrap();
        let ss = t.rows.sum_sq + t.columns.sum_sq + t.residual.sum_sq;
        assert!((ss - t.total_sum_sq).abs() < 1e-12);
        assert_eq!((t.rows.df, t.columns.df, t.residual.df), (2.0, 1.0, 2.0));
        assert!(t.interaction.is_none());
        // SS: rows 28/3 (df 2), columns 150 (df 1), residual 4 (df 2), total 490/3.
        let omega_rows = (28.0 / 3.0 - 2.0 * 2.0) / (490.0 / 3.0 + 2.0);
        assert!((t.rows.omega_squared - omega_rows).abs() < 1e-12, "{:?}", t.rows);
        assert!((t.rows.variance_component - (14.0 / 3.0 - 2.0) / 2.0).abs() < 1e-12);
        assert!((t.columns.variance_component - (150.0 - 2.0) / 3.0).abs() < 1e-12);
        // An effect smaller than the residual: omega squared negative, the component clipped.
        let t = two_way_anova(&[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [2.0, 2.0, 2.1]]).unwrap();
        assert!(t.rows.omega_squared < 0.0 && t.rows.variance_component == 0.0, "{:?}", t.rows);
    }

    #[test]
    fn invalid_grids() {
        assert!(matches!(two_way_anova(&[[1.0, 2.0]]), Err(StatsError::TooFew { .. })));
        let ragged: [&[f64]; 2] = [&[1.0, 2.0], &[1.0, 2.0, 3.0]];
        assert!(matches!(two_way_anova(&ragged), Err(StatsError::LengthMismatch { .. })));
        let unbalanced = vec![vec![vec![1.0, 2.0], vec![1.0, 2.0]], vec![vec![1.0, 2.0], vec![1.0]]];
        assert!(matches!(two_way_anova_replicated(&unbalanced), Err(StatsError::LengthMismatch { .. })));
        let additive = [[1.0, 2.0], [3.0, 4.0]];
        assert!(matches!(two_way_anova(&additive), Err(StatsError::Degenerate { .. })));
        assert!(matches!(two_way_anova(&[[1.0, f64::NAN], [3.0, 4.0]]), Err(StatsError::NonFinite { .. })));
    }
}

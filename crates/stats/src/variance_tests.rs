//! Tests of equal variances: Levene's test (centred on the group means, Levene 1960, as Mosbach et
//! al. use it) and the Brown-Forsythe variant (centred on the group medians).

use crate::descriptive::{mean_unchecked, median_of_sorted, sorted, sum};
use crate::dist::f_sf;
use crate::error::{check_min_len, check_sample, degenerate, Result};
use crate::spread::{constant_value, list_some, magnitude, rounding_floor};

/// Where Levene's test centres each group before taking absolute deviations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Center {
    /// The group mean: Levene's original test (`scipy.stats.levene(..., center="mean")`).
    Mean,
    /// The group median: the Brown-Forsythe test (`center="median"`, scipy's default), robust to
    /// skewed and heavy-tailed data.
    Median,
}

/// The result of an F test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FTest {
    /// The F statistic.
    pub statistic: f64,
    /// Numerator degrees of freedom.
    pub df_num: f64,
    /// Denominator degrees of freedom.
    pub df_den: f64,
    /// `P(F >= statistic)`.
    pub p_value: f64,
}

/// Levene's test that all groups have the same variance (`scipy.stats.levene(*groups, center=...)`).
///
/// With `k` groups of `N` values in all, `Z_ij = |x_ij - c_i|` around the centre `c_i` of group
/// `i`, and
/// `W = (N - k) / (k - 1) * sum_i n_i (Zbar_i - Zbar)^2 / sum_ij (Z_ij - Zbar_i)^2`,
/// referred to F(k - 1, N - k).
///
/// Needs two or more groups of two or more finite values each (scipy accepts a group of one
/// value, whose variance the test cannot see). When every `Z_ij` equals its group mean the
/// denominator is 0 and the statistic undefined (scipy returns `NaN` or `inf`): that is
/// [`StatsError::Degenerate`](crate::StatsError::Degenerate). "Equals" allows for rounding: the
/// denominator counts as 0 when it is no larger than rounding produces at the magnitude of the
/// values (`crate::spread`). That is always so when every group is constant, or has two values
/// (which lie equally far from their centre), or is symmetric about its centre.
pub fn levene<G: AsRef<[f64]>>(groups: &[G], center: Center) -> Result<FTest> {
    check_min_len("levene: groups", groups, 2)?;
    for (i, g) in groups.iter().enumerate() {
        check_sample(&format!("levene: group {i}"), g.as_ref(), 2)?;
    }
    let k = groups.len();
    let z: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| {
            let g = g.as_ref();
            let c = match center {
                Center::Mean => mean_unchecked(g),
                Center::Median => median_of_sorted(&sorted(g)),
            };
            g.iter().map(|x| (x - c).abs()).collect()
        })
        .collect();
    let n_total: usize = z.iter().map(Vec::len).sum();
    let z_means: Vec<f64> = z.iter().map(|zi| mean_unchecked(zi)).collect();
    let z_grand = sum(z.iter().zip(&z_means).map(|(zi, m)| zi.len() as f64 * m)) / n_total as f64;
    let between = sum(z.iter().zip(&z_means).map(|(zi, m)| zi.len() as f64 * (m - z_grand) * (m - z_grand)));
    let within = sum(z.iter().zip(&z_means).flat_map(|(zi, m)| zi.iter().map(move |x| (x - m) * (x - m))));
    // Each group's deviations carry rounding error at the magnitude of its own values.
    let floor = sum(groups.iter().map(|g| rounding_floor(g.as_ref().len(), magnitude(g.as_ref()))));
    if within <= floor {
        return Err(degenerate("levene", no_spread_of_deviations(groups, center)));
    }
    let df_num = (k - 1) as f64;
    let df_den = (n_total - k) as f64;
    let statistic = (df_den * between) / (df_num * within);
    Ok(FTest { statistic, df_num, df_den, p_value: f_sf(statistic, df_num, df_den) })
}

/// Why no group's absolute deviations vary, group by group, in plain words.
fn no_spread_of_deviations<G: AsRef<[f64]>>(groups: &[G], center: Center) -> String {
    let centre = match center {
        Center::Mean => "mean",
        Center::Median => "median",
    };
    let why = if groups.iter().all(|g| g.as_ref().len() == 2 && constant_value(g.as_ref()).is_none()) {
        format!("every group has only two values, which always lie equally far from their {centre}")
    } else {
        let phrases = groups.iter().enumerate().map(|(i, g)| {
            let g = g.as_ref();
            match (constant_value(g), g.len()) {
                (Some(v), _) => format!("every value of group {i} is {v}"),
                (None, 2) => {
                    format!("group {i} has only two values (always equally far from their {centre})")
                }
                (None, _) => format!("the values of group {i} lie equally far from its {centre}"),
            }
        });
        list_some(phrases, 4)
    };
    format!("{why}, so the absolute deviations from the group {centre}s do not vary within any group")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatsError;

    #[test]
    fn invalid_input() {
        let one: [&[f64]; 1] = [&[1.0, 2.0]];
        assert!(matches!(levene(&one, Center::Mean), Err(StatsError::TooFew { needed: 2, .. })));
        let tiny: [&[f64]; 2] = [&[1.0, 2.0], &[3.0]];
        assert!(matches!(
            levene(&tiny, Center::Median),
            Err(StatsError::TooFew { what, .. }) if what == "levene: group 1"
        ));
        let empty: [&[f64]; 2] = [&[1.0, 2.0], &[]];
        assert!(matches!(levene(&empty, Center::Median), Err(StatsError::Empty { .. })));
        let flat: [&[f64]; 2] = [&[1.0, 1.0], &[2.0, 2.0, 2.0]];
        assert!(matches!(levene(&flat, Center::Mean), Err(StatsError::Degenerate { .. })));
    }

    #[test]
    fn identical_groups_have_statistic_zero() {
        let g = [vec![1.0, 2.0, 4.0], vec![11.0, 12.0, 14.0]];
        let t = levene(&g, Center::Median).unwrap();
        assert_eq!((t.statistic, t.p_value, t.df_num, t.df_den), (0.0, 1.0, 1.0, 4.0));
    }
}

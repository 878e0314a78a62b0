//! Tests that compare failed-run counts, and the correction of p-values for testing many
//! hypotheses at once.

use crate::error::{check_finite, invalid, Result};

/// Fisher's exact test of a 2 x 2 table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FisherExact {
    /// The sample odds ratio `(a d) / (b c)`, scipy's `statistic`: `None` when `b c = 0` (scipy
    /// returns `inf`, or `nan` when `a d = 0` too).
    pub odds_ratio: Option<f64>,
    /// Two-sided p-value: the probability, under the hypergeometric law of tables with the same
    /// margins, of a table no more likely than the observed one.
    pub p_value: f64,
}

/// Fisher's exact test (`scipy.stats.fisher_exact([[a, b], [c, d]])`, two-sided).
///
/// For failed runs: `a` failed and `b` successful runs of one configuration, `c` and `d` of the
/// other. Tables are "no more likely" than the observed one within a relative 1e-7, as scipy
/// does, so that tables of equal probability computed with rounding error count as ties. Every
/// table is valid, an all-zero one included (p = 1).
pub fn fisher_exact(table: [[u64; 2]; 2]) -> Result<FisherExact> {
    let [[a, b], [c, d]] = table;
    let n = a + b + c + d;
    if n > 1 << 40 {
        return Err(invalid("fisher_exact", format!("{n} observations is more than this test is meant for")));
    }
    let odds_ratio = if b * c == 0 { None } else { Some((a as f64 * d as f64) / (b as f64 * c as f64)) };
    let row = a + b; // first row's total
    let col = a + c; // first column's total
    if row == 0 || col == 0 || row == n || col == n {
        // One possible table only.
        return Ok(FisherExact { odds_ratio, p_value: 1.0 });
    }
    let low = col.saturating_sub(n - row);
    let high = row.min(col);
    // log of the hypergeometric probability of `k` in the top-left cell.
    let log_pmf = |k: u64| ln_choose(row, k) + ln_choose(n - row, col - k) - ln_choose(n, col);
    let observed = log_pmf(a);
    let threshold = observed + (1.0f64 + 1e-7).ln();
    let mut p = 0.0;
    for k in low..=high {
        let l = log_pmf(k);
        if l <= threshold {
            p += l.exp();
        }
    }
    Ok(FisherExact { odds_ratio, p_value: p.min(1.0) })
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

fn ln_factorial(n: u64) -> f64 {
    if n < 2 {
        0.0
    } else {
        libm::lgamma(n as f64 + 1.0)
    }
}

/// Holm's step-down adjustment of p-values for a family of tests
/// (`statsmodels.stats.multitest.multipletests(p, method="holm")[1]`), in the input order.
///
/// The i-th smallest p-value (from 1) is multiplied by `m - i + 1`, capped at 1, and made
/// non-decreasing along the sorted order. Controls the family-wise error rate under any
/// dependence between the tests, which is why a report with several tests per task uses it.
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>> {
    if p_values.is_empty() {
        return Ok(Vec::new());
    }
    check_finite("holm", p_values)?;
    if let Some(i) = p_values.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(invalid("holm", format!("p-value at index {i} ({}) is not in [0, 1]", p_values[i])));
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    // A stable sort keeps ties in input order, as numpy's mergesort in statsmodels.
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let value = ((m - rank) as f64 * p_values[i]).min(1.0);
        running = running.max(value);
        adjusted[i] = running;
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_with_one_possible_arrangement_has_p_one() {
        assert_eq!(fisher_exact([[0, 0], [0, 0]]).unwrap().p_value, 1.0);
        assert_eq!(fisher_exact([[3, 0], [4, 0]]).unwrap().p_value, 1.0);
        assert_eq!(fisher_exact([[0, 3], [0, 4]]).unwrap().odds_ratio, None);
    }

    #[test]
    fn the_tea_tasting_table() {
        // Fisher's lady tasting tea: 3 of 4 right, two-sided p = 34/70.
        let t = fisher_exact([[3, 1], [1, 3]]).unwrap();
        assert!((t.p_value - 34.0 / 70.0).abs() < 1e-14);
        assert_eq!(t.odds_ratio, Some(9.0));
    }

    #[test]
    fn holm_is_monotone_and_capped() {
        let p = holm(&[0.01, 0.04, 0.03, 0.5]).unwrap();
        for (got, want) in p.iter().zip([0.04, 0.09, 0.09, 0.5]) {
            assert!((got - want).abs() < 1e-15, "{p:?}");
        }
        assert_eq!(holm(&[]).unwrap(), Vec::<f64>::new());
        assert!(holm(&[1.2]).is_err());
        assert_eq!(holm(&[0.6, 0.7]).unwrap(), vec![1.0, 1.0]);
    }
}

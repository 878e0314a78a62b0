//! Ranks with ties averaged, shared by the Spearman correlation and the Mann-Whitney U test.

use crate::error::{check_finite, Result};

/// Ranks `1..=n` of the values, tied values sharing the mean of their ranks
/// (`scipy.stats.rankdata(x, method="average")`).
pub fn rank_average(xs: &[f64]) -> Result<Vec<f64>> {
    check_finite("rank_average", xs)?;
    Ok(ranks_and_ties(xs).0)
}

/// Average ranks, and the size of every group of tied values (groups of one included), as
/// scipy's internal `_rankdata(x, "average", return_ties=True)`.
pub(crate) fn ranks_and_ties(xs: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut ranks = vec![0.0; xs.len()];
    let mut ties = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        // `==` rather than `total_cmp`, so that -0.0 and 0.0 tie as they do in numpy.
        while end < order.len() && xs[order[end]] == xs[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end share their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        ties.push(end - start);
        start = end;
    }
    (ranks, ties)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_mean_rank() {
        let (r, t) = ranks_and_ties(&[3.0, 1.0, 3.0, 2.0, 3.0, -0.0, 0.0]);
        assert_eq!(r, vec![6.0, 3.0, 6.0, 4.0, 6.0, 1.5, 1.5]);
        assert_eq!(t, vec![2, 1, 1, 3]);
        assert!(rank_average(&[]).is_err());
    }
}

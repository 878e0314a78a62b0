//! When a spread counts as zero. Every function that divides by a variance or a sum of squares
//! asks here first, so that "no variation" is a [`StatsError::Degenerate`](crate::StatsError)
//! rather than a statistic of 1e30.
//!
//! Rounding makes "no variation" come out as a tiny positive number rather than 0: the mean of
//! three 0.7s is 0.6999999999999998, so their deviations are ~1e-16 and their sum of squares
//! ~1e-32. Two rules, applied in this order:
//! 1. A sample is constant when its raw values are all equal ([`constant_value`]); no arithmetic
//!    enters, so the answer is exact.
//! 2. A sum of squared deviations counts as 0 when it is no larger than rounding alone produces at
//!    the magnitude of the data ([`is_rounding_noise`]). This catches what rule 1 cannot: values
//!    that are equal in exact arithmetic but not as computed (two values always lie equally far
//!    from their mean; an additive grid has residuals of exactly 0), and values one ulp apart.

/// How many units `eps * scale` of rounding error a computed deviation may carry; see
/// [`rounding_floor`].
const ROUNDING_UNITS: f64 = 64.0;

/// The value all of `xs` equal, if they are all equal (`==` on the raw values, so `-0.0` and `0.0`
/// are equal). Stops at the first value that differs, so a varying sample costs one comparison or
/// two.
pub(crate) fn constant_value(xs: &[f64]) -> Option<f64> {
    let first = *xs.first()?;
    xs.iter().all(|&x| x == first).then_some(first)
}

/// The largest magnitude among `xs` (0 for an empty slice): the scale of their rounding errors.
pub(crate) fn magnitude(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0_f64, |m, x| m.max(x.abs()))
}

/// The largest sum of `n` squared deviations that rounding alone can produce in data whose largest
/// magnitude is `scale`: `n (64 eps scale)^2`, i.e. a root-mean-square deviation of
/// `64 eps scale` (about 1.4e-14 of the scale).
///
/// Why 64 units of `eps * scale`: the deviations this crate squares are built from means, and a
/// mean of values up to `scale` (compensated sum, then a division) is off by at most about
/// `2 eps scale`. A deviation `x - mean` is then off by about `2 eps scale` (the subtraction of
/// nearby numbers is exact), a Levene deviation `|x - c| - mean(|x - c|)` by about `6 eps scale`,
/// and a two-way ANOVA residual `x - row mean - column mean + grand mean`, three levels of means
/// deep, by about `13 eps scale`. 64 leaves a factor of 5 over the worst of these (25 in sums of
/// squares). In the other direction the rule treats a real spread below 1.4e-14 of the data's
/// magnitude as 0: such a spread is the size of the mean's own rounding error, so no statistic
/// computed from it would mean anything, and real run-to-run differences are far larger (dev
/// accuracies are multiples of 1 / dev-set size, 1e-6 or more for any dev set below a million
/// examples).
///
/// A threshold relative to the total sum of squares (`(64 eps)^2 * total`) is implied: the total
/// is at most `n scale^2`. It would not suffice alone, because rounding error scales with the
/// magnitude of the values, not with their spread (values near 1000 that differ by 0.1).
pub(crate) fn rounding_floor(n: usize, scale: f64) -> f64 {
    let unit = ROUNDING_UNITS * f64::EPSILON * scale;
    n as f64 * unit * unit
}

/// Whether a sum of `n` squared deviations of data of magnitude `scale` is no more than rounding
/// error, and so counts as 0 ([`rounding_floor`]).
pub(crate) fn is_rounding_noise(sum_sq: f64, n: usize, scale: f64) -> bool {
    sum_sq <= rounding_floor(n, scale)
}

/// Plain words for a sample without spread, for the `reason` of an error: "every value of x is
/// 0.7", or, when its values differ by rounding error only, "the values of x differ only by
/// rounding error (0.7 to 0.7000000000000001)".
pub(crate) fn no_spread(name: &str, xs: &[f64]) -> String {
    match constant_value(xs) {
        Some(v) => format!("every value of {name} is {v}"),
        None => {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("the values of {name} differ only by rounding error ({lo} to {hi})")
        }
    }
}

/// Up to `shown` phrases joined by ", ", then how many more were left out (a message about 50
/// groups names a few).
pub(crate) fn list_some(phrases: impl IntoIterator<Item = String>, shown: usize) -> String {
    let all: Vec<String> = phrases.into_iter().collect();
    let mut text = all[..all.len().min(shown)].join(", ");
    if all.len() > shown {
        text.push_str(&format!(", and {} more", all.len() - shown));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptive::sum_sq_dev_unchecked;

    #[test]
    fn constant_on_raw_values() {
        assert_eq!(constant_value(&[0.7; 3]), Some(0.7));
        assert_eq!(constant_value(&[0.0, -0.0]), Some(0.0));
        assert_eq!(constant_value(&[0.7, 0.7_f64.next_up()]), None);
        assert_eq!(constant_value(&[]), None);
    }

    #[test]
    fn rounding_spread_is_noise_and_real_spread_is_not() {
        // Equal in exact arithmetic, not as computed: |0.1 - 0.2| and |0.3 - 0.2|.
        let z = [(0.1_f64 - 0.2).abs(), (0.3_f64 - 0.2).abs()];
        let ss = sum_sq_dev_unchecked(&z);
        assert!(ss > 0.0 && is_rounding_noise(ss, 2, 0.3), "{ss:e}");
        let x = [0.7, 0.7_f64.next_up(), 0.7];
        assert!(is_rounding_noise(sum_sq_dev_unchecked(&x), 3, 0.7));
        // One example in a million of a dev set, at the scale of an accuracy.
        let x = [0.65, 0.65 + 1e-6];
        assert!(!is_rounding_noise(sum_sq_dev_unchecked(&x), 2, 0.65));
        let x = [1e6, 1e6 + 1e-6];
        assert!(!is_rounding_noise(sum_sq_dev_unchecked(&x), 2, 1e6));
    }

    #[test]
    fn plain_words() {
        assert_eq!(no_spread("group 2", &[0.7; 4]), "every value of group 2 is 0.7");
        assert_eq!(
            no_spread("x", &[0.7, 0.7_f64.next_up()]),
            "the values of x differ only by rounding error (0.7 to 0.7000000000000001)"
        );
        assert_eq!(list_some(["a".to_string(), "b".to_string(), "c".to_string()], 2), "a, b, and 1 more");
        assert_eq!(list_some(["a".to_string()], 2), "a");
    }
}

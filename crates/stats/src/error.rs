//! The one error type of the crate, and the input checks every public function runs first.

use thiserror::Error;

/// Why a statistic could not be computed.
///
/// Every public function checks its input before computing anything: invalid input is an error,
/// never a panic and never a silent `NaN`. `what` names the argument (`"levene: group 2"`).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum StatsError {
    /// An input that needs values has none.
    #[error("{what}: no values")]
    Empty { what: String },
    /// Too few values for the statistic (a variance needs two).
    #[error("{what}: needs at least {needed} values, got {got}")]
    TooFew { what: String, needed: usize, got: usize },
    /// Two inputs that must pair up element by element have different lengths.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch { what: String, left: usize, right: usize },
    /// A `NaN` or an infinity. scipy mostly propagates `NaN` (`nan_policy="propagate"`); this crate
    /// refuses it, so that a diverged run is noticed rather than averaged in.
    #[error("{what}: value at index {index} is not finite")]
    NonFinite { what: String, index: usize },
    /// An argument outside its domain (a quantile outside [0, 1], zero resamples).
    #[error("{what}: {reason}")]
    InvalidArgument { what: String, reason: String },
    /// The input is valid but the statistic is undefined for it, where scipy would return `NaN`
    /// or an infinity: a correlation with a constant input, a test whose variance estimate is 0.
    #[error("{what}: undefined because {reason}")]
    Degenerate { what: String, reason: String },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, StatsError>;

/// At least one value, all finite.
pub(crate) fn check_finite(what: &str, xs: &[f64]) -> Result<()> {
    check_min_len(what, xs, 1)?;
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(StatsError::NonFinite { what: what.to_string(), index }),
        None => Ok(()),
    }
}

/// At least `needed` values (an empty input is reported as [`StatsError::Empty`]).
pub(crate) fn check_min_len<T>(what: &str, xs: &[T], needed: usize) -> Result<()> {
    if xs.is_empty() && needed > 0 {
        Err(StatsError::Empty { what: what.to_string() })
    } else if xs.len() < needed {
        Err(StatsError::TooFew { what: what.to_string(), needed, got: xs.len() })
    } else {
        Ok(())
    }
}

/// At least `needed` values, all finite.
pub(crate) fn check_sample(what: &str, xs: &[f64], needed: usize) -> Result<()> {
    check_min_len(what, xs, needed)?;
    check_finite(what, xs)
}

/// Two inputs of the same length.
pub(crate) fn check_same_len<A, B>(what: &str, left: &[A], right: &[B]) -> Result<()> {
    if left.len() == right.len() {
        Ok(())
    } else {
        Err(StatsError::LengthMismatch { what: what.to_string(), left: left.len(), right: right.len() })
    }
}

pub(crate) fn invalid(what: &str, reason: impl Into<String>) -> StatsError {
    StatsError::InvalidArgument { what: what.to_string(), reason: reason.into() }
}

pub(crate) fn degenerate(what: &str, reason: impl Into<String>) -> StatsError {
    StatsError::Degenerate { what: what.to_string(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_report_the_first_problem() {
        assert!(matches!(check_sample("x", &[], 2), Err(StatsError::Empty { .. })));
        assert_eq!(
            check_sample("x", &[1.0], 2),
            Err(StatsError::TooFew { what: "x".into(), needed: 2, got: 1 })
        );
        assert_eq!(
            check_sample("x", &[1.0, f64::INFINITY, f64::NAN], 2),
            Err(StatsError::NonFinite { what: "x".into(), index: 1 })
        );
        assert!(check_same_len("x", &[1, 2], &[3]).is_err());
        assert!(check_sample("x", &[1.0, 2.0], 2).is_ok());
    }

    #[test]
    fn messages_name_the_input() {
        let e = StatsError::TooFew { what: "levene: group 2".into(), needed: 2, got: 1 };
        assert_eq!(e.to_string(), "levene: group 2: needs at least 2 values, got 1");
    }
}

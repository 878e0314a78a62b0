//! The recommendation: the product exists to find the stable recipe, so the rule weighs failures,
//! spread and level, each with its own test, in that order, and says which one decided:
//!
//! 1. Failures first, Fisher's exact test on every pair before any filtering: a configuration
//!    significantly worse in failures than another is out (0 of 2 failed never beats 1 of 25 on raw
//!    rates: the test decides, and so does the minimum number of runs below).
//! 2. Among the rest, those significantly worse in spread than another are out (Levene's and
//!    Brown-Forsythe's tests must agree).
//! 3. Then the highest median.
//!
//! "Use X" only when X, against every other configuration, is significantly better on at least one of
//! the three and significantly worse on none; otherwise "no configuration is clearly better", with the
//! evidence. Every p-value is the one the comparisons table shows (the same Holm families, per task
//! and test), so the two can never disagree. The rule needs at least [`MIN_RUNS`] runs with a known
//! outcome per configuration.

use crate::table::Row;
use crate::verdicts::{num, Comparison, Recommendation, ALPHA};

/// The fewest runs with a known outcome (a final value, or diverged) per configuration for a
/// recommendation: with fewer, no test has the power to tell configurations apart.
pub const MIN_RUNS: usize = 5;

/// How one configuration stands against another.
enum Standing {
    Better(String),
    Worse(String),
    Undecided(String),
}

fn pair<'a>(pairs: &'a [Comparison], a: &str, b: &str) -> Option<&'a Comparison> {
    pairs.iter().find(|c| c.is_pair(a, b))
}

/// `a` has significantly more failures than `b` (Fisher, Holm-adjusted).
fn worse_in_failures(pairs: &[Comparison], a: &Row, b: &Row) -> bool {
    match (a.failure_rate(), b.failure_rate(), pair(pairs, &a.configuration, &b.configuration)) {
        (Some(ra), Some(rb), Some(c)) => ra > rb && c.fisher.significant(),
        _ => false,
    }
}

/// `a` has a significantly larger spread than `b` (Levene and Brown-Forsythe agreeing).
fn worse_in_spread(pairs: &[Comparison], a: &Row, b: &Row) -> bool {
    match (a.std, b.std, pair(pairs, &a.configuration, &b.configuration)) {
        (Some(sa), Some(sb), Some(c)) => sa > sb && c.spread_differs(),
        _ => false,
    }
}

/// `a` has a significantly lower mean than `b` (Welch).
fn worse_in_level(pairs: &[Comparison], a: &Row, b: &Row) -> bool {
    match (a.mean, b.mean, pair(pairs, &a.configuration, &b.configuration)) {
        (Some(ma), Some(mb), Some(c)) => ma < mb && c.welch.significant(),
        _ => false,
    }
}

fn standing(pairs: &[Comparison], best: &Row, o: &Row) -> Standing {
    let c = pair(pairs, &best.configuration, &o.configuration).expect("every pair is compared");
    let vs = &o.configuration;
    if worse_in_failures(pairs, o, best) {
        return Standing::Better(format!(
            "fewer failed runs than {vs} ({} against {}; {})",
            best.failed_text(),
            o.failed_text(),
            c.fisher.text("Fisher")
        ));
    }
    if worse_in_failures(pairs, best, o) {
        return Standing::Worse(format!(
            "against {vs} it has more failed runs ({})",
            c.fisher.text("Fisher")
        ));
    }
    if worse_in_spread(pairs, best, o) {
        return Standing::Worse(format!(
            "against {vs} it has a larger spread ({}, {})",
            c.levene.text("Levene"),
            c.brown_forsythe.text("Brown-Forsythe")
        ));
    }
    if worse_in_level(pairs, best, o) {
        return Standing::Worse(format!("against {vs} it has a lower mean ({})", c.welch.text("Welch")));
    }
    if worse_in_spread(pairs, o, best) {
        return Standing::Better(format!(
            "a smaller spread than {vs} (std {} against {}; {}, {})",
            num(best.std),
            num(o.std),
            c.levene.text("Levene"),
            c.brown_forsythe.text("Brown-Forsythe")
        ));
    }
    if worse_in_level(pairs, o, best) {
        return Standing::Better(format!(
            "a higher mean than {vs} ({} against {}; {})",
            num(best.mean),
            num(o.mean),
            c.welch.text("Welch")
        ));
    }
    let fisher = if o.failed.is_some() { format!(", {}", c.fisher.text("Fisher")) } else { String::new() };
    Standing::Undecided(format!(
        "against {vs} (median {}, {} failed) no test is statistically significant: {}, {}, {}{fisher}",
        num(o.median),
        o.failed_text(),
        c.levene.text("Levene"),
        c.brown_forsythe.text("Brown-Forsythe"),
        c.welch.text("Welch")
    ))
}

fn none(text: String) -> Recommendation {
    Recommendation { configuration: None, clearly_better: false, text }
}

pub(crate) fn recommend(rows: &[&Row], pairs: &[Comparison]) -> Recommendation {
    let with_runs: Vec<&Row> = rows.iter().copied().filter(|r| r.judged > 0).collect();
    match with_runs.len() {
        0 => return none("No run has ended with a known outcome yet.".into()),
        1 => {
            return none(format!(
                "Only one configuration ({}) has ended runs: nothing to compare it with.",
                with_runs[0].configuration
            ))
        }
        _ => {}
    }
    if with_runs.iter().any(|r| r.judged < MIN_RUNS) {
        let counts: Vec<String> = with_runs.iter().map(|r| r.judged.to_string()).collect();
        let counts = match counts.len() {
            2 => counts.join(" and "),
            _ => counts.join(", "),
        };
        return none(format!(
            "Too few runs to recommend (n = {counts}; at least {MIN_RUNS} each are needed). The table above still shows \
             every run."
        ));
    }
    if with_runs.iter().all(|r| r.failure_rate() == Some(1.0)) {
        return none(format!(
            "Every run of every configuration failed (at or below the majority baseline, or diverged): none of them \
             fine-tunes {} here.",
            with_runs[0].task
        ));
    }
    // 1. Failures, every pair, before any filtering.
    let s1: Vec<&Row> = with_runs
        .iter()
        .copied()
        .filter(|a| !with_runs.iter().any(|b| worse_in_failures(pairs, a, b)))
        .collect();
    // 2. Spread, among those.
    let s2: Vec<&Row> =
        s1.iter().copied().filter(|a| !s1.iter().any(|b| worse_in_spread(pairs, a, b))).collect();
    // 3. The highest median (a configuration whose every run diverged has none).
    let Some(best) = s2.iter().copied().filter(|r| r.median.is_some()).max_by(|a, b| {
        a.median
            .unwrap()
            .total_cmp(&b.median.unwrap())
            .then(b.mean.unwrap().total_cmp(&a.mean.unwrap()).reverse())
    }) else {
        return none(
            "No configuration left after the failure and spread tests has a run with a final value.".into(),
        );
    };
    let mut better = Vec::new();
    let mut against = Vec::new();
    for o in with_runs.iter().filter(|o| o.configuration != best.configuration) {
        match standing(pairs, best, o) {
            Standing::Better(s) => better.push(s),
            Standing::Worse(s) | Standing::Undecided(s) => against.push(s),
        }
    }
    let mut head = format!(
        "{} is the rule's choice (failures first by Fisher's exact test, then spread by Levene's and Brown-Forsythe's \
         tests agreeing, then the highest median): median {} {}, {} failed",
        best.configuration,
        best.metric,
        num(best.median),
        best.failed_text()
    );
    if best.diverged > 0 {
        head +=
            &format!(", of which {} diverged (counted as failed, not in its median or std)", best.diverged);
    }
    if best.stopped > 0 {
        head += &format!("; {} run(s) stopped by the schedule are in no number", best.stopped);
    }
    if against.is_empty() {
        Recommendation {
            configuration: Some(best.configuration.clone()),
            clearly_better: true,
            text: format!(
                "Use {}: {head}. It has {}. Significance: Holm-adjusted p < {ALPHA}.",
                best.configuration,
                better.join("; ")
            ),
        }
    } else {
        Recommendation {
            configuration: Some(best.configuration.clone()),
            clearly_better: false,
            text: format!(
                "No configuration is clearly better at Holm-adjusted p < {ALPHA}. {head}. But {}{}.",
                against.join("; "),
                if better.is_empty() {
                    String::new()
                } else {
                    format!(". It does have {}", better.join("; "))
                }
            ),
        }
    }
}

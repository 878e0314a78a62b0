//! What the tests support, per task. The paper's own comparison comes first: the configuration of
//! smallest std against the one of second-smallest std, Levene's test centred on the mean. Every other
//! pair of configurations follows as an additional comparison. Each test (Levene, Brown-Forsythe,
//! Welch, Mann-Whitney, Fisher) is Holm-adjusted within its task over all the task's pairs, the
//! paper's pair included: one family per task and test, so adding a task never changes another
//! task's p-values, and the recommendation ([`crate::recommend`]) reads the very same adjusted
//! p-values, so one pair can never read "higher" in one place and "no evidence" in another.
//!
//! Wording: a difference is "statistically significant at Holm-adjusted p < 0.05", never "real";
//! "smaller spread" needs Levene's and Brown-Forsythe's tests to agree; Welch's test alone decides
//! "higher mean", and Mann-Whitney's is worded as what it tests ("tends to score higher").

use crate::groups::Group;
use crate::load::RunData;
use crate::table::{final_values, Row, MIN_BOOTSTRAP_RUNS};
use serde::Serialize;
use stabletune_stats::{fisher_exact, holm, levene, mann_whitney_u, welch_t_test, Center, MannWhitneyMethod};

/// The level at which an adjusted p-value counts as statistically significant.
pub const ALPHA: f64 = 0.05;

/// The test names, in the order of the comparison tables and of [`TaskVerdict::families`].
pub const TESTS: [&str; 5] = ["Levene", "Brown-Forsythe", "Welch", "Mann-Whitney", "Fisher"];

/// One test's outcome: a p-value and its Holm adjustment within the task, or the reason the test is
/// undefined for these runs, in words.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TestResult {
    pub p: Option<f64>,
    pub p_holm: Option<f64>,
    pub undefined: Option<String>,
}

impl TestResult {
    fn of<T>(r: stabletune_stats::Result<T>, p: impl Fn(&T) -> f64) -> TestResult {
        match r {
            Ok(t) => TestResult { p: Some(p(&t)), p_holm: None, undefined: None },
            Err(e) => TestResult { p: None, p_holm: None, undefined: Some(plain(&e.to_string())) },
        }
    }

    fn undefined(why: &str) -> TestResult {
        TestResult { p: None, p_holm: None, undefined: Some(why.to_string()) }
    }

    /// Statistically significant at Holm-adjusted p < [`ALPHA`].
    pub fn significant(&self) -> bool {
        self.p_holm.is_some_and(|p| p < ALPHA)
    }

    /// "p = 0.012 (Holm-adjusted)", or why the test is undefined.
    pub fn text(&self, name: &str) -> String {
        match (self.p_holm, &self.undefined) {
            (Some(p), _) => format!("{name} p = {} (Holm-adjusted)", p_text(p)),
            (None, Some(why)) => format!("{name}'s test is undefined ({why})"),
            (None, None) => format!("{name}'s test was not run"),
        }
    }
}

/// Two configurations of one task and every test between them.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub task: String,
    pub configuration: String,
    /// The configuration it is compared with.
    pub other: String,
    pub levene: TestResult,
    pub brown_forsythe: TestResult,
    pub welch: TestResult,
    pub mann_whitney: TestResult,
    pub fisher: TestResult,
    /// Whether the first configuration's runs win more than half of the pairwise contests (its
    /// Mann-Whitney U above n1 n2 / 2): the direction of a significant Mann-Whitney result.
    pub first_scores_higher: bool,
    pub sentences: Vec<String>,
}

impl Comparison {
    /// The tests in [`TESTS`]'s order.
    pub fn tests(&self) -> [&TestResult; 5] {
        [&self.levene, &self.brown_forsythe, &self.welch, &self.mann_whitney, &self.fisher]
    }

    fn tests_mut(&mut self) -> [&mut TestResult; 5] {
        [
            &mut self.levene,
            &mut self.brown_forsythe,
            &mut self.welch,
            &mut self.mann_whitney,
            &mut self.fisher,
        ]
    }

    /// Whether this compares `a` with `b`, in either order.
    pub fn is_pair(&self, a: &str, b: &str) -> bool {
        (self.configuration == a && self.other == b) || (self.configuration == b && self.other == a)
    }

    /// Spread differs significantly: Levene and Brown-Forsythe both at the adjusted level.
    pub fn spread_differs(&self) -> bool {
        self.levene.significant() && self.brown_forsythe.significant()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    pub configuration: Option<String>,
    /// Whether the tests single it out (else the text says why not).
    pub clearly_better: bool,
    pub text: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TaskVerdict {
    pub task: String,
    pub metric: String,
    /// The paper's comparison: the configuration of smallest std against the one of second-smallest.
    pub headline: Option<Comparison>,
    /// Every other pair of configurations.
    pub additional: Vec<Comparison>,
    /// How many p-values each test's Holm family holds in this task, in [`TESTS`]'s order.
    pub families: Vec<(String, usize)>,
    /// What could not be tested, and why; runs left out, and why.
    pub notes: Vec<String>,
    pub recommendation: Recommendation,
}

impl TaskVerdict {
    /// The headline comparison and the additional ones.
    pub fn comparisons(&self) -> impl Iterator<Item = &Comparison> {
        self.headline.iter().chain(&self.additional)
    }
}

/// A configuration's row and the values its statistics are over.
pub(crate) struct Sample<'a> {
    pub row: &'a Row,
    pub values: Vec<f64>,
}

/// A p-value as the report prints it: 3 decimals, or 2 significant digits below 0.001.
pub fn p_text(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

pub(crate) fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.4}"),
        _ => "-".into(),
    }
}

pub fn verdicts(groups: &[Group], rows: &[Row], runs: &[RunData]) -> Vec<TaskVerdict> {
    crate::groups::tasks(groups)
        .into_iter()
        .map(|task| {
            let samples: Vec<Sample> = groups
                .iter()
                .zip(rows)
                .filter(|(g, _)| g.task == task)
                .map(|(g, row)| Sample {
                    row,
                    values: final_values(g, runs).into_iter().map(|(_, v)| v).collect(),
                })
                .collect();
            task_verdict(task, &samples)
        })
        .collect()
}

fn task_verdict(task: &str, samples: &[Sample]) -> TaskVerdict {
    let metric = samples.first().map(|s| s.row.metric.clone()).unwrap_or_default();
    let mut notes = Vec::new();
    for s in samples {
        notes.extend(left_out(s.row));
    }
    // The paper's pair: smallest and second-smallest std among configurations with a std.
    let mut by_std: Vec<&Sample> = samples.iter().filter(|s| s.row.std.is_some()).collect();
    by_std.sort_by(|a, b| a.row.std.unwrap().total_cmp(&b.row.std.unwrap()));
    for s in samples.iter().filter(|s| s.row.std.is_none()) {
        notes.push(format!(
            "{} has {} run(s) with a final {metric}: too few for a std, so it is not in the paper's comparison.",
            s.row.configuration, s.row.n
        ));
    }
    let headline_pair = (by_std.len() >= 2).then(|| (by_std[0], by_std[1]));
    // The paper's pair first, oriented smallest std first; then every other pair in table order.
    let mut pairs: Vec<Comparison> = headline_pair.map(|(a, b)| compare(task, a, b)).into_iter().collect();
    for (i, a) in samples.iter().enumerate() {
        for b in &samples[i + 1..] {
            let (x, y) = (&a.row.configuration, &b.row.configuration);
            if headline_pair.is_none() || !pairs[0].is_pair(x, y) {
                pairs.push(compare(task, a, b));
            }
        }
    }
    if samples.len() > 1 && headline_pair.is_none() {
        notes.push("Fewer than two configurations have a std (two or more runs with a final value): the paper's comparison cannot be made.".into());
    }
    let families = adjust(&mut pairs);
    let rows: Vec<&Row> = samples.iter().map(|s| s.row).collect();
    for (k, c) in pairs.iter_mut().enumerate() {
        c.sentences = sentences(c, &rows, k == 0 && headline_pair.is_some());
    }
    let recommendation = crate::recommend::recommend(&rows, &pairs);
    let mut pairs = pairs.into_iter();
    let headline = headline_pair.and_then(|_| pairs.next());
    TaskVerdict {
        task: task.to_string(),
        metric,
        headline,
        additional: pairs.collect(),
        families,
        notes,
        recommendation,
    }
}

/// The runs of a configuration that are in no statistic, said.
fn left_out(r: &Row) -> Vec<String> {
    let mut out = Vec::new();
    if r.diverged > 0 {
        out.push(format!(
            "{}: {} of its {} ended runs diverged; they have no final model, so they are counted as failed but are not \
             in its n, std, mean, median, the spread and mean tests or the box plot.",
            r.configuration, r.diverged, r.ended
        ));
    }
    if r.stopped > 0 {
        out.push(format!(
            "{}: {} run(s) were stopped by the early-stopping schedule; they are neither successes nor failures and are \
             in no number here.",
            r.configuration, r.stopped
        ));
    }
    out
}

fn compare(task: &str, x: &Sample, y: &Sample) -> Comparison {
    let groups = [x.values.as_slice(), y.values.as_slice()];
    let fisher = match (x.row.failed, y.row.failed) {
        (Some(fx), Some(fy)) if x.row.judged > 0 && y.row.judged > 0 => TestResult::of(
            fisher_exact([[fx as u64, (x.row.judged - fx) as u64], [fy as u64, (y.row.judged - fy) as u64]]),
            |t| t.p_value,
        ),
        (Some(_), Some(_)) => TestResult::undefined("a configuration has no run with a known outcome"),
        _ => TestResult::undefined("the task has no majority-class baseline, so no run can fail on it"),
    };
    let mann_whitney = mann_whitney_u(&x.values, &y.values, MannWhitneyMethod::Auto);
    // U of the first sample counts the pairs its run wins (ties half).
    let half = (x.values.len() * y.values.len()) as f64 / 2.0;
    let first_scores_higher = mann_whitney.as_ref().is_ok_and(|t| t.statistic > half);
    Comparison {
        task: task.to_string(),
        configuration: x.row.configuration.clone(),
        other: y.row.configuration.clone(),
        levene: TestResult::of(levene(&groups, Center::Mean), |t| t.p_value),
        brown_forsythe: TestResult::of(levene(&groups, Center::Median), |t| t.p_value),
        welch: TestResult::of(welch_t_test(&x.values, &y.values), |t| t.p_value),
        mann_whitney: TestResult::of(mann_whitney, |t| t.p_value),
        fisher,
        first_scores_higher,
        sentences: Vec::new(),
    }
}

/// Holm's correction over each test's p-values within one task; returns each family's size.
fn adjust(pairs: &mut [Comparison]) -> Vec<(String, usize)> {
    let mut sizes = Vec::new();
    for (t, name) in TESTS.iter().enumerate() {
        let mut cells: Vec<&mut TestResult> = pairs
            .iter_mut()
            .map(|c| c.tests_mut().into_iter().nth(t).unwrap())
            .filter(|c| c.p.is_some())
            .collect();
        let ps: Vec<f64> = cells.iter().map(|c| c.p.unwrap()).collect();
        let adjusted = holm(&ps).expect("p-values are in [0, 1]");
        for (cell, a) in cells.iter_mut().zip(adjusted) {
            cell.p_holm = Some(a);
        }
        sizes.push((name.to_string(), ps.len()));
    }
    sizes
}

fn find<'a>(rows: &[&'a Row], configuration: &str) -> &'a Row {
    rows.iter().find(|r| r.configuration == configuration).expect("a row per configuration")
}

fn sentences(c: &Comparison, rows: &[&Row], headline: bool) -> Vec<String> {
    let x = find(rows, &c.configuration);
    let y = find(rows, &c.other);
    let (cx, cy) = (&c.configuration, &c.other);
    let mut out = Vec::new();
    if headline {
        out.push(format!(
            "The paper's comparison: {cx} has the smallest std ({}, over its {} runs with a final value) and {cy} the \
             second smallest ({}); Levene's test centred on the mean, as the paper: p = {} (Holm-adjusted within the \
             task; unadjusted p = {}).",
            num(x.std),
            x.n,
            num(y.std),
            c.levene.p_holm.map(p_text).unwrap_or_else(|| "undefined".into()),
            c.levene.p.map(p_text).unwrap_or_else(|| "undefined".into()),
        ));
        if x.diverged > 0 {
            out.push(format!(
                "{cx}'s std leaves out its {} diverged run(s) (of {} ended), which have no final value: it is the \
                 smallest std of the runs that finished, not of every run.",
                x.diverged, x.ended
            ));
        }
    }
    out.push(spread_sentence(c, x, y));
    out.push(mean_sentence(c, x, y));
    out.push(rank_sentence(c));
    out.push(failure_sentence(c, x, y));
    for row in [x, y] {
        if row.std == Some(0.0) {
            out.push(format!(
                "Every run of {} with a final value ended at the same {} ({}).",
                row.configuration,
                row.metric,
                num(row.mean)
            ));
        }
    }
    if x.n < MIN_BOOTSTRAP_RUNS || y.n < MIN_BOOTSTRAP_RUNS {
        out.push(format!(
            "These are small samples (n = {} and {} runs with a final value): the tests can detect only large \
             differences, and no statistically significant difference is not evidence that there is none.",
            x.n, y.n
        ));
    }
    out
}

fn spread_sentence(c: &Comparison, x: &Row, y: &Row) -> String {
    let (cx, cy) = (&c.configuration, &c.other);
    let stds = format!("std {} against {}", num(x.std), num(y.std));
    let (l, b) = (&c.levene, &c.brown_forsythe);
    match (l.p_holm, b.p_holm) {
        (Some(_), Some(_)) if c.spread_differs() => format!(
            "{cx} has a {} spread than {cy} ({stds}): statistically significant at Holm-adjusted p < {ALPHA} by both \
             {} and {}.",
            if x.std < y.std { "smaller" } else { "larger" },
            l.text("Levene"),
            b.text("Brown-Forsythe")
        ),
        (Some(pl), Some(pb)) if l.significant() => format!(
            "Levene p = {} but Brown-Forsythe p = {} (Holm-adjusted; {stds}): the spread difference between {cx} and \
             {cy} rests on a few outlying runs, so it is not called a difference.",
            p_text(pl),
            p_text(pb)
        ),
        (Some(pl), Some(pb)) if b.significant() => format!(
            "Brown-Forsythe p = {} but Levene p = {} (Holm-adjusted; {stds}): the two tests of spread disagree for \
             {cx} and {cy}, so no difference in spread is claimed.",
            p_text(pb),
            p_text(pl)
        ),
        (Some(_), Some(_)) => format!(
            "No statistically significant difference in spread between {cx} and {cy} ({stds}): {}, {}.",
            l.text("Levene"),
            b.text("Brown-Forsythe")
        ),
        _ => format!(
            "The spread of {cx} and {cy} cannot be compared ({stds}): {}; {}.",
            l.text("Levene"),
            b.text("Brown-Forsythe")
        ),
    }
}

fn mean_sentence(c: &Comparison, x: &Row, y: &Row) -> String {
    let (cx, cy) = (&c.configuration, &c.other);
    let means = format!("mean {} against {}", num(x.mean), num(y.mean));
    match c.welch.p_holm {
        Some(_) if c.welch.significant() => format!(
            "{cx} has a {} mean than {cy} ({means}): statistically significant at Holm-adjusted p < {ALPHA} by \
             Welch's t-test: {}.",
            if x.mean > y.mean { "higher" } else { "lower" },
            c.welch.text("Welch")
        ),
        Some(_) => format!(
            "No statistically significant difference in mean between {cx} and {cy} ({means}): {}.",
            c.welch.text("Welch")
        ),
        None => format!("The means of {cx} and {cy} cannot be compared ({means}): {}.", c.welch.text("Welch")),
    }
}

/// Mann-Whitney's U tests whether one configuration's runs tend to score higher than the other's, not
/// whether the means differ: worded so.
fn rank_sentence(c: &Comparison) -> String {
    let (cx, cy) = (&c.configuration, &c.other);
    let mw = &c.mann_whitney;
    match mw.p_holm {
        Some(_) if mw.significant() => {
            let (hi, lo) = if c.first_scores_higher { (cx, cy) } else { (cy, cx) };
            format!(
                "{hi}'s runs tend to score higher than {lo}'s: statistically significant at Holm-adjusted p < {ALPHA} by \
                 the Mann-Whitney U test: {}.",
                mw.text("Mann-Whitney")
            )
        }
        Some(_) => format!(
            "No statistically significant tendency for the runs of either {cx} or {cy} to score higher: {}.",
            mw.text("Mann-Whitney")
        ),
        None => format!("{}.", mw.text("Mann-Whitney")),
    }
}

fn failure_sentence(c: &Comparison, x: &Row, y: &Row) -> String {
    let (cx, cy) = (&c.configuration, &c.other);
    let (Some(fx), Some(fy)) = (x.failed, y.failed) else {
        return format!(
            "Failed runs are not defined for {} (no majority-class baseline, a regression task): no Fisher test.",
            x.task
        );
    };
    let counts = format!("{cx} failed in {fx} of {} runs, {cy} in {fy} of {}", x.judged, y.judged);
    match c.fisher.p_holm {
        Some(_) if c.fisher.significant() => format!(
            "{counts}: statistically significant at Holm-adjusted p < {ALPHA} by Fisher's exact test, {}.",
            c.fisher.text("Fisher")
        ),
        Some(_) => {
            format!(
                "{counts}: no statistically significant difference by Fisher's exact test, {}.",
                c.fisher.text("Fisher")
            )
        }
        None => format!("{counts}: {}.", c.fisher.text("Fisher")),
    }
}

/// The stats crate's "levene: undefined because ..." without the function's name.
fn plain(reason: &str) -> String {
    reason.split_once("undefined because ").map(|(_, r)| r.to_string()).unwrap_or_else(|| reason.to_string())
}

//! Is a difference real? Per task, every configuration against the one of second-smallest std (the
//! comparison of Mosbach et al.'s Table 1): Levene and Brown-Forsythe on spread, Welch and
//! Mann-Whitney on means, Fisher's exact test on failed-run counts; each test's p-values Holm-adjusted
//! across the table; a sentence per comparison; and a recommendation per task.

use crate::groups::Group;
use crate::load::RunData;
use crate::table::{final_values, Row};
use serde::Serialize;
use stabletune_stats::{fisher_exact, holm, levene, mann_whitney_u, welch_t_test, Center, MannWhitneyMethod};

/// The level at which an adjusted p-value counts as evidence of a difference.
pub const ALPHA: f64 = 0.05;

/// One test's outcome: a p-value (and its Holm adjustment once the table is complete), or the reason
/// the test is undefined for these runs, in words.
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
            Err(e) => TestResult { p: None, p_holm: None, undefined: Some(e.to_string()) },
        }
    }
    fn significant(&self) -> bool {
        self.p_holm.is_some_and(|p| p < ALPHA)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub task: String,
    pub configuration: String,
    /// The configuration of second-smallest std it is compared with.
    pub reference: String,
    pub levene: TestResult,
    pub brown_forsythe: TestResult,
    pub welch: TestResult,
    pub mann_whitney: TestResult,
    pub fisher: TestResult,
    pub sentences: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    pub configuration: Option<String>,
    /// Whether the tests single it out (else the text says no configuration is clearly better).
    pub clearly_better: bool,
    pub text: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TaskVerdict {
    pub task: String,
    pub metric: String,
    pub reference: Option<String>,
    pub comparisons: Vec<Comparison>,
    /// What could not be tested, and why.
    pub notes: Vec<String>,
    pub recommendation: Recommendation,
}

struct Sample<'a> {
    row: &'a Row,
    values: Vec<f64>,
}

/// A p-value as the report prints it: 3 decimals, or 2 significant digits below 0.001.
pub fn p_text(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

pub fn verdicts(groups: &[Group], rows: &[Row], runs: &[RunData]) -> Vec<TaskVerdict> {
    let mut tasks: Vec<TaskVerdict> = crate::groups::tasks(groups)
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
        .collect();
    // The sentences quote Holm-adjusted p-values, known once every task's comparisons are.
    adjust(&mut tasks);
    for t in &mut tasks {
        for c in &mut t.comparisons {
            c.sentences = sentences(c, rows);
        }
    }
    tasks
}

fn task_verdict(task: &str, samples: &[Sample]) -> TaskVerdict {
    let metric = samples.first().map(|s| s.row.metric.clone()).unwrap_or_default();
    let mut notes = Vec::new();
    let testable: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            let ok = s.row.std.is_some();
            if !ok {
                notes.push(format!(
                    "{} has {} run(s) with a final {}: too few to test.",
                    s.row.configuration, s.row.n, metric
                ));
            }
            ok
        })
        .collect();
    let mut by_std: Vec<&Sample> = testable.clone();
    by_std.sort_by(|a, b| a.row.std.unwrap().total_cmp(&b.row.std.unwrap()));
    let reference = by_std.get(1).map(|s| s.row.configuration.clone());
    let mut comparisons = Vec::new();
    if let Some(r) = by_std.get(1) {
        for s in &testable {
            if s.row.configuration == r.row.configuration {
                continue;
            }
            comparisons.push(compare(task, s, r));
        }
    } else if samples.len() > 1 {
        notes.push("Fewer than two configurations with two or more runs: nothing to compare.".into());
    }
    let recommendation = recommend(samples);
    TaskVerdict { task: task.to_string(), metric, reference, comparisons, notes, recommendation }
}

fn compare(task: &str, x: &Sample, r: &Sample) -> Comparison {
    let groups = [x.values.as_slice(), r.values.as_slice()];
    let failed = |s: &Sample| [s.row.failed as u64, (s.row.ended - s.row.failed) as u64];
    Comparison {
        task: task.to_string(),
        configuration: x.row.configuration.clone(),
        reference: r.row.configuration.clone(),
        levene: TestResult::of(levene(&groups, Center::Mean), |t| t.p_value),
        brown_forsythe: TestResult::of(levene(&groups, Center::Median), |t| t.p_value),
        welch: TestResult::of(welch_t_test(&x.values, &r.values), |t| t.p_value),
        mann_whitney: TestResult::of(mann_whitney_u(&x.values, &r.values, MannWhitneyMethod::Auto), |t| {
            t.p_value
        }),
        fisher: TestResult::of(fisher_exact([failed(x), failed(r)]), |t| t.p_value),
        sentences: Vec::new(),
    }
}

/// Holm's correction over each test's column of the whole table.
fn adjust(tasks: &mut [TaskVerdict]) {
    type Pick = fn(&mut Comparison) -> &mut TestResult;
    let columns: [Pick; 5] = [
        |c| &mut c.levene,
        |c| &mut c.brown_forsythe,
        |c| &mut c.welch,
        |c| &mut c.mann_whitney,
        |c| &mut c.fisher,
    ];
    for pick in columns {
        let mut cells: Vec<&mut TestResult> = tasks
            .iter_mut()
            .flat_map(|t| t.comparisons.iter_mut())
            .map(pick)
            .filter(|t| t.p.is_some())
            .collect();
        let ps: Vec<f64> = cells.iter().map(|t| t.p.unwrap()).collect();
        let adjusted = holm(&ps).expect("p-values are in [0, 1]");
        for (cell, a) in cells.iter_mut().zip(adjusted) {
            cell.p_holm = Some(a);
        }
    }
}

fn find<'a>(rows: &'a [Row], task: &str, configuration: &str) -> &'a Row {
    rows.iter().find(|r| r.task == task && r.configuration == configuration).expect("a row per group")
}

fn sentences(c: &Comparison, rows: &[Row]) -> Vec<String> {
    let x = find(rows, &c.task, &c.configuration);
    let r = find(rows, &c.task, &c.reference);
    let (xs, rs) = (x.std.unwrap_or(f64::NAN), r.std.unwrap_or(f64::NAN));
    let mut out = Vec::new();
    // Spread.
    let stds = format!("std {} against {}", num(xs), num(rs));
    out.push(match (&c.levene.p_holm, &c.levene.undefined) {
        (Some(p), _) if c.levene.significant() => format!(
            "{} has a {} spread than {} ({stds}): Levene p = {}, Brown-Forsythe p = {} (Holm-adjusted).",
            c.configuration,
            if xs < rs { "smaller" } else { "larger" },
            c.reference,
            p_text(*p),
            c.brown_forsythe.p_holm.map(p_text).unwrap_or_else(|| "undefined".into())
        ),
        (Some(p), _) => format!(
            "No evidence that {} and {} differ in spread ({stds}): Levene p = {} (Holm-adjusted).",
            c.configuration,
            c.reference,
            p_text(*p)
        ),
        (None, reason) => format!(
            "The spread of {} and {} cannot be tested{}.",
            c.configuration,
            c.reference,
            reason.as_ref().map(|r| format!(": {}", plain(r))).unwrap_or_default()
        ),
    });
    // Means.
    let means =
        format!("mean {} against {}", num(x.mean.unwrap_or(f64::NAN)), num(r.mean.unwrap_or(f64::NAN)));
    let mw = c.mann_whitney.p_holm.map(p_text).unwrap_or_else(|| "undefined".into());
    out.push(match c.welch.p_holm {
        Some(p) if c.welch.significant() || c.mann_whitney.significant() => format!(
            "{} has a {} mean than {} ({means}): Welch p = {}, Mann-Whitney p = {mw} (Holm-adjusted).",
            c.configuration,
            if x.mean > r.mean { "higher" } else { "lower" },
            c.reference,
            p_text(p)
        ),
        Some(p) => format!(
            "No evidence that the means of {} and {} differ ({means}): Welch p = {}, Mann-Whitney p = {mw}.",
            c.configuration,
            c.reference,
            p_text(p)
        ),
        None => format!(
            "The means of {} and {} cannot be compared by Welch's test{}; Mann-Whitney p = {mw}.",
            c.configuration,
            c.reference,
            c.welch.undefined.as_ref().map(|r| format!(" ({})", plain(r))).unwrap_or_default()
        ),
    });
    // Failed runs.
    let p = c.fisher.p_holm.unwrap_or(1.0);
    out.push(format!(
        "{} failed in {} of {} runs, {} in {} of {}: {} (Fisher's exact test, p = {}).",
        c.configuration,
        x.failed,
        x.ended,
        c.reference,
        r.failed,
        r.ended,
        if c.fisher.significant() { "a real difference" } else { "no evidence of a difference" },
        p_text(p)
    ));
    // A group whose runs all ended at one value: say it, rather than let a test speak for it.
    for row in [x, r] {
        if row.std == Some(0.0) {
            out.push(format!(
                "Every run of {} ended at the same {} ({}).",
                row.configuration,
                row.metric,
                num(row.mean.unwrap_or(f64::NAN))
            ));
        }
    }
    out
}

/// The stats crate's "levene: undefined because ..." without the function's name.
fn plain(reason: &str) -> String {
    reason.split_once("undefined because ").map(|(_, r)| r.to_string()).unwrap_or_else(|| reason.to_string())
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "-".into()
    }
}

/// The configuration with the highest median among those not worse in failed runs (the smallest
/// failed fraction of the task), and whether the tests single it out: against every other
/// configuration, either a higher metric (Welch or Mann-Whitney, as the comparisons' sentences) or fewer
/// failures (Fisher), each test Holm-adjusted over those pairs.
fn recommend(samples: &[Sample]) -> Recommendation {
    let with_runs: Vec<&Sample> = samples.iter().filter(|s| s.row.median.is_some()).collect();
    let none = |text: String| Recommendation { configuration: None, clearly_better: false, text };
    match with_runs.len() {
        0 => return none("No run has ended yet.".into()),
        1 => {
            let s = with_runs[0];
            return Recommendation {
                configuration: Some(s.row.configuration.clone()),
                clearly_better: false,
                text: format!(
                    "Only one configuration ({}): nothing to compare it with.",
                    s.row.configuration
                ),
            };
        }
        _ => {}
    }
    let rate = |s: &Sample| s.row.failed as f64 / s.row.ended.max(1) as f64;
    let fewest = with_runs.iter().map(|s| rate(s)).fold(f64::INFINITY, f64::min);
    if fewest >= 1.0 {
        return none(format!(
            "Every run of every configuration failed (at or below the majority baseline, or diverged): none of \
             them fine-tunes {} here.",
            with_runs[0].row.task
        ));
    }
    let table = |s: &Sample| [s.row.failed as u64, (s.row.ended - s.row.failed) as u64];
    // "Not worse in failed runs": the smallest failed fraction of the task.
    let candidates: Vec<&&Sample> = with_runs.iter().filter(|s| rate(s) <= fewest).collect();
    let best =
        candidates.iter().max_by(|a, b| a.row.median.unwrap().total_cmp(&b.row.median.unwrap())).unwrap();
    let others: Vec<&&Sample> =
        with_runs.iter().filter(|s| s.row.configuration != best.row.configuration).collect();
    let mw: Vec<f64> = others
        .iter()
        .map(|o| {
            mann_whitney_u(&best.values, &o.values, MannWhitneyMethod::Auto).map(|t| t.p_value).unwrap_or(1.0)
        })
        .collect();
    let fi: Vec<f64> = others
        .iter()
        .map(|o| fisher_exact([table(best), table(o)]).map(|t| t.p_value).unwrap_or(1.0))
        .collect();
    let we: Vec<f64> = others
        .iter()
        .map(|o| welch_t_test(&best.values, &o.values).map(|t| t.p_value).unwrap_or(1.0))
        .collect();
    let (mw, we, fi) = (holm(&mw).unwrap(), holm(&we).unwrap(), holm(&fi).unwrap());
    let mut evidence = Vec::new();
    let mut doubts = Vec::new();
    for (k, o) in others.iter().enumerate() {
        // As the comparisons' sentences: a higher metric when Welch's test or Mann-Whitney's says so.
        let higher =
            best.row.median > o.row.median && best.row.mean > o.row.mean && (mw[k] < ALPHA || we[k] < ALPHA);
        let fewer = rate(best) < rate(o) && fi[k] < ALPHA;
        let vs = &o.row.configuration;
        if higher {
            evidence.push(format!(
                "a higher {} than {vs} (Welch p = {}, Mann-Whitney p = {}, Holm-adjusted)",
                best.row.metric,
                p_text(we[k]),
                p_text(mw[k])
            ));
        }
        if fewer {
            evidence
                .push(format!("fewer failed runs than {vs} (Fisher p = {}, Holm-adjusted)", p_text(fi[k])));
        }
        if !higher && !fewer {
            doubts.push(format!(
                "{vs} (median {}, {} of {} failed; Welch p = {}, Mann-Whitney p = {}, Fisher p = {})",
                num(o.row.median.unwrap()),
                o.row.failed,
                o.row.ended,
                p_text(we[k]),
                p_text(mw[k]),
                p_text(fi[k])
            ));
        }
    }
    let b = &best.row;
    let head = format!(
        "{} has the highest median {} ({}) with {} of {} runs failed",
        b.configuration,
        b.metric,
        num(b.median.unwrap()),
        b.failed,
        b.ended
    );
    if doubts.is_empty() {
        Recommendation {
            configuration: Some(b.configuration.clone()),
            clearly_better: true,
            text: format!("Use {}: {head}, and {}.", b.configuration, evidence.join("; ")),
        }
    } else {
        Recommendation {
            configuration: Some(b.configuration.clone()),
            clearly_better: false,
            text: format!(
                "No configuration is clearly better: {head}, but the tests do not set it apart from {} (Holm-adjusted).",
                doubts.join("; ")
            ),
        }
    }
}

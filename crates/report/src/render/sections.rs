//! The report's Table 1, the paper's numbers beside it, and the verdicts, as blocks that the HTML and
//! Markdown writers render alike: one content, two styles.

use super::Block;
use crate::verdicts::{p_text, Comparison, TaskVerdict, ALPHA};
use crate::Report;

/// Table 1's heading and caption; the table itself is [`crate::table::cells`], which each writer
/// lays out (the HTML one adds its styling).
pub(crate) fn table1_intro(r: &Report) -> Vec<Block> {
    vec![
        Block::Heading("Stability over seeds (Table 1)".into()),
        Block::Paragraph(crate::table::caption(&r.rows)),
    ]
}

/// The paper's Table 1 for the tasks the study has, on the same scale.
pub(crate) fn paper_blocks(r: &Report) -> Vec<Block> {
    if r.paper.is_empty() {
        return Vec::new();
    }
    let rows = r
        .paper
        .iter()
        .map(|p| {
            vec![
                p.task.to_string(),
                p.configuration.to_string(),
                p.metric.to_string(),
                format!("{:.3}", p.std),
                format!("{:.3}", p.mean),
                format!("{:.3}", p.max),
            ]
        })
        .collect();
    vec![
        Block::Paragraph(format!(
            "The paper's numbers for the same tasks ({}). Compare with care: the model, the data sample and the number \
             of seeds above may differ.",
            crate::paper::SOURCE
        )),
        Block::Table(["task", "configuration (paper)", "metric", "std", "mean", "max"].map(String::from).to_vec(), rows),
    ]
}

/// Each comparison as a row: the two configurations and each test's Holm-adjusted p-value with the
/// unadjusted one in brackets, or "undefined".
fn comparison_rows(cs: &[&Comparison]) -> (Vec<String>, Vec<Vec<String>>) {
    let p = |t: &crate::TestResult| match (t.p, t.p_holm) {
        (Some(p), Some(a)) => format!("{} ({})", p_text(a), p_text(p)),
        _ => "undefined".into(),
    };
    let mut head = vec!["configuration".to_string(), "against".to_string()];
    head.extend(crate::TESTS.iter().map(|t| format!("{t} p, adjusted (unadjusted)")));
    let rows = cs
        .iter()
        .map(|c| {
            let mut row = vec![c.configuration.clone(), c.other.clone()];
            row.extend(c.tests().iter().map(|t| p(t)));
            row
        })
        .collect();
    (head, rows)
}

fn families(t: &TaskVerdict) -> String {
    let sizes: Vec<String> = t
        .families
        .iter()
        .map(|(name, n)| format!("{name} {n} comparison{}", if *n == 1 { "" } else { "s" }))
        .collect();
    format!(
        "Holm families in {}: one per test, over the task's pairs where the test is defined: {}.",
        t.task,
        sizes.join(", ")
    )
}

/// The verdicts section: per task the paper's comparison, then the additional ones, the notes on runs
/// left out, and the recommendation.
pub(crate) fn verdict_blocks(r: &Report) -> Vec<Block> {
    let mut out = vec![
        Block::Heading("What the tests support".into()),
        Block::Paragraph(format!(
            "Per task, the paper's comparison comes first: the configuration of smallest std against the one of \
             second-smallest std, Levene's test centred on the mean (Mosbach et al.). Every other pair follows as an \
             additional comparison. Tests: Levene (mean-centred) and Brown-Forsythe (median-centred) on spread, a \
             difference in spread claimed only when both agree; Welch's t-test on means; the Mann-Whitney U test on \
             whether one configuration's runs tend to score higher; Fisher's exact test on failed runs. Each test's \
             p-values are Holm-adjusted within the task over all its pairs (the paper's included), so adding a task \
             never changes another task's p-values; tables show the adjusted p-value with the unadjusted one in \
             brackets. A difference is called statistically significant at Holm-adjusted p < {ALPHA}; anything else \
             is no evidence either way, not evidence of no difference."
        )),
    ];
    for t in &r.tasks {
        out.push(Block::Subheading(format!("{} ({})", t.task, t.metric)));
        if let Some(h) = &t.headline {
            let (head, rows) = comparison_rows(&[h]);
            out.push(Block::Paragraph("The paper's comparison:".into()));
            out.push(Block::Table(head, rows));
            out.push(Block::List(h.sentences.clone()));
        }
        if !t.additional.is_empty() {
            let cs: Vec<&Comparison> = t.additional.iter().collect();
            let (head, rows) = comparison_rows(&cs);
            out.push(Block::Paragraph(format!("Additional comparisons ({}):", t.additional.len())));
            out.push(Block::Table(head, rows));
            out.push(Block::List(t.additional.iter().flat_map(|c| c.sentences.iter().cloned()).collect()));
        }
        if t.headline.is_some() || !t.additional.is_empty() {
            out.push(Block::Paragraph(families(t)));
        }
        for n in &t.notes {
            out.push(Block::Paragraph(n.clone()));
        }
        out.push(Block::Recommendation(t.recommendation.text.clone(), t.recommendation.clearly_better));
    }
    out
}

/// The failure sentinel's section: every run it flagged, with the evidence, its outcome, and what the
/// study did with it (`flag`: trained on; `stop`: ended as failed; `restart`: replaced).
pub(crate) fn sentinel_blocks(r: &Report) -> Vec<Block> {
    let flagged: Vec<&crate::RunData> = r.runs.iter().filter(|run| run.sentinel_flag.is_some()).collect();
    if flagged.is_empty() {
        return Vec::new();
    }
    let stopped = flagged.iter().filter(|run| run.status == "stopped_by_sentinel").count();
    let saved: u64 = flagged
        .iter()
        .filter(|run| run.status == "stopped_by_sentinel")
        .filter_map(|run| Some(run.total_steps?.saturating_sub(run.steps?)))
        .sum();
    let mut intro = format!(
        "The failure sentinel flagged {} run(s) from their own training signals (training loss at the level of a \
         constant prediction while the lower layers' gradients stayed near their first-updates size; the rule and its \
         measured precision and recall are in the README).",
        flagged.len()
    );
    if stopped > 0 {
        intro += &format!(
            " It stopped {stopped} of them, counted as failed, saving {saved} updates; a stopped run has no final \
             outcome of its own, so a flag on it cannot be checked against one."
        );
    }
    let lines = flagged
        .iter()
        .map(|run| {
            let (_, _, words) = run.sentinel_flag.as_ref().expect("flagged");
            let outcome = match (run.status.as_str(), run.failed) {
                ("stopped_by_sentinel", _) => "stopped by the sentinel (failed)".to_string(),
                (_, Some(true)) => format!("{}, failed at its end", run.status),
                (_, Some(false)) => format!("{}, not failed at its end: a false alarm", run.status),
                (status, None) => status.to_string(),
            };
            let replaced = run.replaced_by.as_ref().map_or(String::new(), |n| format!("; replaced by {n}"));
            format!("{}: {words}; {outcome}{replaced}.", run.name)
        })
        .collect();
    vec![Block::Heading("Failure sentinel".into()), Block::Paragraph(intro), Block::List(lines)]
}

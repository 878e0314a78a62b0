//! `report.md`: the same tables as the HTML, the figures as the SVG files written beside it.

use super::{cell, interval};
use crate::Report;
use std::fmt::Write;

fn md(s: &str) -> String {
    s.replace('|', "\\|")
}

pub(crate) fn render(r: &Report) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Fine-tuning stability report\n");
    let sources: Vec<String> = r.sources.iter().map(|p| p.display().to_string()).collect();
    let _ = writeln!(
        m,
        "{} runs from {}; configurations named by {}.\n",
        r.runs.len(),
        md(&sources.join(", ")),
        if r.group_keys.is_empty() { "nothing (one configuration)".into() } else { r.group_keys.join(", ") }
    );
    let _ = writeln!(m, "## Stability over seeds (Table 1)\n");
    let _ = writeln!(m, "Final dev metric per run; std with ddof 1; brackets: 95% bootstrap intervals.\n");
    let _ = writeln!(
        m,
        "| task | configuration | metric | n | std | mean | median | min | max | failed | baseline |"
    );
    let _ = writeln!(m, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for row in &r.rows {
        let baseline = match (&row.majority_baseline, &row.baseline_metric) {
            (Some(b), Some(mm)) if *mm == row.metric => format!("{b:.4}"),
            (Some(b), Some(mm)) => format!("{b:.4} ({mm})"),
            _ => "-".into(),
        };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} {} | {} {} | {} | {} | {} | {}/{} | {} |",
            md(&row.task),
            md(&row.configuration),
            md(&row.metric),
            row.n,
            cell(row.std),
            interval(row.std_ci),
            cell(row.mean),
            interval(row.mean_ci),
            cell(row.median),
            cell(row.min),
            cell(row.max),
            row.failed,
            row.ended,
            baseline
        );
    }
    let _ = writeln!(m, "\n## Is the difference real?\n");
    let _ = writeln!(
        m,
        "Against the configuration of second-smallest std; p-values Holm-adjusted over each test's column (unadjusted \
         in brackets); real at adjusted p < {}.\n",
        crate::ALPHA
    );
    for t in &r.tasks {
        let _ = writeln!(m, "### {} ({})\n", md(&t.task), md(&t.metric));
        if !t.comparisons.is_empty() {
            let (head, rows) = super::comparison_rows(t);
            m.push_str(&super::Block::Table(head, rows).markdown());
            for c in &t.comparisons {
                for s in &c.sentences {
                    let _ = writeln!(m, "- {s}");
                }
            }
            m.push('\n');
        }
        for n in &t.notes {
            let _ = writeln!(m, "{n}\n");
        }
        let _ = writeln!(m, "**Recommendation.** {}\n", t.recommendation.text);
    }
    if !r.dodge.is_empty() {
        let _ = writeln!(m, "## Init seed against data seed (Dodge et al.)\n");
        let _ = writeln!(m, "| task | configuration | grid | init share | data share | residual share | Spearman early/final |");
        let _ = writeln!(m, "|---|---|---|--:|--:|--:|--:|");
        for d in &r.dodge {
            let e = |e: &Option<crate::Effect>| {
                e.as_ref()
                    .map(|e| format!("{:.1}% (p {})", 100.0 * e.share, crate::verdicts::p_text(e.p)))
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} x {} x {} | {} | {} | {} | {} |",
                md(&d.task),
                md(&d.configuration),
                d.init_seeds,
                d.data_seeds,
                d.replicates,
                e(&d.init),
                e(&d.data),
                d.residual_share.map(|s| format!("{:.1}%", 100.0 * s)).unwrap_or_else(|| "-".into()),
                match (d.spearman, d.spearman_p) {
                    (Some(s), Some(pv)) => format!("{s:.3} (p {})", crate::verdicts::p_text(pv)),
                    _ => "-".into(),
                }
            );
        }
        m.push('\n');
    }
    for line in super::early_stopping_lines(r) {
        m.push_str(&line.markdown());
    }
    let _ = writeln!(m, "## Figures\n");
    for f in &r.figures {
        let _ =
            writeln!(m, "![{}](figures/{}.svg)\n\n*{}.* {}\n", md(&f.title), f.id, md(&f.title), f.caption);
    }
    let _ = writeln!(m, "Every run: `runs.csv`; every number: `report.json`.");
    m
}

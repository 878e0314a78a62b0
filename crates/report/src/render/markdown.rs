//! `report.md`: the same tables as the HTML, the figures as the SVG files written beside it.

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
    for b in super::sections::table1_intro(r) {
        m.push_str(&b.markdown());
    }
    let head: Vec<String> = crate::table::HEADER.iter().map(|s| s.to_string()).collect();
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            crate::table::cells(row)
                .into_iter()
                .map(|c| match c.aside {
                    Some(a) => format!("{} {a}", c.text),
                    None => c.text,
                })
                .collect()
        })
        .collect();
    m.push_str(&super::Block::Table(head, rows).markdown());
    for b in super::sections::paper_blocks(r).iter().chain(&super::sections::verdict_blocks(r)) {
        m.push_str(&b.markdown());
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

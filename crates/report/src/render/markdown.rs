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
    for b in crate::dodge::blocks(&r.dodge) {
        m.push_str(&b.markdown());
    }
    for line in super::early_stopping_lines(r).iter().chain(&super::sections::sentinel_blocks(r)) {
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

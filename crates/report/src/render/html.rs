//! `report.html`: one file, figures inlined as SVG, CSS inline, no script and nothing fetched from the
//! network, so it reads offline and prints.

use super::runs_table;
use crate::Report;
use std::fmt::Write;

const CSS: &str = "
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: #222; max-width: 1000px;
       margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f2f2f2; } td.text, th.text { text-align: left; }
.ci { color: #666; font-size: 0.85em; } .failed { color: #c62828; font-weight: bold; }
.recommend { border-left: 4px solid #2e7d32; background: #f1f8e9; padding: 0.5em 1em; }
.recommend.unclear { border-color: #f9a825; background: #fffde7; }
.meta { color: #555; font-size: 0.9em; } figure { margin: 1.5em 0; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; } figcaption { font-size: 0.9em; color: #444; }
.runs { font-size: 0.75em; } .scroll { overflow-x: auto; } .runs td:first-child { white-space: nowrap; } @media print { body { max-width: none; } h2 { page-break-after: avoid; } }
";

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(crate) fn render(r: &Report) -> String {
    let mut h = String::new();
    let title = "Fine-tuning stability report";
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{CSS}</style></head><body>\n"
    );
    let _ = writeln!(h, "<h1>{title}</h1>");
    let sources: Vec<String> = r.sources.iter().map(|p| escape(&p.display().to_string())).collect();
    let ended = r.runs.iter().filter(|x| x.ended()).count();
    let _ = writeln!(
        h,
        "<p class=\"meta\">{} runs ({} ended) from {}; configurations named by {}. Made by stabletune {}.</p>",
        r.runs.len(),
        ended,
        sources.join(", "),
        if r.group_keys.is_empty() { "nothing (one configuration)".into() } else { escape(&r.group_keys.join(", ")) },
        env!("CARGO_PKG_VERSION")
    );
    table1(&mut h, r);
    verdicts(&mut h, r);
    dodge(&mut h, r);
    for line in super::early_stopping_lines(r).iter().chain(&super::sections::sentinel_blocks(r)) {
        h.push_str(&line.html());
    }
    let _ = writeln!(h, "<h2>Figures</h2>");
    for f in &r.figures {
        let _ = writeln!(
            h,
            "<figure id=\"{}\">\n{}\n<figcaption><b>{}.</b> {}</figcaption></figure>",
            f.id,
            strip_xml_header(&f.svg),
            escape(&f.title),
            escape(&f.caption)
        );
    }
    runs(&mut h, r);
    h.push_str("</body></html>\n");
    h
}

fn strip_xml_header(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn table1(h: &mut String, r: &Report) {
    for b in super::sections::table1_intro(r) {
        h.push_str(&b.html());
    }
    h.push_str("<table><tr>");
    for (i, c) in crate::table::HEADER.iter().enumerate() {
        let _ = write!(h, "<th{}>{}</th>", if i < 3 { " class=\"text\"" } else { "" }, escape(c));
    }
    h.push_str("</tr>\n");
    // The failed column is the one the HTML colours; everything else is the shared table model.
    let failed_column = crate::table::HEADER.iter().position(|c| *c == "failed").expect("a failed column");
    let diverged_column =
        crate::table::HEADER.iter().position(|c| *c == "diverged").expect("a diverged column");
    for row in &r.rows {
        h.push_str("<tr>");
        for (i, c) in crate::table::cells(row).iter().enumerate() {
            let class = if i < 3 {
                " class=\"text\""
            } else if (i == failed_column && row.failed.unwrap_or(0) > 0)
                || (i == diverged_column && row.diverged > 0)
            {
                " class=\"failed\""
            } else {
                ""
            };
            let aside = c
                .aside
                .as_ref()
                .map(|a| format!(" <span class=\"ci\">{}</span>", escape(a)))
                .unwrap_or_default();
            let _ = write!(h, "<td{class}>{}{aside}</td>", escape(&c.text));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    for b in super::sections::paper_blocks(r) {
        h.push_str(&b.html());
    }
}

fn verdicts(h: &mut String, r: &Report) {
    for b in super::sections::verdict_blocks(r) {
        h.push_str(&b.html());
    }
}

fn dodge(h: &mut String, r: &Report) {
    for b in crate::dodge::blocks(&r.dodge) {
        h.push_str(&b.html());
    }
}

fn runs(h: &mut String, r: &Report) {
    let (header, rows) = runs_table(r);
    let _ = writeln!(h, "<h2>Runs</h2>\n<p>Every run read (also in runs.csv).</p>\n<div class=\"scroll\"><table class=\"runs\"><tr>");
    let keep: Vec<usize> = (0..header.len()).filter(|&i| header[i] != "dir").collect();
    for &i in &keep {
        let _ = write!(h, "<th class=\"text\">{}</th>", escape(&header[i]));
    }
    h.push_str("</tr>\n");
    for row in &rows {
        h.push_str("<tr>");
        for &i in &keep {
            let v = &row[i];
            let shown = v
                .parse::<f64>()
                .ok()
                .filter(|_| v.contains('.') && header[i] != "run")
                .map(|x| format!("{x:.4}"));
            let _ = write!(h, "<td class=\"text\">{}</td>", escape(shown.as_deref().unwrap_or(v)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
}

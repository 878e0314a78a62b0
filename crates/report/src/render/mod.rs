//! The report's files: `report.html` (one self-contained file), `report.md` with its figures as SVG
//! files in `figures/`, `runs.csv` (one row per run) and `report.json` (every number shown).

mod html;
mod markdown;

use crate::error::{io, ReportError, Result};
use crate::load::RunData;
use crate::Report;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    Html,
    Markdown,
    Csv,
    Json,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Html, Format::Markdown, Format::Csv, Format::Json];

    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "html" => Some(Format::Html),
            "md" | "markdown" => Some(Format::Markdown),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Writes the report in `formats` into `out` (created if missing); returns the files written. Each
/// file is written to a temporary name and renamed, so a reader never sees half a report.
pub fn write_report(report: &Report, out: &Path, formats: &[Format]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut written = Vec::new();
    let mut put = |name: &str, text: &str| -> Result<()> {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes())?;
        written.push(path);
        Ok(())
    };
    for f in formats {
        match f {
            Format::Html => put("report.html", &html::render(report))?,
            Format::Markdown => {
                let dir = out.join("figures");
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                for fig in &report.figures {
                    put(&format!("figures/{}.svg", fig.id), &fig.svg)?;
                }
                put("report.md", &markdown::render(report))?
            }
            Format::Csv => put("runs.csv", &runs_csv(report))?,
            Format::Json => {
                let text = serde_json::to_string_pretty(&report_json(report))
                    .map_err(|e| ReportError::Input(format!("report.json: {e}")))?;
                put("report.json", &(text + "\n"))?
            }
        }
    }
    Ok(written)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Settings that differ between runs (the seeds have their own columns).
pub(crate) fn varying_settings(runs: &[RunData]) -> Vec<String> {
    let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.settings.keys()).collect();
    keys.into_iter()
        .filter(|k| !matches!(k.as_str(), "init_seed" | "data_seed" | "seed"))
        .filter(|k| {
            let first = runs[0].settings.get(*k);
            runs.iter().any(|r| r.settings.get(*k) != first)
        })
        .cloned()
        .collect()
}

fn metric_names(runs: &[RunData]) -> Vec<String> {
    let names: BTreeSet<&String> =
        runs.iter().flat_map(|r| r.final_metrics.keys().chain(r.best_metrics.keys())).collect();
    names.into_iter().cloned().collect()
}

/// One row per run: its folder, task, configuration, every setting that varies, seeds, status, final
/// and best metrics, failed, steps and wall time. RFC 4180 quoting.
pub(crate) fn runs_table(report: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let runs = &report.runs;
    let varying = varying_settings(runs);
    let metrics = metric_names(runs);
    let mut header: Vec<String> = vec!["run".into(), "task".into(), "configuration".into()];
    header.extend(varying.iter().cloned());
    header.extend(["init_seed", "data_seed", "status", "failed"].map(String::from));
    header.extend(metrics.iter().map(|m| format!("final_{m}")));
    header.extend(metrics.iter().map(|m| format!("best_{m}")));
    header.extend(["best_step", "steps", "total_steps", "wall_seconds", "dir"].map(String::from));
    let configuration: BTreeMap<usize, &str> = report
        .groups
        .iter()
        .flat_map(|g| g.runs.iter().map(move |&i| (i, g.configuration.as_str())))
        .collect();
    let opt = |v: Option<String>| v.unwrap_or_default();
    let rows = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row =
                vec![r.name.clone(), r.task.clone(), configuration.get(&i).unwrap_or(&"").to_string()];
            row.extend(varying.iter().map(|k| r.settings.get(k).cloned().unwrap_or_default()));
            row.push(opt(r.init_seed.map(|s| s.to_string())));
            row.push(opt(r.data_seed.map(|s| s.to_string())));
            row.push(r.status.clone());
            row.push(opt(r.failed.map(|f| f.to_string())));
            row.extend(metrics.iter().map(|m| opt(r.final_metrics.get(m).map(|v| v.to_string()))));
            row.extend(metrics.iter().map(|m| opt(r.best_metrics.get(m).map(|v| v.to_string()))));
            row.push(opt(r.best_step.map(|s| s.to_string())));
            row.push(opt(r.steps.map(|s| s.to_string())));
            row.push(opt(r.total_steps.map(|s| s.to_string())));
            row.push(opt(r.wall_seconds.map(|s| format!("{s:.3}"))));
            row.push(r.dir.display().to_string());
            row
        })
        .collect();
    (header, rows)
}

fn runs_csv(report: &Report) -> String {
    let (header, rows) = runs_table(report);
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for line in std::iter::once(&header).chain(rows.iter()) {
        out.push_str(&line.iter().map(|s| quote(s)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

fn report_json(report: &Report) -> Value {
    let (header, rows) = runs_table(report);
    let runs: Vec<Value> = rows
        .iter()
        .map(|row| Value::Object(header.iter().cloned().zip(row.iter().map(|v| json!(v))).collect()))
        .collect();
    json!({
        "generator": format!("stabletune-report {}", env!("CARGO_PKG_VERSION")),
        "sources": report.sources.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "group_by": report.group_keys,
        "alpha": crate::ALPHA,
        "bootstrap": {"resamples": crate::BOOTSTRAP_RESAMPLES, "seed": crate::BOOTSTRAP_SEED, "confidence": 0.95},
        "table": report.rows,
        "tasks": report.tasks,
        "dodge": report.dodge,
        "figures": report.figures.iter().map(|f| json!({"id": f.id, "file": format!("figures/{}.svg", f.id), "title": f.title, "caption": f.caption})).collect::<Vec<_>>(),
        "runs": runs,
    })
}

/// A value for a table cell: 4 decimals, or a dash.
pub(crate) fn cell(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

pub(crate) fn interval(ci: Option<[f64; 2]>) -> String {
    ci.map(|[a, b]| format!("[{a:.4}, {b:.4}]")).unwrap_or_default()
}

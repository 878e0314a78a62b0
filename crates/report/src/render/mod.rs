//! The report's files: `report.html` (one self-contained file), `report.md` with its figures as SVG
//! files in `figures/`, `runs.csv` (one row per run) and `report.json` (every number shown).

mod html;
mod markdown;
mod sections;

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

/// Writes `bytes` beside `path` and renames the file over it: a reader sees the old file or the new one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
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
    runs_table_of(&report.runs, &report.groups)
}

fn runs_table_of(runs: &[RunData], groups: &[crate::Group]) -> (Vec<String>, Vec<Vec<String>>) {
    let varying = varying_settings(runs);
    let metrics = metric_names(runs);
    let mut header: Vec<String> = vec!["run".into(), "task".into(), "configuration".into()];
    header.extend(varying.iter().cloned());
    header.extend(["init_seed", "data_seed", "status", "failed"].map(String::from));
    header.extend(metrics.iter().map(|m| format!("final_{m}")));
    header.extend(metrics.iter().map(|m| format!("best_{m}")));
    header.extend(["best_step", "steps", "total_steps", "wall_seconds", "dir"].map(String::from));
    let configuration: BTreeMap<usize, &str> =
        groups.iter().flat_map(|g| g.runs.iter().map(move |&i| (i, g.configuration.as_str()))).collect();
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
    csv_text(&header, &rows)
}

/// `runs.csv` of runs already read, with configurations named as the report names them, without the
/// report's statistics and figures (`stabletune export runs`, and the Python module's `read_runs`).
pub fn runs_csv_of(runs: &[RunData], group_by: Option<&[String]>) -> Result<String> {
    if runs.is_empty() {
        return Err(crate::ReportError::Input("no runs to list".into()));
    }
    let keys = crate::group_keys(runs, group_by)?;
    let groups = crate::make_groups(runs, &keys);
    let (header, rows) = runs_table_of(runs, &groups);
    Ok(csv_text(&header, &rows))
}

/// RFC 4180 text: a header line and a line per row, CRLF line ends.
fn csv_text(header: &[String], rows: &[Vec<String>]) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for line in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
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
        "intervals": {
            "confidence": 0.95,
            "below_min_runs": "t-interval of the mean; no interval of the std",
            "min_runs_for_bootstrap": crate::MIN_BOOTSTRAP_RUNS,
            "bootstrap": {"method": "BCa", "resamples": crate::BOOTSTRAP_RESAMPLES, "seed": crate::BOOTSTRAP_SEED},
        },
        "table_caption": crate::table_caption(&report.rows),
        "table": report.rows,
        "paper": {"source": crate::paper::SOURCE, "rows": report.paper},
        "min_runs_to_recommend": crate::MIN_RUNS_TO_RECOMMEND,
        "tasks": report.tasks,
        "dodge": report.dodge,
        "early_stopping": {
            "schedules": report.schedules,
            "simulations": report.simulations,
            "simulation_skipped": report.simulation_skipped,
        },
        "figures": report.figures.iter().map(|f| json!({"id": f.id, "file": format!("figures/{}.svg", f.id), "title": f.title, "caption": f.caption})).collect::<Vec<_>>(),
        "runs": runs,
    })
}

/// A piece of the report's text sections, rendered to HTML or Markdown alike.
pub(crate) enum Block {
    Heading(String),
    Subheading(String),
    Paragraph(String),
    Table(Vec<String>, Vec<Vec<String>>),
    List(Vec<String>),
    /// The recommendation, and whether the tests single a configuration out.
    Recommendation(String, bool),
}

impl Block {
    pub(crate) fn html(&self) -> String {
        use html::escape;
        match self {
            Block::Heading(t) => format!("<h2>{}</h2>\n", escape(t)),
            Block::Subheading(t) => format!("<h3>{}</h3>\n", escape(t)),
            Block::Paragraph(t) => format!("<p>{}</p>\n", escape(t)),
            Block::List(items) => {
                let mut out = String::from("<ul>\n");
                for i in items {
                    out += &format!("<li>{}</li>\n", escape(i));
                }
                out + "</ul>\n"
            }
            Block::Recommendation(t, clear) => format!(
                "<p class=\"recommend{}\"><b>Recommendation.</b> {}</p>\n",
                if *clear { "" } else { " unclear" },
                escape(t)
            ),
            Block::Table(head, rows) => {
                let mut out = String::from("<table><tr>");
                for c in head {
                    out += &format!("<th class=\"text\">{}</th>", escape(c));
                }
                out += "</tr>\n";
                for row in rows {
                    out += "<tr>";
                    for c in row {
                        out += &format!("<td class=\"text\">{}</td>", escape(c));
                    }
                    out += "</tr>\n";
                }
                out + "</table>\n"
            }
        }
    }

    pub(crate) fn markdown(&self) -> String {
        let cell = |s: &String| s.replace('|', "\\|");
        match self {
            Block::Heading(t) => format!("## {t}\n\n"),
            Block::Subheading(t) => format!("### {t}\n\n"),
            Block::Paragraph(t) => format!("{t}\n\n"),
            Block::List(items) => items.iter().map(|i| format!("- {i}\n")).collect::<String>() + "\n",
            Block::Recommendation(t, _) => format!("**Recommendation.** {t}\n\n"),
            Block::Table(head, rows) => {
                let mut out = format!(
                    "| {} |\n|{}\n",
                    head.iter().map(cell).collect::<Vec<_>>().join(" | "),
                    "---|".repeat(head.len())
                );
                for row in rows {
                    out += &format!("| {} |\n", row.iter().map(cell).collect::<Vec<_>>().join(" | "));
                }
                out + "\n"
            }
        }
    }
}

/// The live early stopping's outcome and the offline simulation, as blocks.
pub(crate) fn early_stopping_lines(r: &Report) -> Vec<Block> {
    let mut out = Vec::new();
    if !r.schedules.is_empty() {
        out.push(Block::Heading("Early stopping (Dodge et al.), as the study ran it".into()));
        out.push(Block::Paragraph(
            "Each group started its runs, evaluated them often, and at the decision point kept the runs with the \
             highest best-so-far dev metric; the others stopped there (stopped_by_schedule), and runs that fell to \
             the majority baseline or diverged before it stopped at once (failed). Compute is counted in updates and \
             in training time, against training every started run to the end."
                .into(),
        ));
        let head = [
            "task",
            "configuration",
            "decided at",
            "kept / started",
            "stopped",
            "failed before",
            "updates used",
            "time used",
            "best run found",
        ];
        let rows = r
            .schedules
            .iter()
            .map(|s| {
                vec![
                    s.task.clone(),
                    s.configuration.clone(),
                    format!("step {} of {} ({:.0}%)", s.decision_step, s.total_steps, 100.0 * s.at),
                    format!("{} / {}", s.keep, s.start),
                    s.stopped.to_string(),
                    s.failed_before.len().to_string(),
                    format!(
                        "{} of {} ({:.0}%)",
                        s.updates_used,
                        s.updates_all,
                        100.0 * s.updates_used as f64 / s.updates_all.max(1) as f64
                    ),
                    match s.seconds_all {
                        Some(all) => format!(
                            "{:.0} s of {:.0} s ({:.0}%)",
                            s.seconds_used,
                            all,
                            100.0 * s.seconds_used / all.max(1e-9)
                        ),
                        None => "-".into(),
                    },
                    s.best
                        .as_ref()
                        .map(|(run, v)| format!("{run}: {} {v:.4}", s.metric))
                        .unwrap_or_else(|| "not ended yet".into()),
                ]
            })
            .collect();
        out.push(Block::Table(head.iter().map(|s| s.to_string()).collect(), rows));
        for s in &r.schedules {
            let rows = s
                .kept
                .iter()
                .map(|k| {
                    vec![
                        k.run.clone(),
                        k.rank_at_decision.to_string(),
                        format!("{:.4}", k.best_so_far),
                        k.final_value.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into()),
                        k.final_rank.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            out.push(Block::Paragraph(format!(
                "{}, {}: the kept runs, ranked at the decision point and at the end{}.",
                s.task,
                s.configuration,
                if s.failed_before.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; failed before it: {}",
                        s.failed_before
                            .iter()
                            .map(|(run, step, why)| format!("{run} ({why}, step {step})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )));
            let head = [
                "run",
                "rank at decision",
                &format!("best {} so far", s.metric),
                &format!("final {}", s.metric),
                "final rank",
            ];
            out.push(Block::Table(head.iter().map(|s| s.to_string()).collect(), rows));
        }
    }
    if !r.simulations.is_empty() || !r.simulation_skipped.is_empty() {
        out.push(Block::Heading("Early stopping, simulated (Dodge et al.)".into()));
        out.push(Block::Paragraph(
            "What early stopping would have found in this study: for a budget of B full training runs, the expected \
             best dev metric of B runs trained fully, against the best plan that starts s runs, stops the worst of \
             them after t evaluations (ranked by their best so far) and trains the rest fully, within exactly the same \
             number of evaluations. Runs are drawn with replacement from the group's ended runs (a run that ended early, \
             diverged or stopped by its own patience, keeps its best so far for its later evaluations); each curve \
             starts at the run's step-0 evaluation (their batch 0), and a run's value is its best evaluation \
             (Dodge et al.'s procedure). Runs left out are named below."
                .into(),
        ));
        for sim in &r.simulations {
            let rows = sim
                .budgets
                .iter()
                .map(|b| {
                    let p = b.best_plan;
                    vec![
                        b.budget.to_string(),
                        format!("{:.4}", b.train_fully),
                        format!("{:.4}", b.best),
                        if p.stopped == 0 {
                            format!("train {} run{} fully", p.started, if p.started == 1 { "" } else { "s" })
                        } else {
                            format!(
                                "start {}, stop {} after {} of {} evaluations ({:.0}%), train {} fully",
                                p.started,
                                p.stopped,
                                p.evals_before_stop,
                                sim.evals,
                                100.0 * p.evals_before_stop as f64 / sim.evals as f64,
                                p.started - p.stopped
                            )
                        },
                        b.plans.to_string(),
                    ]
                })
                .collect();
            out.push(Block::Paragraph(format!(
                "{}, {} ({} runs, {} evaluations each, {}):",
                sim.task,
                sim.configuration,
                sim.runs,
                sim.evals,
                if sim.exact { "exact".to_string() } else { format!("{} draws per plan", sim.samples) }
            )));
            let head =
                ["budget (runs)", "train fully", "best plan", "the best plan", "plans within the budget"];
            out.push(Block::Table(head.iter().map(|s| s.to_string()).collect(), rows));
        }
        for s in &r.simulation_skipped {
            out.push(Block::Paragraph(format!("Not simulated: {s}.")));
        }
    }
    out
}

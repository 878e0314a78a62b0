//! Box plots laid out by the settings a study varies, for the paper's two ablations: Fig. 5/9 (learning
//! rate x epochs x bias correction: a panel per learning rate, a position per number of epochs, a box
//! per bias correction) and Fig. 3 (a small sample trained for its own epochs against as many updates as
//! the full set: a position per configuration, a box per number of updates). Which one a task gets
//! follows from the settings that name its configurations, so a study of any shape that varies them is
//! drawn, not only the presets.

use super::distributions::{category_label, draw_box, draw_runs};
use super::{colour, fig_err, padded_range, register_font, tick, Figure, FAILURE, FONT, GREY, WIDTH};
use crate::error::Result;
use crate::groups::{label, Group};
use crate::load::RunData;
use crate::table::{final_values, Row};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::cmp::Ordering;

/// Which ablation a task's configuration keys describe, and how its boxes are laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub kind: Ablation,
    /// The setting with a panel per value (Fig. 9: the learning rate).
    pub panel: Option<String>,
    /// The settings whose values name a position along a panel's x axis.
    pub along: Vec<String>,
    /// The settings with a box (and a colour) per value at each position.
    pub hue: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ablation {
    /// Fig. 5 and 9: learning rate x epochs x bias correction.
    LrEpochsBiasCorrection,
    /// Fig. 3: a sample's own epochs against a number of updates (`max_steps`), maybe also the full set.
    Downsampling,
}

/// The layout for configurations named by `keys`, when they are one of the paper's ablations: Fig. 3
/// when `max_steps` varies; Fig. 9 when bias correction varies with the learning rate or the epochs.
pub fn layout(keys: &[String]) -> Option<Layout> {
    let has = |k: &str| keys.iter().any(|x| x == k);
    let others =
        |out: &[&str]| keys.iter().filter(|k| !out.contains(&k.as_str())).cloned().collect::<Vec<_>>();
    if has("max_steps") {
        let hue: Vec<String> =
            ["train_limit", "max_steps"].iter().filter(|k| has(k)).map(|k| k.to_string()).collect();
        return Some(Layout {
            kind: Ablation::Downsampling,
            panel: None,
            along: others(&["train_limit", "max_steps"]),
            hue,
        });
    }
    if has("bias_correction") && (has("lr") || has("epochs")) {
        let mut along: Vec<String> = has("epochs").then(|| "epochs".to_string()).into_iter().collect();
        along.extend(others(&["lr", "epochs", "bias_correction"]));
        return Some(Layout {
            kind: Ablation::LrEpochsBiasCorrection,
            panel: has("lr").then(|| "lr".to_string()),
            along,
            hue: vec!["bias_correction".into()],
        });
    }
    None
}

fn setting<'a>(runs: &'a [RunData], g: &Group, key: &str) -> &'a str {
    g.runs.first().and_then(|&i| runs[i].settings.get(key)).map(String::as_str).unwrap_or("-")
}

/// Numbers in numeric order (1e-5 before 2e-5 before 1e-4), anything else after them as text.
fn by_value(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        _ => a.cmp(b),
    }
}

/// The distinct values, in value order (tuples compared element by element).
fn distinct<'a>(values: impl Iterator<Item = &'a Vec<String>>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for v in values {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out.sort_by(|a, b| {
        a.iter().zip(b).map(|(x, y)| by_value(x, y)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    });
    out
}

/// A box's legend entry: what its runs were trained with, in the figure's own words (`updates`: the
/// runs' number of updates, `epochs`: their epochs setting).
fn hue_label(keys: &[String], values: &[String], updates: &str, epochs: &str) -> String {
    let in_updates = if updates.is_empty() { String::new() } else { format!(" ({updates} updates)") };
    let parts: Vec<String> = keys
        .iter()
        .zip(values)
        .map(|(k, v)| match (k.as_str(), v.as_str()) {
            ("bias_correction", "true") => "bias correction".to_string(),
            ("bias_correction", _) => "no bias correction".to_string(),
            ("max_steps", "0") => format!("{epochs} epochs{in_updates}"),
            ("max_steps", n) => format!("{n} updates"),
            ("train_limit", "0") => "the full training set".to_string(),
            ("train_limit", n) => format!("{n} examples"),
            (k, v) => format!("{k}={v}"),
        })
        .collect();
    parts.join(", ")
}

/// Where a group's box goes: its values of the layout's panel, position and hue settings.
#[derive(Clone, PartialEq)]
struct Cell {
    panel: Vec<String>,
    position: Vec<String>,
    hue: Vec<String>,
}

/// Fig. 9 or Fig. 3 for one task, when its configurations are one of those ablations (`rows`: the task's
/// Table 1 rows, for the baseline in the figure's metric).
pub fn ablation_boxes(
    task: &str,
    groups: &[&Group],
    rows: &[&Row],
    runs: &[RunData],
    keys: &[String],
) -> Result<Option<Figure>> {
    let Some(lay) = layout(keys) else { return Ok(None) };
    register_font();
    let (fig, what) = match lay.kind {
        Ablation::LrEpochsBiasCorrection => ("fig9", "Fig. 5/9"),
        Ablation::Downsampling => ("fig3", "Fig. 3"),
    };
    let id = format!("{fig}-ablation-{task}");
    let metric = groups.first().map(|g| g.metric.clone()).unwrap_or_default();
    let values = |g: &Group, ks: &[String]| ks.iter().map(|k| setting(runs, g, k).to_string()).collect();
    let cells: Vec<Cell> = groups
        .iter()
        .map(|g| Cell {
            panel: values(g, lay.panel.as_slice()),
            position: values(g, &lay.along),
            hue: values(g, &lay.hue),
        })
        .collect();
    let panels = distinct(cells.iter().map(|c| &c.panel));
    let positions = distinct(cells.iter().map(|c| &c.position));
    let hues = distinct(cells.iter().map(|c| &c.hue));
    let points: Vec<Vec<(usize, f64)>> = groups.iter().map(|g| final_values(g, runs)).collect();
    let baseline = rows.iter().find_map(|r| r.baseline_in_metric);
    let (y0, y1) = padded_range(points.iter().flatten().map(|p| p.1).chain(baseline));
    // A hue's epochs and updates as its runs recorded them ("3", or "3/20" when its groups differ; the
    // updates as a range when its runs do).
    let hue_names: Vec<String> = hues
        .iter()
        .map(|h| {
            let members: Vec<&Group> =
                groups.iter().zip(&cells).filter(|(_, c)| c.hue == *h).map(|(g, _)| *g).collect();
            let mut epochs: Vec<&str> = members.iter().map(|g| setting(runs, g, "epochs")).collect();
            epochs.sort_by(|a, b| by_value(a, b));
            epochs.dedup();
            let steps: Vec<u64> =
                members.iter().flat_map(|g| g.runs.iter().filter_map(|&i| runs[i].total_steps)).collect();
            let updates = match (steps.iter().min(), steps.iter().max()) {
                (Some(lo), Some(hi)) if lo == hi => format!("{lo}"),
                (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                _ => String::new(),
            };
            hue_label(&lay.hue, h, &updates, &epochs.join("/"))
        })
        .collect();
    let position_names: Vec<String> = positions
        .iter()
        .map(|p| {
            if lay.along.is_empty() {
                return "all runs".to_string();
            }
            let g = groups.iter().zip(&cells).find(|(_, c)| c.position == *p).map(|(g, _)| *g);
            g.and_then(|g| g.runs.first()).map(|&i| label(&runs[i], &lay.along)).unwrap_or_default()
        })
        .collect();
    let legend_rows = hues.len() as u32;
    let height = 440 + 20 * legend_rows;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(&id))?;
        let (top, body) = root.split_vertically(40 + 20 * legend_rows);
        top.draw(&Text::new(
            format!("{task}: final dev {metric}{}", subject(lay.kind)),
            (14, 10),
            (FONT, 20).into_font().color(&BLACK),
        ))
        .map_err(fig_err(&id))?;
        for (h, name) in hue_names.iter().enumerate() {
            let y = 44 + 20 * h as i32 - 8;
            top.draw(&Rectangle::new([(20, y - 6), (34, y + 6)], colour(h).mix(0.3).filled()))
                .map_err(fig_err(&id))?;
            top.draw(&Rectangle::new([(20, y - 6), (34, y + 6)], colour(h).stroke_width(2)))
                .map_err(fig_err(&id))?;
            top.draw(&Text::new(
                name.clone(),
                (42, y),
                (FONT, 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(fig_err(&id))?;
        }
        let x = WIDTH as i32 - 170;
        top.draw(&Cross::new((x, 36), 6, FAILURE.stroke_width(2))).map_err(fig_err(&id))?;
        top.draw(&Text::new(
            "failed run",
            (x + 14, 36),
            (FONT, 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(fig_err(&id))?;
        if baseline.is_some() {
            for k in 0..2 {
                let x0 = x - 6 + k * 10;
                top.draw(&PathElement::new(vec![(x0, 56), (x0 + 6, 56)], GREY.stroke_width(2)))
                    .map_err(fig_err(&id))?;
            }
            top.draw(&Text::new(
                "majority baseline",
                (x + 14, 56),
                (FONT, 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(fig_err(&id))?;
        }
        let areas = body.split_evenly((1, panels.len().max(1)));
        let k = positions.len().max(1);
        let w = 0.36 / hues.len().max(1) as f64;
        for (area, panel) in areas.iter().zip(&panels) {
            let caption = match &lay.panel {
                Some(key) => format!("{key} = {}", panel[0]),
                None => String::new(),
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (FONT, 16))
                .margin(8)
                .x_label_area_size(40)
                .y_label_area_size(if panels.len() > 1 { 52 } else { 64 })
                .build_cartesian_2d(-0.5..(k as f64 - 0.5), y0..y1)
                .map_err(fig_err(&id))?;
            let xfmt = |x: &f64| category_label(*x, &position_names);
            let yfmt = |y: &f64| tick(*y, y1 - y0);
            chart
                .configure_mesh()
                .max_light_lines(1)
                .disable_x_mesh()
                .x_labels(k * 2 + 1)
                .x_label_formatter(&xfmt)
                .y_label_formatter(&yfmt)
                .y_desc(format!("final dev {metric}"))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()
                .map_err(fig_err(&id))?;
            if let Some(b) = baseline {
                let line = vec![(-0.5, b), (k as f64 - 0.5, b)];
                chart
                    .draw_series(DashedLineSeries::new(line, 8, 5, GREY.stroke_width(2)))
                    .map_err(fig_err(&id))?;
            }
            for (gi, cell) in cells.iter().enumerate().filter(|(_, c)| c.panel == *panel) {
                let p = positions.iter().position(|p| *p == cell.position).unwrap_or(0);
                let h = hues.iter().position(|h| *h == cell.hue).unwrap_or(0);
                let x = p as f64 + (h as f64 - (hues.len() as f64 - 1.0) / 2.0) * 2.2 * w;
                let values: Vec<f64> = points[gi].iter().map(|p| p.1).collect();
                draw_box(&mut chart, x, w, &values, colour(h), &id)?;
                draw_runs(&mut chart, x, w, &points[gi], runs, &id)?;
            }
        }
        root.present().map_err(fig_err(&id))?;
    }
    Ok(Some(Figure {
        id,
        title: format!("Final dev {metric} on {task}{} ({what})", subject(lay.kind)),
        caption: caption(&lay, groups, runs, &points),
        svg,
    }))
}

/// What the figure shows, after "final dev <metric>" in its heading and its title.
fn subject(kind: Ablation) -> &'static str {
    match kind {
        Ablation::LrEpochsBiasCorrection => " by learning rate, epochs and bias correction",
        Ablation::Downsampling => ", fewer examples against as many updates",
    }
}

/// What the figure shows, how many runs it has and which are not drawn, and what the paper found.
fn caption(lay: &Layout, groups: &[&Group], runs: &[RunData], points: &[Vec<(usize, f64)>]) -> String {
    let n: usize = points.iter().map(Vec::len).sum();
    let members: Vec<&RunData> = groups.iter().flat_map(|g| g.runs.iter().map(|&i| &runs[i])).collect();
    let failed = points.iter().flatten().filter(|(i, _)| runs[*i].failed == Some(true)).count();
    let ended = members.iter().filter(|r| r.ended()).count();
    let mut out = format!(
        "One box per configuration (quartiles, the median as a thick line, whiskers to the furthest run within 1.5 \
         IQR) and every run as a point: {n} runs with a final value, {failed} of them failed (red crosses)."
    );
    if ended > n {
        out += &format!(
            " {} ended run(s) have no final value (diverged, or stopped early) and are not drawn; Table 1 counts them.",
            ended - n
        );
    }
    if members.len() > ended {
        out += &format!(" {} run(s) have not ended and are not drawn.", members.len() - ended);
    }
    let few = groups.iter().zip(points).filter(|(_, p)| p.len() < 10).count();
    if few > 0 {
        out += &format!(
            " {few} of the {} boxes have fewer than 10 runs: small samples, read their spread with care.",
            groups.len()
        );
    }
    out += match lay.kind {
        Ablation::LrEpochsBiasCorrection => {
            " The paper's Fig. 9 (BERT-large on RTE, 25 runs a box) found that without bias correction 3 epochs clearly hurt, \
             that bias correction made larger learning rates possible, and that bias correction with more epochs did best. \
             The figure shows runs; the tests in the verdicts below say which differences they support."
        }
        Ablation::Downsampling => {
            " The paper's Fig. 3 (BERT on 1,000 examples of CoLA, MRPC and QNLI, 25 runs a box) found many more failed runs \
             after 3 epochs of the sample, and almost the full set's spread recovered when the sample was trained for as many \
             updates as the full set: the number of updates, not the amount of data, mattered. The figure shows runs; the \
             tests in the verdicts below say which differences they support."
        }
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn layouts_follow_the_varied_settings() {
        let fig9 = layout(&keys(&["bias_correction", "epochs", "lr"])).unwrap();
        assert_eq!(fig9.kind, Ablation::LrEpochsBiasCorrection);
        assert_eq!(
            (fig9.panel.as_deref(), fig9.along.clone(), fig9.hue.clone()),
            (Some("lr"), keys(&["epochs"]), keys(&["bias_correction"]))
        );
        let fig3 = layout(&keys(&["recipe", "max_steps"])).unwrap();
        assert_eq!(
            (fig3.kind, fig3.panel, fig3.along, fig3.hue),
            (Ablation::Downsampling, None, keys(&["recipe"]), keys(&["max_steps"]))
        );
        let with_full = layout(&keys(&["max_steps", "train_limit"])).unwrap();
        assert_eq!(with_full.hue, keys(&["train_limit", "max_steps"]));
        assert_eq!(layout(&keys(&["recipe"])), None);
        assert_eq!(layout(&keys(&["bias_correction"])), None, "bias correction alone is Fig. 1's comparison");
    }

    #[test]
    fn values_sort_as_numbers() {
        let mut v = vec!["1e-4", "2e-5", "1e-5", "x"];
        v.sort_by(|a, b| by_value(a, b));
        assert_eq!(v, ["1e-5", "2e-5", "1e-4", "x"]);
    }
}

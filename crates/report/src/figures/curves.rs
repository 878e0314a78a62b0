//! Figures over training time: loss and dev metric curves of failed and successful runs (Fig. 14 /
//! Fig. 8), per-layer gradient norms of a failed and a successful run (Fig. 4), and the Adam
//! bias-correction factor of the recipes (Fig. 6).

use super::{
    depth_colour, fig_err, padded_range, register_font, tick, Figure, FAILURE, FONT, GREY, SUCCESS, WIDTH,
};
use crate::error::Result;
use crate::groups::Group;
use crate::load::RunData;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

/// Mean and std (ddof 0) over runs at each step where at least two runs have a value.
fn band(series: &[Vec<(u64, f64)>]) -> Vec<(f64, f64, f64)> {
    let mut at: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for s in series {
        for &(step, v) in s {
            at.entry(step).or_default().push(v);
        }
    }
    at.into_iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(step, v)| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let sd = (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt();
            (step as f64, m, sd)
        })
        .collect()
}

struct Panel<'a> {
    title: String,
    y_desc: String,
    /// (series per run, failed?)
    runs: Vec<(Vec<(u64, f64)>, bool)>,
    /// Runs an early-stopping schedule stopped (thin grey lines, no band).
    stopped: Vec<Vec<(u64, f64)>>,
    x_max: f64,
    _life: std::marker::PhantomData<&'a ()>,
}

fn draw_panel(area: &DrawingArea<SVGBackend, Shift>, p: &Panel, id: &str, legend: bool) -> Result<()> {
    let (y0, y1) = padded_range(p.runs.iter().flat_map(|(s, _)| s.iter().map(|v| v.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, 17))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..p.x_max.max(1.0), y0..y1)
        .map_err(fig_err(id))?;
    let yfmt = |y: &f64| tick(*y, y1 - y0);
    let xfmt = |x: &f64| format!("{x:.0}");
    chart
        .configure_mesh()
        .max_light_lines(1)
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .x_desc("update (step)")
        .y_desc(p.y_desc.as_str())
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(fig_err(id))?;
    for (k, s) in p.stopped.iter().enumerate() {
        let series = chart
            .draw_series(LineSeries::new(
                s.iter().map(|&(x, y)| (x as f64, y)),
                GREY.mix(0.5).stroke_width(1),
            ))
            .map_err(fig_err(id))?;
        if legend && k == 0 {
            series
                .label(format!("stopped by the schedule ({})", p.stopped.len()))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREY.stroke_width(1)));
        }
    }
    for (failed, c) in [(false, SUCCESS), (true, FAILURE)] {
        let class: Vec<Vec<(u64, f64)>> =
            p.runs.iter().filter(|r| r.1 == failed).map(|r| r.0.clone()).collect();
        for s in &class {
            chart
                .draw_series(LineSeries::new(
                    s.iter().map(|&(x, y)| (x as f64, y)),
                    c.mix(0.35).stroke_width(1),
                ))
                .map_err(fig_err(id))?;
        }
        let b = band(&class);
        if b.len() >= 2 {
            let poly: Vec<(f64, f64)> = b
                .iter()
                .map(|&(x, m, s)| (x, m + s))
                .chain(b.iter().rev().map(|&(x, m, s)| (x, m - s)))
                .collect();
            chart.draw_series([Polygon::new(poly, c.mix(0.15).filled())]).map_err(fig_err(id))?;
            let series = chart
                .draw_series(LineSeries::new(b.iter().map(|&(x, m, _)| (x, m)), c.stroke_width(3)))
                .map_err(fig_err(id))?;
            if legend {
                series
                    .label(format!(
                        "{} runs ({}): mean +- std",
                        if failed { "failed" } else { "successful" },
                        class.len()
                    ))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
            }
        } else if legend && !class.is_empty() {
            chart
                .draw_series(LineSeries::new(std::iter::empty::<(f64, f64)>(), c.stroke_width(1)))
                .map_err(fig_err(id))?
                .label(format!("{} run ({})", if failed { "failed" } else { "successful" }, class.len()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(1)));
        }
    }
    if legend {
        super::legend(&mut chart, SeriesLabelPosition::UpperRight, 13, id)?;
    }
    Ok(())
}

/// Fig. 14 / Fig. 8: the training loss and the dev metric of every run of a group against the update,
/// thin lines per run, failed runs red and successful ones blue, with each class's mean +- std band.
pub fn training_curves(group: &Group, runs: &[RunData]) -> Result<Option<Figure>> {
    register_font();
    let id = format!("fig14-curves-{}-{}", group.task, slug(&group.configuration));
    let all: Vec<&RunData> = group.runs.iter().map(|&i| &runs[i]).filter(|r| !r.train.is_empty()).collect();
    if all.is_empty() {
        return Ok(None);
    }
    // Only runs with a known outcome are drawn as failed or successful; a run stopped by a schedule,
    // or not ended yet, is neither, and is drawn grey.
    let stopped_run = |r: &&RunData| !r.judged();
    let (stopped, members): (Vec<&RunData>, Vec<&RunData>) = all.iter().copied().partition(stopped_run);
    let losses = |r: &RunData| -> Vec<(u64, f64)> {
        r.train.iter().filter(|s| s.loss.is_finite()).map(|s| (s.step, s.loss)).collect()
    };
    let dev_of = |r: &RunData| -> Vec<(u64, f64)> {
        r.evals.iter().filter_map(|e| e.metrics.get(&group.metric).map(|&v| (e.step, v))).collect()
    };
    let x_max = all.iter().flat_map(|r| r.train.last().map(|s| s.step as f64)).fold(1.0, f64::max);
    let loss = Panel {
        title: "training loss".into(),
        y_desc: "cross-entropy loss (one batch)".into(),
        runs: members.iter().map(|r| (losses(r), r.failed == Some(true))).collect(),
        stopped: stopped.iter().map(|r| losses(r)).collect(),
        x_max,
        _life: Default::default(),
    };
    let dev = Panel {
        title: format!("dev {}", group.metric),
        y_desc: format!("dev {}", group.metric),
        runs: members.iter().map(|r| (dev_of(r), r.failed == Some(true))).collect(),
        stopped: stopped.iter().map(|r| dev_of(r)).collect(),
        x_max,
        _life: Default::default(),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(&id))?;
        let root = root
            .titled(
                &format!("{}, {}: training loss and dev {}", group.task, group.configuration, group.metric),
                (FONT, 20),
            )
            .map_err(fig_err(&id))?;
        let panels = root.split_evenly((1, 2));
        draw_panel(&panels[0], &loss, &id, true)?;
        draw_panel(&panels[1], &dev, &id, false)?;
        root.present().map_err(fig_err(&id))?;
    }
    let failed = members.iter().filter(|r| r.failed == Some(true)).count();
    Ok(Some(Figure {
        id,
        title: format!("Training loss and dev {} over training: {}, {} (Fig. 14)", group.metric, group.task, group.configuration),
        caption: format!(
            "{} runs ({} failed, red; {} successful, blue{}). Thin lines are single runs (the loss of each update's \
             batch, the dev {} at each evaluation); thick lines and bands are the mean +- std (ddof 0) over the runs of each \
             kind at each step.",
            all.len(),
            failed,
            members.len() - failed,
            if stopped.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} without a known outcome (stopped by the early-stopping schedule, or not ended), grey",
                    stopped.len()
                )
            },
            group.metric
        ),
        svg,
    }))
}

/// Fig. 4: per-layer gradient norms (log scale) against the update for a failed run (the one with the
/// lowest final metric) and a successful one (the highest), side by side; without a failed run, the
/// lowest- and highest-scoring runs.
pub fn grad_norm_figures(task: &str, groups: &[&Group], runs: &[RunData]) -> Result<Option<Figure>> {
    register_font();
    let id = format!("fig4-grad-norms-{task}");
    let metric = groups.first().map(|g| g.metric.clone()).unwrap_or_default();
    let candidates: Vec<&RunData> = groups
        .iter()
        .flat_map(|g| g.runs.iter().map(|&i| &runs[i]))
        .filter(|r| r.ended() && r.grad_norms.len() >= 2 && r.final_metrics.contains_key(&metric))
        .collect();
    let score = |r: &RunData| r.final_metrics.get(&metric).copied().unwrap_or(f64::NEG_INFINITY);
    let by_score = |a: &&&RunData, b: &&&RunData| score(a).total_cmp(&score(b));
    let failed = candidates.iter().filter(|r| r.failed == Some(true)).min_by(by_score).copied();
    let success = candidates.iter().filter(|r| r.failed == Some(false)).max_by(by_score).copied();
    let (left, right, kinds) = match (failed, success) {
        (Some(f), Some(s)) => (f, s, ("failed", "successful")),
        _ => match (candidates.iter().min_by(by_score).copied(), candidates.iter().max_by(by_score).copied())
        {
            (Some(l), Some(h)) if l.name != h.name => (l, h, ("lowest-scoring", "highest-scoring")),
            _ => return Ok(None),
        },
    };
    let series = |r: &RunData| -> BTreeMap<usize, Vec<(f64, f64)>> {
        let mut out: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
        for (step, norms) in &r.grad_norms {
            for (layer, v) in crate::load::layer_grad_norms(norms) {
                if v > 0.0 && v.is_finite() {
                    out.entry(layer).or_default().push((*step as f64, v));
                }
            }
        }
        out
    };
    let (ls, rs) = (series(left), series(right));
    if ls.is_empty() || rs.is_empty() {
        return Ok(None);
    }
    let all = ls.values().chain(rs.values()).flatten();
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    let mut x_max = 1.0f64;
    for &(x, v) in all {
        lo = lo.min(v);
        hi = hi.max(v);
        x_max = x_max.max(x);
    }
    let (lo, hi) = (lo / 1.5, hi * 1.5);
    let layers = ls.len().max(rs.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(&id))?;
        let root =
            root.titled(&format!("{task}: gradient norm of each layer"), (FONT, 20)).map_err(fig_err(&id))?;
        let panels = root.split_evenly((1, 2));
        for (k, (run, by_layer, kind)) in
            [(left, &ls, kinds.0), (right, &rs, kinds.1)].into_iter().enumerate()
        {
            let title = format!("{kind} run: {} {:.4}", metric, score(run));
            let mut chart = ChartBuilder::on(&panels[k])
                .caption(title, (FONT, 16))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..x_max, (lo..hi).log_scale())
                .map_err(fig_err(&id))?;
            let yfmt = |y: &f64| format!("{y:.0e}");
            let xfmt = |x: &f64| format!("{x:.0}");
            chart
                .configure_mesh()
                .max_light_lines(1)
                .x_label_formatter(&xfmt)
                .y_label_formatter(&yfmt)
                .x_desc("update (step)")
                .y_desc("L2 norm of the layer's gradient")
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()
                .map_err(fig_err(&id))?;
            for (layer, points) in by_layer {
                let c = depth_colour(*layer, layers);
                let s = chart
                    .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                    .map_err(fig_err(&id))?;
                if k == 0 && (*layer == 0 || *layer + 1 == layers || layers <= 6) {
                    s.label(format!("layer {}", layer + 1))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
                }
            }
            if k == 0 {
                super::legend(&mut chart, SeriesLabelPosition::UpperLeft, 12, &id)?;
            }
        }
        root.present().map_err(fig_err(&id))?;
    }
    Ok(Some(Figure {
        id,
        title: format!("Gradient norms per layer on {task} (Fig. 4)"),
        caption: format!(
            "The L2 norm of each encoder layer's weight-matrix gradients (before clipping, from the per-matrix norms the \
             runs logged every few updates), log scale, colour from the first layer (dark) to the last (yellow); left the \
             {} run {} ({} {:.4}), right the {} run {} ({} {:.4}), chosen among {} runs. In the paper's failed runs the \
             gradients of the lower layers vanish early in training.",
            kinds.0,
            left.name,
            metric,
            score(left),
            kinds.1,
            right.name,
            metric,
            score(right),
            candidates.len()
        ),
        svg,
    }))
}

/// Fig. 6: `sqrt(1 - b2^t) / (1 - b1^t)`, the factor bias correction multiplies Adam's step by, for
/// each (beta1, beta2) the study's bias-corrected runs use, against the update (log scale); 1 for
/// runs without correction.
pub fn bias_correction(betas: &[(f64, f64)], longest_run: u64) -> Result<Figure> {
    register_font();
    let id = "fig6-bias-correction".to_string();
    // Far enough for the factor to approach 1 (beta2 0.999 needs thousands of updates), and past the
    // study's longest run, which is marked.
    let t_max = longest_run.max(10_000);
    let factor = |b1: f64, b2: f64, t: f64| (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
    let ts: Vec<f64> = {
        // 200 points evenly spaced in log t, plus every integer step below 20.
        let mut v: Vec<f64> = (1..20.min(t_max)).map(|t| t as f64).collect();
        let (a, b) = ((20f64).ln(), (t_max as f64).ln());
        v.extend(
            (0..=200)
                .map(|k| (a + (b - a) * k as f64 / 200.0).exp())
                .filter(|&t| t >= 20.0 && t <= t_max as f64),
        );
        v
    };
    let hi =
        betas.iter().flat_map(|&(b1, b2)| ts.iter().map(move |&t| factor(b1, b2, t))).fold(1.0, f64::max);
    let lo =
        betas.iter().flat_map(|&(b1, b2)| ts.iter().map(move |&t| factor(b1, b2, t))).fold(1.0, f64::min);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(&id))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Adam's bias-correction factor", (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((1.0..t_max as f64).log_scale(), (lo * 0.9)..(hi * 1.05))
            .map_err(fig_err(&id))?;
        let xfmt = |x: &f64| format!("{x:.0}");
        let yfmt = |y: &f64| format!("{y:.2}");
        chart
            .configure_mesh()
            .max_light_lines(1)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .x_desc("update t (log scale)")
            .y_desc("step-size factor sqrt(1 - b2^t) / (1 - b1^t)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fig_err(&id))?;
        if longest_run >= 1 {
            let x = longest_run as f64;
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x, lo * 0.9), (x, hi * 1.05)],
                    6,
                    4,
                    GREY.stroke_width(1),
                ))
                .map_err(fig_err(&id))?;
            chart
                .draw_series([Text::new(
                    format!("longest run here: {longest_run} updates"),
                    (x, lo * 0.95),
                    (FONT, 12).into_font().color(&GREY).pos(Pos::new(HPos::Left, VPos::Center)),
                )])
                .map_err(fig_err(&id))?;
        }
        chart
            .draw_series(LineSeries::new(vec![(1.0, 1.0), (t_max as f64, 1.0)], FAILURE.stroke_width(2)))
            .map_err(fig_err(&id))?
            .label("no bias correction (devlin2019): 1")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], FAILURE.stroke_width(2)));
        for (i, &(b1, b2)) in betas.iter().enumerate() {
            let c = depth_colour(i, betas.len().max(2));
            chart
                .draw_series(LineSeries::new(ts.iter().map(|&t| (t, factor(b1, b2, t))), c.stroke_width(2)))
                .map_err(fig_err(&id))?
                .label(format!("bias correction, beta1 {b1}, beta2 {b2}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        super::legend(&mut chart, SeriesLabelPosition::UpperRight, 13, &id)?;
        root.present().map_err(fig_err(&id))?;
    }
    let first: Vec<String> =
        betas.iter().map(|&(b1, b2)| format!("{:.3} at t = 1 for beta2 {b2}", factor(b1, b2, 1.0))).collect();
    Ok(Figure {
        id,
        title: "The bias-correction factor against the update (Fig. 6)".into(),
        caption: format!(
            "Bias correction multiplies Adam's step by sqrt(1 - b2^t) / (1 - b1^t): {}; it approaches 1 as t grows. \
             Without correction the first updates are larger in effect, which is the paper's explanation of the failed \
             runs of BERT's original optimizer.",
            first.join(", ")
        ) + &format!(" The dashed line marks this study's longest run ({longest_run} updates)."),
        svg,
    })
}

/// A configuration's name as a file-name part.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() || ch == '.' || ch == '-' {
            out.push(ch);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

//! Figures of the runs' final results: box plots per configuration (Fig. 1), dev metric against final
//! training loss (Fig. 8b) and expected validation performance against the number of runs (Dodge et
//! al. 2019).

use super::{colour, fig_err, padded_range, register_font, tick, Figure, FAILURE, FONT, GREY, HEIGHT, WIDTH};
use crate::error::Result;
use crate::groups::Group;
use crate::load::RunData;
use crate::table::{final_values, Row};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use stabletune_stats::{describe, expected_max_curve, Sampling};

/// Deterministic horizontal jitter for the k-th point of a box: spreads points without randomness.
fn jitter(k: usize) -> f64 {
    const OFFSETS: [f64; 7] = [0.0, -0.12, 0.12, -0.06, 0.06, -0.18, 0.18];
    OFFSETS[k % OFFSETS.len()] + 0.01 * (k / OFFSETS.len()) as f64
}

/// A box of `values` at `x`, `w` wide on each side: quartiles, the median as a thick line, whiskers to
/// the furthest value within 1.5 IQR. Nothing is drawn for no values.
pub(super) fn draw_box<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    x: f64,
    w: f64,
    values: &[f64],
    c: RGBColor,
    id: &str,
) -> Result<()> {
    let Ok(d) = describe(values) else { return Ok(()) };
    let (lo_fence, hi_fence) = (d.q25 - 1.5 * d.iqr, d.q75 + 1.5 * d.iqr);
    let lo = values.iter().copied().filter(|&v| v >= lo_fence).fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().filter(|&v| v <= hi_fence).fold(f64::NEG_INFINITY, f64::max);
    chart
        .draw_series([
            Rectangle::new([(x - w, d.q25), (x + w, d.q75)], c.mix(0.18).filled()),
            Rectangle::new([(x - w, d.q25), (x + w, d.q75)], c.stroke_width(2)),
        ])
        .map_err(fig_err(id))?;
    chart
        .draw_series([
            PathElement::new(vec![(x - w, d.median), (x + w, d.median)], c.stroke_width(3)),
            PathElement::new(vec![(x, d.q75), (x, hi)], c.stroke_width(1)),
            PathElement::new(vec![(x, d.q25), (x, lo)], c.stroke_width(1)),
            PathElement::new(vec![(x - w / 2.0, hi), (x + w / 2.0, hi)], c.stroke_width(1)),
            PathElement::new(vec![(x - w / 2.0, lo), (x + w / 2.0, lo)], c.stroke_width(1)),
        ])
        .map_err(fig_err(id))?;
    Ok(())
}

/// The label of a category axis at `x`: the name of category `x` at whole numbers, nothing between them.
pub(super) fn category_label(x: f64, names: &[String]) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

/// Every run of a box as a point beside it (jittered within the box's width `w`): failed runs as red
/// crosses, the others as dark dots.
pub(super) fn draw_runs<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    x: f64,
    w: f64,
    points: &[(usize, f64)],
    runs: &[RunData],
    id: &str,
) -> Result<()> {
    for (j, &(run, v)) in points.iter().enumerate() {
        let at = (x + jitter(j) * w / 0.28, v);
        if runs[run].failed == Some(true) {
            chart.draw_series([Cross::new(at, 6, FAILURE.stroke_width(2))]).map_err(fig_err(id))?;
        } else {
            chart.draw_series([Circle::new(at, 4, BLACK.mix(0.75).filled())]).map_err(fig_err(id))?;
        }
    }
    Ok(())
}

/// Fig. 1: one box per configuration (quartiles, whiskers to the furthest run within 1.5 IQR), every
/// run as a point, failed runs as red crosses, the majority baseline as a dashed line.
pub fn box_plots(task: &str, groups: &[&Group], rows: &[&Row], runs: &[RunData]) -> Result<Figure> {
    register_font();
    let id = format!("fig1-box-{task}");
    let metric = groups.first().map(|g| g.metric.clone()).unwrap_or_default();
    let per_group: Vec<Vec<(usize, f64)>> = groups.iter().map(|g| final_values(g, runs)).collect();
    // The baseline in the figure's metric: the headline baseline, or the majority class's value in this
    // metric when the runs recorded it (MRPC: failed on acc_and_f1, drawn in F1).
    let baseline = rows.iter().find_map(|r| r.baseline_in_metric);
    let judged_elsewhere = rows.iter().any(|r| r.baseline_metric.as_deref().is_some_and(|m| m != metric));
    let (y0, y1) = padded_range(per_group.iter().flatten().map(|p| p.1).chain(baseline));
    let names: Vec<String> = groups.iter().map(|g| g.configuration.clone()).collect();
    let k = groups.len();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(&id))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{task}: final dev {metric} per configuration"), (FONT, 20))
            .margin(14)
            .margin_right(190)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..(k as f64 - 0.5), y0..y1)
            .map_err(fig_err(&id))?;
        let xfmt = |x: &f64| category_label(*x, &names);
        let yfmt = |y: &f64| tick(*y, y1 - y0);
        chart
            .configure_mesh()
            .max_light_lines(1)
            .disable_x_mesh()
            .x_labels(k.max(1) * 2 + 1)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .x_desc("configuration")
            .y_desc(format!("final dev {metric}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(fig_err(&id))?;
        for (i, points) in per_group.iter().enumerate() {
            let x = i as f64;
            let c = colour(i);
            let values: Vec<f64> = points.iter().map(|p| p.1).collect();
            draw_box(&mut chart, x, 0.28, &values, c, &id)?;
            draw_runs(&mut chart, x, 0.28, points, runs, &id)?;
        }
        if let Some(b) = baseline {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(-0.5, b), (k as f64 - 0.5, b)],
                    8,
                    5,
                    GREY.stroke_width(2),
                ))
                .map_err(fig_err(&id))?;
            // Labelled at its left end, clear of the boxes (which start at -0.28) and their points.
            chart
                .draw_series([Text::new(
                    format!("majority baseline {}", tick(b, 0.01)),
                    (-0.48, b),
                    (FONT, 13).into_font().color(&GREY).pos(Pos::new(HPos::Left, VPos::Bottom)),
                )])
                .map_err(fig_err(&id))?;
        }
        // The legend, in the margin right of the plot, where no data can be.
        let (x, y) = (WIDTH as i32 - 180, 60);
        let text = |s: &str, dy: i32| {
            Text::new(
                s.to_string(),
                (x + 22, y + dy),
                (FONT, 13).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
            )
        };
        root.draw(&Circle::new((x + 8, y), 4, BLACK.mix(0.75).filled())).map_err(fig_err(&id))?;
        root.draw(&text("run", 0)).map_err(fig_err(&id))?;
        root.draw(&Cross::new((x + 8, y + 22), 6, FAILURE.stroke_width(2))).map_err(fig_err(&id))?;
        root.draw(&text("failed run", 22)).map_err(fig_err(&id))?;
        root.draw(&Rectangle::new([(x, y + 36), (x + 16, y + 52)], colour(0).stroke_width(2)))
            .map_err(fig_err(&id))?;
        root.draw(&text("quartiles, median", 44)).map_err(fig_err(&id))?;
        if baseline.is_some() {
            for k in 0..2 {
                let x0 = x + k * 10;
                root.draw(&PathElement::new(vec![(x0, y + 66), (x0 + 6, y + 66)], GREY.stroke_width(2)))
                    .map_err(fig_err(&id))?;
            }
            root.draw(&text("majority baseline", 66)).map_err(fig_err(&id))?;
        }
        root.present().map_err(fig_err(&id))?;
    }
    let n: usize = per_group.iter().map(Vec::len).sum();
    let failed: usize = rows.iter().filter_map(|r| r.failed).sum();
    let diverged: usize = rows.iter().map(|r| r.diverged).sum();
    let stopped: usize = rows.iter().map(|r| r.stopped).sum();
    let mut left_out = String::new();
    if diverged > 0 {
        left_out += &format!(
            " {diverged} diverged run(s) have no final value and are not drawn; they are counted as failed."
        );
    }
    if stopped > 0 {
        left_out += &format!(
            " {stopped} run(s) stopped by the early-stopping schedule are neither successes nor failures and are not drawn."
        );
    }
    Ok(Figure {
        id,
        title: format!("Final dev {metric} on {task} per configuration (Fig. 1)"),
        caption: format!(
            "Each point is one run's dev {metric} after its last update ({n} runs with a final value; {failed} failed in \
             all: red crosses); boxes span the quartiles with the median as a thick line, whiskers reach the furthest run \
             within 1.5 IQR.{left_out} {}",
            match (baseline, judged_elsewhere) {
                (Some(b), false) => format!("The dashed line is the majority-class baseline ({b:.4}): a run at or below it failed."),
                (Some(b), true) => format!(
                    "The dashed line is the majority-class prediction's {metric} ({b:.4}); runs are judged failed on the \
                     task's headline metric, so a run above the line can have failed."
                ),
                (None, true) => "The majority baseline is of another metric than this one and the runs did not record \
                                 its value in this one, so it is not drawn; failed runs are as each run recorded them."
                    .to_string(),
                (None, false) => "The task has no majority-class baseline (regression): no run is judged failed.".to_string(),
            }
        ),
        svg,
    })
}

/// The mean of a run's last ten logged training losses: one step's loss at batch 16 is noise.
pub fn final_train_loss(run: &RunData) -> Option<f64> {
    let tail: Vec<f64> = run.train.iter().rev().take(10).map(|s| s.loss).filter(|l| l.is_finite()).collect();
    (!tail.is_empty()).then(|| tail.iter().sum::<f64>() / tail.len() as f64)
}

/// Fig. 8b: dev metric against final training loss, every run of the task, one colour per
/// configuration, failed runs as crosses.
pub fn metric_vs_loss(task: &str, groups: &[&Group], runs: &[RunData]) -> Result<Option<Figure>> {
    register_font();
    let id = format!("fig8b-metric-vs-loss-{task}");
    let metric = groups.first().map(|g| g.metric.clone()).unwrap_or_default();
    let points: Vec<Vec<(f64, f64, bool)>> = groups
        .iter()
        .map(|g| {
            final_values(g, runs)
                .into_iter()
                .filter_map(|(i, v)| Some((final_train_loss(&runs[i])?, v, runs[i].failed == Some(true))))
                .collect()
        })
        .collect();
    let n: usize = points.iter().map(Vec::len).sum();
    if n == 0 {
        return Ok(None);
    }
    let (x0, x1) = padded_range(points.iter().flatten().map(|p| p.0));
    let (y0, y1) = padded_range(points.iter().flatten().map(|p| p.1));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(&id))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{task}: dev {metric} against final training loss"), (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(fig_err(&id))?;
        let xfmt = |x: &f64| tick(*x, x1 - x0);
        let yfmt = |y: &f64| tick(*y, y1 - y0);
        chart
            .configure_mesh()
            .max_light_lines(1)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .x_desc("final training loss (cross-entropy, mean of the last 10 updates)")
            .y_desc(format!("final dev {metric}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(fig_err(&id))?;
        for (i, (g, pts)) in groups.iter().zip(&points).enumerate() {
            let c = colour(i);
            chart
                .draw_series(
                    pts.iter().filter(|p| p.2).map(|&(x, y, _)| Cross::new((x, y), 6, c.stroke_width(2))),
                )
                .map_err(fig_err(&id))?;
            chart
                .draw_series(pts.iter().filter(|p| !p.2).map(|&(x, y, _)| Circle::new((x, y), 5, c.filled())))
                .map_err(fig_err(&id))?
                .label(g.configuration.clone())
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
        }
        super::legend(&mut chart, SeriesLabelPosition::MiddleRight, 14, &id)?;
        root.present().map_err(fig_err(&id))?;
    }
    Ok(Some(Figure {
        id,
        title: format!("Dev {metric} against final training loss on {task} (Fig. 8b)"),
        caption: format!(
            "One point per run ({n} runs), coloured by configuration; failed runs are crosses. The training loss is the \
             mean of the run's last 10 logged updates. In the paper (Fig. 8b) failed runs end at a high training loss: \
             they did not fit the training data, its evidence that failure is an optimisation problem."
        ),
        svg,
    }))
}

/// Expected validation performance (Dodge et al. 2019): the expected best final dev metric among n
/// runs drawn with replacement from a configuration's runs, with a +-1 std band clipped to the
/// observed range.
pub fn evp_curves(task: &str, groups: &[&Group], runs: &[RunData]) -> Result<Option<Figure>> {
    let id = format!("evp-{task}");
    let metric = groups.first().map(|g| g.metric.clone()).unwrap_or_default();
    let mut curves = Vec::new();
    let (mut total, mut lo, mut hi) = (0, f64::INFINITY, f64::NEG_INFINITY);
    for (i, g) in groups.iter().enumerate() {
        let values: Vec<f64> = final_values(g, runs).into_iter().map(|p| p.1).collect();
        let (Ok(d), Ok(curve)) = (describe(&values), expected_max_curve(&values, Sampling::WithReplacement))
        else {
            continue;
        };
        (total, lo, hi) = (total + values.len(), lo.min(d.min), hi.max(d.max));
        curves.push(CountCurve {
            label: format!("{} ({} runs)", g.configuration, values.len()),
            colour: colour(i),
            points: curve.iter().map(|e| (e.n as f64, e.mean)).collect(),
            band: Some(
                curve.iter().map(|e| ((e.mean - e.std).max(d.min), (e.mean + e.std).min(d.max))).collect(),
            ),
            dots: false,
        });
    }
    if curves.is_empty() {
        return Ok(None);
    }
    let svg = chart_against_count(
        &id,
        format!("{task}: expected best dev {metric} of n runs"),
        ("number of runs n (seeds tried)", &format!("expected max dev {metric}")),
        padded_range([lo, hi]),
        &curves,
    )?;
    Ok(Some(Figure {
        id,
        title: format!("Expected validation performance on {task}"),
        caption: format!(
            "The expected best final dev {metric} among n runs drawn with replacement from each configuration's runs \
             ({total} runs in all), E[max] = sum_i v(i) ((i/N)^n - ((i-1)/N)^n) over the sorted values (Dodge et al. \
             2019); the band is +-1 std of that maximum, clipped to the range of the runs."
        ),
        svg,
    }))
}

/// One curve of a chart against a count (runs, or a budget in runs).
struct CountCurve {
    label: String,
    colour: RGBColor,
    /// At x = 1, 2, ...
    points: Vec<(f64, f64)>,
    /// (lower, upper) edge of a band at each point.
    band: Option<Vec<(f64, f64)>>,
    /// A dot at each point.
    dots: bool,
}

/// The SVG of curves against a count from 1: integer ticks, a legend at the lower right.
fn chart_against_count(
    id: &str,
    title: String,
    (x_desc, y_desc): (&str, &str),
    (y0, y1): (f64, f64),
    curves: &[CountCurve],
) -> Result<String> {
    register_font();
    let n = curves.iter().map(|c| c.points.len()).max().unwrap_or(1).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(id))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.8..(n as f64 + 0.2), y0..y1)
            .map_err(fig_err(id))?;
        let xfmt = |x: &f64| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        };
        let yfmt = |y: &f64| tick(*y, y1 - y0);
        chart
            .configure_mesh()
            .max_light_lines(1)
            .x_labels(n.min(30))
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(fig_err(id))?;
        for curve in curves {
            let c = curve.colour;
            if let Some(band) = &curve.band {
                let upper = curve.points.iter().zip(band).map(|(p, b)| (p.0, b.1));
                let lower = curve.points.iter().zip(band).rev().map(|(p, b)| (p.0, b.0));
                let polygon: Vec<(f64, f64)> = upper.chain(lower).collect();
                chart.draw_series([Polygon::new(polygon, c.mix(0.15).filled())]).map_err(fig_err(id))?;
            }
            chart
                .draw_series(LineSeries::new(curve.points.iter().copied(), c.stroke_width(2)))
                .map_err(fig_err(id))?
                .label(curve.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            if curve.dots {
                chart
                    .draw_series(curve.points.iter().map(|&p| Circle::new(p, 4, c.filled())))
                    .map_err(fig_err(id))?;
            }
        }
        super::legend(&mut chart, SeriesLabelPosition::LowerRight, 14, id)?;
        root.present().map_err(fig_err(id))?;
    }
    Ok(svg)
}

/// Dodge et al.'s Fig. 6/7: the expected best dev metric against the budget (in full training runs), by
/// training that many runs fully and by the best early-stopping plan within the same budget.
pub fn early_stopping_figure(sim: &crate::early_stopping::Simulation) -> Result<Figure> {
    let id = format!("early-stopping-{}-{}", sim.task, super::curves::slug(&sim.configuration));
    let curve = |label: &str, i: usize, value: fn(&crate::early_stopping::BudgetResult) -> f64| CountCurve {
        label: label.into(),
        colour: colour(i),
        points: sim.budgets.iter().map(|b| (b.budget as f64, value(b))).collect(),
        band: None,
        dots: true,
    };
    let curves = [
        curve("train every run fully", 0, |b| b.train_fully),
        curve("best early-stopping plan", 2, |b| b.best),
    ];
    let svg = chart_against_count(
        &id,
        format!("{}, {}: early stopping at equal compute", sim.task, sim.configuration),
        ("budget (full training runs of compute)", &format!("expected best dev {}", sim.metric)),
        padded_range(curves.iter().flat_map(|c| c.points.iter().map(|p| p.1))),
        &curves,
    )?;
    Ok(Figure {
        id,
        title: format!("Early stopping at equal compute: {}, {} (Dodge et al., Fig. 6/7)", sim.task, sim.configuration),
        caption: format!(
            "For each budget of B full training runs: the expected best dev {} when B runs train fully, and under the best \
             plan that starts more runs, stops the worst after part of training (ranked by their best evaluation so far) \
             and trains the rest fully, spending exactly B runs of evaluations. From the {} runs of this group, {} \
             evaluations each, drawn with replacement ({}).",
            sim.metric,
            sim.runs,
            sim.evals,
            if sim.exact { "exact average over every draw".to_string() } else { format!("{} random draws per plan", sim.samples) }
        ),
        svg,
    })
}

//! Fig. 7 and 13 of Mosbach et al.: the training loss and its gradient norm on the plane through the
//! pretrained (θp), a failed (θf) and a successful (θs) model, as filled contours. The results
//! (`surface.json`) are written by `stabletune analyze surface`; their schema lives here.

use super::{depth_colour, fig_err, register_font, Figure, FAILURE, FONT, SUCCESS, WIDTH};
use crate::error::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    pub run: String,
    pub name: String,
    pub init_seed: u64,
    pub failed: Option<bool>,
    /// The run's final headline dev metric.
    pub dev_metric: Option<f64>,
}

/// The loss (and gradient norm) at one of θp (0, 0), θf (1, 0) and θs (0, 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    pub name: String,
    pub a: f64,
    pub b: f64,
    pub loss: f64,
    pub grad_norm: Option<f64>,
}

/// L(θp + a·δ1 + b·δ2), δ1 = θf − θp, δ2 = θs − θp, over `axis` × `axis`: `loss[i][j]` at
/// b = axis[i], a = axis[j].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Surface {
    pub task: String,
    pub pretrained: String,
    pub failed: RunRef,
    pub successful: RunRef,
    /// What θp's classification head is (it has no pretrained value).
    pub pretrained_head: String,
    pub examples: usize,
    pub points: usize,
    pub range: f64,
    pub axis: Vec<f64>,
    pub loss: Vec<Vec<f64>>,
    /// The L2 norm of the whole gradient at each point (Fig. 13), when computed.
    pub grad_norm: Option<Vec<Vec<f64>>>,
    pub anchors: Vec<Anchor>,
    pub seconds: f64,
}

/// Contour bands (equal steps of log10 of the value).
const BANDS: usize = 14;

fn contour(id: &str, title: &str, s: &Surface, grid: &[Vec<f64>], what: &str) -> Result<Figure> {
    register_font();
    let logs: Vec<f64> =
        grid.iter().flatten().filter(|v| v.is_finite() && **v > 0.0).map(|v| v.log10()).collect();
    let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (lo.min(0.0), lo.min(0.0) + 1.0) };
    let band = |v: f64| -> Option<usize> {
        (v.is_finite() && v > 0.0)
            .then(|| (((v.log10() - lo) / (hi - lo) * BANDS as f64) as usize).min(BANDS - 1))
    };
    let n = s.axis.len();
    let step = if n > 1 { s.axis[1] - s.axis[0] } else { 1.0 };
    let (x0, x1) = (
        s.axis.first().copied().unwrap_or(-1.0) - step / 2.0,
        s.axis.last().copied().unwrap_or(1.0) + step / 2.0,
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 640)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(id))?;
        let (plot, bar) = root.split_horizontally(WIDTH - 170);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, x0..x1)
            .map_err(fig_err(id))?;
        let fmt = |v: &f64| format!("{v:.1}");
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .x_desc("a (toward the failed model θf)")
            .y_desc("b (toward the successful model θs)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fig_err(id))?;
        let cells = s.axis.iter().enumerate().flat_map(|(i, &b)| {
            s.axis.iter().enumerate().filter_map(move |(j, &a)| {
                let colour = band(grid[i][j])?;
                Some(Rectangle::new(
                    [(a - step / 2.0, b - step / 2.0), (a + step / 2.0, b + step / 2.0)],
                    depth_colour(colour, BANDS).filled(),
                ))
            })
        });
        chart.draw_series(cells).map_err(fig_err(id))?;
        let label = |name: &str, (a, b): (f64, f64), colour: RGBColor| {
            vec![
                Circle::new((a, b), 6, colour.filled()).into_dyn(),
                Circle::new((a, b), 6, WHITE.stroke_width(2)).into_dyn(),
                Text::new(
                    name.to_string(),
                    (a + step * 0.8, b + step * 0.8),
                    (FONT, 16).into_font().color(&WHITE),
                )
                .into_dyn(),
            ]
        };
        for (name, at, colour) in
            [("θp", (0.0, 0.0), BLACK), ("θf", (1.0, 0.0), FAILURE), ("θs", (0.0, 1.0), SUCCESS)]
        {
            chart.draw_series(label(name, at, colour)).map_err(fig_err(id))?;
        }
        // The colour bar: one box per band, labelled with the value at its lower edge.
        let (top, height) = (70i32, 460i32);
        let h = height / BANDS as i32;
        bar.draw(&Text::new(what.to_string(), (10, top - 30), (FONT, 14).into_font()))
            .map_err(fig_err(id))?;
        for k in 0..BANDS {
            let y = top + height - (k as i32 + 1) * h;
            bar.draw(&Rectangle::new([(10, y), (40, y + h)], depth_colour(k, BANDS).filled()))
                .map_err(fig_err(id))?;
            let v = 10f64.powf(lo + (hi - lo) * k as f64 / BANDS as f64);
            let style = (FONT, 12).into_font().into_text_style(&bar).pos(Pos::new(HPos::Left, VPos::Center));
            bar.draw(&Text::new(format!("{v:.3}"), (46, y + h), style)).map_err(fig_err(id))?;
        }
        root.present().map_err(fig_err(id))?;
    }
    let metric = |r: &RunRef| r.dev_metric.map(|m| format!(", dev {m:.4}")).unwrap_or_default();
    let anchors: Vec<String> = s
        .anchors
        .iter()
        .map(|a| match a.grad_norm {
            Some(g) => format!("{} loss {:.4}, gradient norm {:.4}", a.name, a.loss, g),
            None => format!("{} loss {:.4}", a.name, a.loss),
        })
        .collect();
    let caption = format!(
        "The {what} on {} at θp + a·(θf − θp) + b·(θs − θp), {} x {} points in [-{r}, {r}]², on the first {} training \
         examples of the runs' sample, dropout off; colours in equal steps of log10. θp: the pretrained encoder \
         ({}) with {}; θf: {} (failed, init seed {}{}); θs: {} (successful, init seed {}{}). At the three models: {}.",
        s.task,
        s.points,
        s.points,
        s.examples,
        s.pretrained,
        s.pretrained_head,
        s.failed.name,
        s.failed.init_seed,
        metric(&s.failed),
        s.successful.name,
        s.successful.init_seed,
        metric(&s.successful),
        anchors.join("; "),
        r = s.range,
    );
    Ok(Figure { id: id.to_string(), title: title.to_string(), caption, svg })
}

/// Fig. 7 (the loss) and, when the gradient norms were computed, Fig. 13.
pub fn surface_figures(s: &Surface, suffix: &str) -> Result<Vec<Figure>> {
    let mut out = vec![contour(
        &format!("fig7-loss-surface{suffix}"),
        &format!("Training loss around the pretrained model ({})", s.task),
        s,
        &s.loss,
        "training loss",
    )?];
    if let Some(g) = &s.grad_norm {
        out.push(contour(
            &format!("fig13-grad-norm-surface{suffix}"),
            &format!("Gradient norm around the pretrained model ({})", s.task),
            s,
            g,
            "gradient norm",
        )?);
    }
    Ok(out)
}

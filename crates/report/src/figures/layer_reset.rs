//! Fig. 2 of Mosbach et al.: masked-LM perplexity of fine-tuned models whose top k layers were put back
//! to their pretrained weights. The results (`layer_reset.json`, one per run) are written by
//! `stabletune analyze layer-reset`; their schema lives here so the report reads them without the model.

use super::{fig_err, legend, register_font, Figure, FAILURE, FONT, GREY, SUCCESS, WIDTH};
use crate::error::Result;
use plotters::chart::SeriesLabelPosition;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// One run's perplexities for k = 0..=L.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerReset {
    /// The run directory as given, and its name.
    pub run: String,
    pub name: String,
    pub task: Option<String>,
    pub recipe: Option<String>,
    pub init_seed: Option<u64>,
    /// Dodge et al.'s failed run (from its summary); `None` when the run has no final summary.
    pub failed: Option<bool>,
    /// The fine-tuned weights read (the run's final model, `checkpoint-last`).
    pub checkpoint: String,
    pub pretrained: String,
    /// Whether the masked-LM head was fitted (`--fit-head`) rather than the pretrained checkpoint's own.
    pub head_fitted: bool,
    /// How the head was fitted, when it was (the fit's report, as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_fit: Option<serde_json::Value>,
    pub text: String,
    pub mask_seed: u64,
    pub block: usize,
    pub blocks: usize,
    pub masked_tokens: usize,
    pub layers: usize,
    /// The pretrained model's own perplexity with the same head and masks.
    pub pretrained_perplexity: f64,
    pub points: Vec<ResetPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResetPoint {
    /// Top layers reset to their pretrained weights.
    pub k: usize,
    pub perplexity: f64,
}

/// Perplexity against k for every run, failed runs red and successful ones blue, the pretrained
/// model's perplexity as a grey dashed line; log-scaled perplexity.
pub fn layer_reset_figure(id: &str, title: &str, runs: &[LayerReset]) -> Result<Option<Figure>> {
    let Some(first) = runs.first() else { return Ok(None) };
    register_font();
    let layers = runs.iter().map(|r| r.layers).max().unwrap_or(1).max(1);
    let values =
        runs.iter().flat_map(|r| r.points.iter().map(|p| p.perplexity).chain([r.pretrained_perplexity]));
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo / 1.3, hi * 1.3) } else { (1.0, 10.0) };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(id))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.3..layers as f64 + 0.3, (lo..hi).log_scale())
            .map_err(fig_err(id))?;
        let xfmt = |x: &f64| format!("{x:.0}");
        let yfmt = |y: &f64| if *y >= 100.0 { format!("{y:.0}") } else { format!("{y:.1}") };
        chart
            .configure_mesh()
            .x_labels(layers.min(24) + 1)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .x_desc("k: top layers reset to their pretrained weights")
            .y_desc("masked-LM perplexity (WikiText-2 test)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fig_err(id))?;
        let pre = first.pretrained_perplexity;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.3, pre), (layers as f64 + 0.3, pre)],
                6,
                4,
                GREY.stroke_width(2),
            ))
            .map_err(fig_err(id))?
            .label(format!("pretrained model: {pre:.1}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], GREY.stroke_width(2)));
        let (mut failed_labelled, mut ok_labelled) = (false, false);
        for r in runs {
            let failed = r.failed == Some(true);
            let colour = if failed { FAILURE } else { SUCCESS };
            let pts: Vec<(f64, f64)> = r.points.iter().map(|p| (p.k as f64, p.perplexity)).collect();
            let series = chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                .map_err(fig_err(id))?;
            let first_of_kind = if failed { !failed_labelled } else { !ok_labelled };
            if first_of_kind {
                let what = if failed { "failed runs" } else { "successful runs" };
                series.label(what).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
                if failed {
                    failed_labelled = true;
                } else {
                    ok_labelled = true;
                }
            }
            chart
                .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 3, colour.filled())))
                .map_err(fig_err(id))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 13, id)?;
        root.present().map_err(fig_err(id))?;
    }
    let head = if first.head_fitted {
        "a masked-LM head fitted on frozen pretrained features (the checkpoint has none; see the README)"
    } else {
        "the pretrained checkpoint's masked-LM head"
    };
    let failed = runs.iter().filter(|r| r.failed == Some(true)).count();
    let caption = format!(
        "Masked-LM perplexity on {} ({} blocks of {} tokens, {} masked tokens, mask seed {}) of {} runs \
         ({failed} failed, {} successful) whose top k layers were reset to the pretrained weights (k = 0: the \
         fine-tuned model; k = {layers}: every layer pretrained, the fine-tuned embeddings kept), with {head} on \
         top of each. Grey: the pretrained model itself.",
        first.text,
        first.blocks,
        first.block,
        first.masked_tokens,
        first.mask_seed,
        runs.len(),
        runs.len() - failed,
    );
    Ok(Some(Figure { id: id.to_string(), title: title.to_string(), caption, svg }))
}

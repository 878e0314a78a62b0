//! The paper's analyses in the report: Fig. 2 (layer reset) and Fig. 7/13 (surfaces) from the results
//! `stabletune study analyze DIR` stores under `DIR/analyses/`, or, when a study has failed and
//! successful runs but no results yet, a note saying how to produce them.

use super::curves::slug;
use super::layer_reset::{layer_reset_figure, LayerReset};
use super::surface::{surface_figures, Surface};
use super::{fig_err, register_font, Figure, FONT, WIDTH};
use crate::error::{ReportError, Result};
use crate::load::RunData;
use plotters::prelude::*;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a study keeps each analysis: `analyses/layer-reset/<run>/layer_reset.json` and
/// `analyses/surface/<failed run>--<successful run>/surface.json`.
pub const LAYER_RESET_DIR: &str = "analyses/layer-reset";
pub const SURFACE_DIR: &str = "analyses/surface";

fn read_all<T: DeserializeOwned>(dir: &Path, file: &str) -> Result<Vec<T>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|e| e.ok()).map(|e| e.path().join(file)).filter(|p| p.exists()).collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| ReportError::Input(format!("cannot read {}: {e}", p.display())))?;
            serde_json::from_str(&text).map_err(|e| ReportError::Input(format!("{}: {e}", p.display())))
        })
        .collect()
}

/// The analyses' figures of the study folders among `sources`.
pub fn analysis_figures(sources: &[PathBuf], runs: &[RunData]) -> Result<Vec<Figure>> {
    let (mut resets, mut surfaces) = (Vec::new(), Vec::new());
    for s in sources {
        resets.extend(read_all::<LayerReset>(&s.join(LAYER_RESET_DIR), "layer_reset.json")?);
        surfaces.extend(read_all::<Surface>(&s.join(SURFACE_DIR), "surface.json")?);
    }
    let mut out = Vec::new();
    let mut by_task: BTreeMap<String, Vec<LayerReset>> = BTreeMap::new();
    for r in resets {
        by_task.entry(r.task.clone().unwrap_or_default()).or_default().push(r);
    }
    for (task, rs) in &by_task {
        let title = format!("Perplexity after resetting the top k layers ({task})");
        out.extend(layer_reset_figure(&format!("fig2-layer-reset-{}", slug(task)), &title, rs)?);
    }
    for (i, s) in surfaces.iter().enumerate() {
        out.extend(surface_figures(s, &format!("-{}-{}", slug(&s.task), i + 1))?);
    }
    let both = runs.iter().any(|r| r.failed == Some(true)) && runs.iter().any(|r| r.failed == Some(false));
    if out.is_empty() && both {
        out.push(not_yet()?);
    }
    Ok(out)
}

/// A note in place of Fig. 2 and Fig. 7/13.
fn not_yet() -> Result<Figure> {
    let id = "fig2-fig7-not-computed";
    register_font();
    let mut svg = String::new();
    let lines = [
        "Why did the failed runs fail? (Fig. 2, 7 and 13 of Mosbach et al.)",
        "This study has failed and successful runs, but their analyses have not been computed yet.",
        "Run:  stabletune study analyze DIR   (then the report again)",
        "It picks, per task and configuration, the failed and the successful run of lowest seed, measures",
        "their masked-LM perplexity with the top k layers reset (Fig. 2), and the loss and gradient-norm",
        "surfaces through the pretrained, failed and successful models (Fig. 7, 13), under DIR/analyses/.",
    ];
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 200)).into_drawing_area();
        root.fill(&WHITE).map_err(fig_err(id))?;
        for (i, l) in lines.iter().enumerate() {
            let size = if i == 0 { 17 } else { 14 };
            root.draw(&Text::new(l.to_string(), (20, 24 + 28 * i as i32), (FONT, size).into_font()))
                .map_err(fig_err(id))?;
        }
        root.present().map_err(fig_err(id))?;
    }
    Ok(Figure {
        id: id.into(),
        title: "Layer reset and loss surfaces: not computed yet".into(),
        caption: "Produce them with `stabletune study analyze DIR`; the report draws them when DIR/analyses/ holds \
                  their results."
            .into(),
        svg,
    })
}

//! Fig. 2 and Fig. 7/13 in the report: drawn from a study's stored analyses, and a note saying how to
//! produce them when a study with failed and successful runs has none.

use stabletune_report::figures::analyses::{analysis_figures, LAYER_RESET_DIR, SURFACE_DIR};
use stabletune_report::figures::layer_reset::{LayerReset, ResetPoint};
use stabletune_report::figures::surface::{Anchor, RunRef, Surface};
use stabletune_report::RunData;
use std::path::Path;

fn reset(name: &str, failed: bool) -> LayerReset {
    LayerReset {
        run: format!("runs/{name}"),
        name: name.into(),
        task: Some("rte".into()),
        recipe: Some("devlin2019".into()),
        init_seed: Some(1),
        failed: Some(failed),
        checkpoint: "checkpoint-last".into(),
        pretrained: "bert".into(),
        head_fitted: true,
        head_fit: None,
        text: "wiki.test.raw".into(),
        mask_seed: 42,
        block: 510,
        blocks: 3,
        masked_tokens: 200,
        layers: 4,
        pretrained_perplexity: 9.0,
        points: (0..=4)
            .map(|k| ResetPoint { k, perplexity: 9.0 + (4 - k) as f64 * if failed { 20.0 } else { 2.0 } })
            .collect(),
    }
}

fn surface() -> Surface {
    let axis = vec![-1.0, 0.0, 1.0];
    let grid: Vec<Vec<f64>> =
        axis.iter().map(|b| axis.iter().map(|a| 0.7 + a * a + b * b).collect()).collect();
    let run = |name: &str, failed| RunRef {
        run: name.into(),
        name: name.into(),
        init_seed: 1,
        failed: Some(failed),
        dev_metric: Some(0.5),
    };
    Surface {
        task: "rte".into(),
        pretrained: "bert".into(),
        failed: run("f", true),
        successful: run("s", false),
        pretrained_head: "the failed run's initial head".into(),
        examples: 8,
        points: 3,
        range: 1.0,
        axis,
        loss: grid.clone(),
        grad_norm: Some(grid),
        anchors: vec![Anchor { name: "pretrained".into(), a: 0.0, b: 0.0, loss: 0.7, grad_norm: Some(0.7) }],
        seconds: 1.0,
    }
}

fn write(path: &Path, value: &impl serde::Serialize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string(value).unwrap()).unwrap();
}

fn run(failed: bool) -> RunData {
    RunData {
        dir: "x".into(),
        name: "x".into(),
        settings: Default::default(),
        task: "rte".into(),
        status: "completed".into(),
        init_seed: Some(1),
        data_seed: Some(1),
        failed: Some(failed),
        ..Default::default()
    }
}

#[test]
fn stored_analyses_are_drawn_and_missing_ones_explained() {
    let study = tempfile::tempdir().unwrap();
    let runs = [run(true), run(false)];
    let sources = vec![study.path().to_path_buf()];
    let note = analysis_figures(&sources, &runs).unwrap();
    assert_eq!(note.len(), 1);
    assert!(note[0].svg.contains("study analyze"), "the note says how to produce the figures");
    assert!(analysis_figures(&sources, &runs[..1]).unwrap().is_empty(), "no note without both kinds of run");

    write(&study.path().join(LAYER_RESET_DIR).join("a/layer_reset.json"), &reset("a", true));
    write(&study.path().join(LAYER_RESET_DIR).join("b/layer_reset.json"), &reset("b", false));
    write(&study.path().join(SURFACE_DIR).join("a--b/surface.json"), &surface());
    let figs = analysis_figures(&sources, &runs).unwrap();
    let ids: Vec<&str> = figs.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["fig2-layer-reset-rte", "fig7-loss-surface-rte-1", "fig13-grad-norm-surface-rte-1"]);
    assert!(
        figs[0].caption.contains("2 runs (1 failed, 1 successful)") && figs[0].caption.contains("fitted")
    );
    for f in &figs {
        assert!(f.svg.starts_with("<svg") && f.svg.len() > 2000, "{} is drawn", f.id);
    }
    assert!(figs[1].svg.contains("θf") && figs[1].svg.contains("θs") && figs[1].svg.contains("θp"));
}

//! Fig. 7 and 13: the training loss L(θp + a·δ1 + b·δ2) and its gradient norm over a grid of (a, b),
//! δ1 = θf − θp (a failed run), δ2 = θs − θp (a successful run), dropout off, on a fixed set of the runs'
//! training examples.
//!
//! θp is the pretrained encoder with the failed run's initial classification head, re-drawn from its
//! init seed: the authors' public code (uds-lsv/bert-stable-fine-tuning) has no surface code and the
//! paper does not say, and a head must exist for a loss; the initial head is the point both runs started
//! from. Every grid point is evaluated on its own (weights built from θp, δ1, δ2 in f32, the same
//! arithmetic whatever the order), so points are spread over threads and the result is the same at any
//! thread count.

use crate::error::{AnalysisError, Result};
use crate::runs::RunInfo;
use rayon::prelude::*;
use stabletune_model::tokenizer::TextEncoder;
use stabletune_model::{HeadSpec, Mode, Model, ParamSet, Target, Workspace};
use stabletune_report::figures::surface::{Anchor, RunRef, Surface};
use stabletune_train::dataset::{sample_indices, Dataset, Labels};
use std::path::Path;

#[derive(Clone, Debug)]
pub struct SurfaceOptions {
    pub points: usize,
    pub range: f64,
    pub examples: usize,
    /// Also the gradient norm at every point (Fig. 13; a backward pass per point).
    pub grad_norm: bool,
    /// Examples per forward pass of the loss.
    pub eval_batch: usize,
}

impl Default for SurfaceOptions {
    fn default() -> Self {
        SurfaceOptions { points: 40, range: 1.5, examples: 128, grad_norm: true, eval_batch: 32 }
    }
}

/// The first `n` examples of a run's training sample (the sample's own order: the training file's
/// order of the rows drawn), tokenised as the run tokenised them.
pub fn training_examples(run: &RunInfo, model_dir: &Path, n: usize) -> Result<Dataset> {
    let cfg = &run.config;
    let mut source = stabletune_train::source::load(cfg)?;
    if let Some(k) = cfg.train_limit {
        let rows = sample_indices(source.train.len(), k, cfg.sample_seed);
        source.train = rows.iter().map(|&i| source.train[i].clone()).collect();
    }
    source.train.truncate(n);
    let tokenizer = TextEncoder::from_dir(model_dir, cfg.max_seq_length)?;
    Ok(Dataset::encode(source.label_set.as_deref(), &source.train, &tokenizer, "train")?)
}

/// θp, θf and θs with the classification head of the runs' task.
pub struct Endpoints {
    pub pretrained: Model,
    pub failed: ParamSet,
    pub successful: ParamSet,
}

pub fn endpoints(
    pretrained_dir: &Path,
    failed: &RunInfo,
    successful: &RunInfo,
    classes: usize,
) -> Result<Endpoints> {
    let heads = HeadSpec { classifier: Some(classes), masked_lm: false };
    let (mut pretrained, _) = Model::from_dir(pretrained_dir, heads, failed.config.init_seed)?;
    if !failed.config.keep_head {
        pretrained.reinit_classifier(failed.config.init_seed);
    }
    let load = |run: &RunInfo| -> Result<ParamSet> {
        let (m, _) = Model::from_dir(&run.checkpoint, heads, 0)?;
        if m.params.infos != pretrained.params.infos {
            return Err(AnalysisError::Run {
                path: run.dir.clone(),
                message: format!("its weights are not laid out as {}'s", pretrained_dir.display()),
            });
        }
        Ok(m.params)
    };
    Ok(Endpoints { failed: load(failed)?, successful: load(successful)?, pretrained })
}

/// Loss (mean over the examples, as training's) and, when asked, the global gradient norm at `params`.
pub fn loss_and_norm(
    model: &Model,
    data: &Dataset,
    eval_batch: usize,
    grad: bool,
    ws: &mut Workspace,
    grads: &mut Vec<f32>,
) -> Result<(f64, Option<f64>)> {
    let n = data.len();
    let mut total = 0f64;
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(eval_batch.max(1)) {
        let (batch, labels) = data.batch(chunk);
        let out = model.classify(&batch, Mode::Eval, ws)?;
        total += match &labels {
            Labels::Classes(y) => {
                let c = out.len() / y.len();
                crate::layer_reset::cross_entropy_sum(out, y, c)
            }
            Labels::Scores(y) => out.iter().zip(y).map(|(o, t)| ((o - t) as f64).powi(2)).sum(),
        };
    }
    let loss = total / n as f64;
    if !grad {
        return Ok((loss, None));
    }
    let (batch, labels) = data.batch(&idx);
    grads.clear();
    grads.resize(model.params.len(), 0.0);
    let target = match &labels {
        Labels::Classes(y) => Target::Classes(y),
        Labels::Scores(y) => Target::Regression(y),
    };
    model.loss_and_grads(&batch, target, Mode::Eval, ws, grads)?;
    Ok((loss, Some(stabletune_train::optim::global_norm(grads))))
}

/// The grid's coordinates: `points` values evenly from -range to range.
pub fn axis(points: usize, range: f64) -> Vec<f64> {
    match points {
        0 => vec![],
        1 => vec![0.0],
        _ => (0..points).map(|i| -range + 2.0 * range * i as f64 / (points - 1) as f64).collect(),
    }
}

/// Writes θp + a·δ1 + b·δ2 into `out` (f32 arithmetic, element by element).
fn point(p: &[f32], d1: &[f32], d2: &[f32], a: f64, b: f64, out: &mut [f32]) {
    let (a, b) = (a as f32, b as f32);
    for (((o, p), x), y) in out.iter_mut().zip(p).zip(d1).zip(d2) {
        *o = p + a * x + b * y;
    }
}

/// The loss at a point and, when asked, the gradient norm.
pub type PointValue = (f64, Option<f64>);

/// Loss (and gradient norm) at every (a, b) of `coords`, in order.
pub fn evaluate_points(
    ends: &Endpoints,
    data: &Dataset,
    coords: &[(f64, f64)],
    opts: &SurfaceOptions,
) -> Result<Vec<PointValue>> {
    let p = &ends.pretrained.params.values;
    let d1: Vec<f32> = ends.failed.values.iter().zip(p).map(|(f, p)| f - p).collect();
    let d2: Vec<f32> = ends.successful.values.iter().zip(p).map(|(s, p)| s - p).collect();
    let base = &ends.pretrained;
    // A few points per task: each task owns one copy of the weights and a workspace.
    let per_task = coords.len().div_ceil(rayon::current_num_threads().max(1) * 4).max(1);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let chunks: Vec<Result<Vec<PointValue>>> = coords
        .par_chunks(per_task)
        .map(|chunk| {
            let mut model = Model {
                config: base.config.clone(),
                params: base.params.clone(),
                layout: base.layout.clone(),
                heads: base.heads,
                mixed: None,
            };
            let (mut ws, mut grads) = (Workspace::new(), Vec::new());
            chunk
                .iter()
                .map(|&(a, b)| {
                    point(p, &d1, &d2, a, b, &mut model.params.values);
                    let value =
                        loss_and_norm(&model, data, opts.eval_batch, opts.grad_norm, &mut ws, &mut grads);
                    // Progress (the order of these lines depends on scheduling; the results do not).
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if n.is_multiple_of((coords.len() / 10).max(1)) {
                        let secs = started.elapsed().as_secs_f64();
                        tracing::info!("surface: {n} of {} points, {secs:.0} s", coords.len());
                    }
                    value
                })
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(coords.len());
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

/// The whole analysis of one failed and one successful run.
pub fn analyze_surface(
    pretrained: Option<&Path>,
    failed_dir: &Path,
    successful_dir: &Path,
    opts: &SurfaceOptions,
) -> Result<Surface> {
    let started = std::time::Instant::now();
    let failed = RunInfo::open(failed_dir)?;
    let successful = RunInfo::open(successful_dir)?;
    if failed.config.task != successful.config.task {
        return Err(AnalysisError::Input(format!(
            "the failed run is on {} and the successful one on {}: a surface needs one task",
            failed.config.task, successful.config.task
        )));
    }
    let pretrained_dir = match pretrained {
        Some(p) => stabletune_model::hub::resolve_model(&p.to_string_lossy())?,
        None => failed.pretrained()?,
    };
    let data = training_examples(&failed, &pretrained_dir, opts.examples)?;
    let classes = match &data.labels {
        Labels::Classes(_) => count_classes(&failed)?,
        Labels::Scores(_) => 1,
    };
    let ends = endpoints(&pretrained_dir, &failed, &successful, classes)?;
    let axis = axis(opts.points, opts.range);
    let coords: Vec<(f64, f64)> = axis.iter().flat_map(|&b| axis.iter().map(move |&a| (a, b))).collect();
    let anchors_at = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)];
    let all: Vec<(f64, f64)> = anchors_at.iter().copied().chain(coords.iter().copied()).collect();
    let values = evaluate_points(&ends, &data, &all, opts)?;
    let (anchor_values, grid) = values.split_at(anchors_at.len());
    let row = |i: usize| &grid[i * axis.len()..(i + 1) * axis.len()];
    let loss: Vec<Vec<f64>> = (0..axis.len()).map(|i| row(i).iter().map(|v| v.0).collect()).collect();
    let grad_norm = opts
        .grad_norm
        .then(|| (0..axis.len()).map(|i| row(i).iter().map(|v| v.1.unwrap_or(f64::NAN)).collect()).collect());
    let names = ["pretrained", "failed", "successful"];
    let anchors = anchors_at
        .iter()
        .zip(anchor_values)
        .zip(names)
        .map(|((&(a, b), v), name)| Anchor { name: name.to_string(), a, b, loss: v.0, grad_norm: v.1 })
        .collect();
    let run_ref = |r: &RunInfo| RunRef {
        run: r.dir.display().to_string(),
        name: r.name(),
        init_seed: r.config.init_seed,
        failed: r.failed(),
        dev_metric: r.summary.as_ref().and_then(|s| s.final_metrics.get(&s.headline_metric).copied()),
    };
    Ok(Surface {
        task: failed.config.task.clone(),
        pretrained: pretrained_dir.display().to_string(),
        failed: run_ref(&failed),
        successful: run_ref(&successful),
        pretrained_head: format!(
            "the failed run's initial classification head, re-drawn from its init seed {}",
            failed.config.init_seed
        ),
        examples: data.len(),
        points: opts.points,
        range: opts.range,
        axis,
        loss,
        grad_norm,
        anchors,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The number of classes of a run's task, from its checkpoint's configuration.
fn count_classes(run: &RunInfo) -> Result<usize> {
    let config = stabletune_model::EncoderConfig::from_file(&run.checkpoint.join("config.json"))?;
    config.raw["id2label"]
        .as_object()
        .map(|m| m.len())
        .or_else(|| config.raw["num_labels"].as_u64().map(|n| n as usize))
        .ok_or_else(|| AnalysisError::Run {
            path: run.checkpoint.clone(),
            message: "config.json says neither id2label nor num_labels".into(),
        })
}

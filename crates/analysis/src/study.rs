//! `stabletune study analyze DIR`: both analyses on the failed and the successful run of lowest seed of
//! each task and configuration, stored under `DIR/analyses/` where the report finds them.

use crate::error::{io, Result};
use crate::reset_runs::{analyze_runs, write_results, ResetOptions};
use crate::runs::RunInfo;
use crate::surface::{analyze_surface, SurfaceOptions};
use stabletune_report::figures::analyses::{LAYER_RESET_DIR, SURFACE_DIR};
use stabletune_report::figures::surface::Surface;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A failed and a successful run of one task (and configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub task: String,
    /// The configuration's name (its recipe, and `+ settings` when several share it), or `all
    /// configurations` when no single configuration had both kinds.
    pub configuration: String,
    pub failed: PathBuf,
    pub successful: PathBuf,
}

/// The study's finished runs with a final verdict (failed or not) and saved weights.
fn finished_runs(study: &Path) -> Result<Vec<RunInfo>> {
    let runs_dir = study.join("runs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&runs_dir)
        .map_err(io(&runs_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.toml").exists())
        .collect();
    dirs.sort();
    Ok(dirs.iter().filter_map(|d| RunInfo::open(d).ok()).filter(|r| r.failed().is_some()).collect())
}

/// A run's configuration apart from its seeds, as text (runs that differ only by seed share it).
fn configuration_key(run: &RunInfo) -> String {
    let mut c = run.config.clone();
    c.init_seed = 0;
    c.data_seed = 0;
    c.to_toml()
}

/// The failed and the successful run of lowest (init, data) seed in each group that has both.
fn pick(runs: &[&RunInfo]) -> Option<(PathBuf, PathBuf)> {
    let lowest = |failed: bool| {
        runs.iter()
            .filter(|r| r.failed() == Some(failed))
            .min_by_key(|r| (r.config.init_seed, r.config.data_seed, r.dir.clone()))
            .map(|r| r.dir.clone())
    };
    Some((lowest(true)?, lowest(false)?))
}

/// Per task and configuration with both kinds of run, the pair of lowest seeds; for a task where no
/// configuration has both, the pair of lowest seeds across its configurations.
pub fn pairs(study: &Path) -> Result<Vec<Pair>> {
    let runs = finished_runs(study)?;
    let mut by_task: BTreeMap<String, BTreeMap<String, Vec<&RunInfo>>> = BTreeMap::new();
    for r in &runs {
        by_task.entry(r.config.task.clone()).or_default().entry(configuration_key(r)).or_default().push(r);
    }
    let mut out = Vec::new();
    for (task, configs) in &by_task {
        let recipes: Vec<&str> = configs.values().map(|rs| rs[0].config.recipe.name()).collect();
        let mut found = false;
        for rs in configs.values() {
            if let Some((failed, successful)) = pick(rs) {
                let recipe = rs[0].config.recipe.name();
                let shared = recipes.iter().filter(|r| **r == recipe).count() > 1;
                let configuration = if shared {
                    format!("{recipe} + settings of {}", rs[0].name())
                } else {
                    recipe.to_string()
                };
                out.push(Pair { task: task.clone(), configuration, failed, successful });
                found = true;
            }
        }
        if !found {
            let all: Vec<&RunInfo> = configs.values().flatten().copied().collect();
            if let Some((failed, successful)) = pick(&all) {
                let configuration = "all configurations".to_string();
                out.push(Pair { task: task.clone(), configuration, failed, successful });
            }
        }
    }
    Ok(out)
}

/// What `study analyze` wrote.
pub struct StudyAnalysis {
    pub pairs: Vec<Pair>,
    pub layer_reset: Vec<PathBuf>,
    pub surfaces: Vec<(PathBuf, Surface)>,
}

/// Runs both analyses on every pair and stores them under `DIR/analyses/`.
pub fn analyze_study(study: &Path, reset: &ResetOptions, surface: &SurfaceOptions) -> Result<StudyAnalysis> {
    let pairs = pairs(study)?;
    let mut runs: Vec<PathBuf> =
        pairs.iter().flat_map(|p| [p.failed.clone(), p.successful.clone()]).collect();
    runs.sort();
    runs.dedup();
    // One pretrained model per call: group the runs by the model they started from.
    let mut by_model: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for r in &runs {
        let model = match &reset.pretrained {
            Some(p) => p.clone(),
            None => RunInfo::open(r)?.pretrained()?,
        };
        by_model.entry(model).or_default().push(r.clone());
    }
    let mut layer_reset = Vec::new();
    for (model, runs) in &by_model {
        let opts = ResetOptions { pretrained: Some(model.clone()), ..reset.clone() };
        let results = analyze_runs(runs, &opts)?;
        layer_reset.extend(write_results(&study.join(LAYER_RESET_DIR), &results)?);
    }
    let mut surfaces = Vec::new();
    for p in &pairs {
        let s = analyze_surface(reset.pretrained.as_deref(), &p.failed, &p.successful, surface)?;
        let dir = study.join(SURFACE_DIR).join(format!("{}--{}", s.failed.name, s.successful.name));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join("surface.json");
        let text = serde_json::to_string_pretty(&s).expect("surface serialises") + "\n";
        stabletune_model::checkpoint::write_atomic(&path, text.as_bytes())?;
        surfaces.push((path, s));
    }
    Ok(StudyAnalysis { pairs, layer_reset, surfaces })
}

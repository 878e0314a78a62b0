//! A study's runs: the grid expanded, each run resolved into its frozen config and named by a readable
//! prefix and a short hash of that config, so the same run is never trained twice and a changed setting
//! is a new run.

use crate::error::{Result, StudyError};
use crate::restarts::Reserve;
use crate::spec::StudySpec;
use sha2::{Digest, Sha256};
use stabletune_model::{hub, EncoderConfig};
use stabletune_train::sentinel::SentinelMode;
use stabletune_train::{locations, Overrides, TrainConfig};
use std::collections::BTreeMap;

/// One run of a study.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// The run's folder name under `runs/`: `<task>-<recipe>-s<init>-<data>-<hash>`.
    pub id: String,
    pub config: TrainConfig,
    /// The task, as the study names it.
    pub task: String,
    /// The configuration, for grouping results: recipe, and the model and swept settings when they vary
    /// (`mosbach2021 lr=1e-5`).
    pub configuration: String,
    /// The model as the study names it (`default` for the built-in one).
    pub model: String,
    /// A reserve run of `sentinel = "restart"`: dormant until it replaces a stopped run
    /// ([`crate::restarts`]).
    pub reserve: Option<Reserve>,
}

/// Expands the grid in a fixed order (model, task, recipe, swept settings, seeds), resolving each run's
/// settings over its recipe and model family. A model that cannot be found is an error before anything
/// runs.
pub fn plan(spec: &StudySpec) -> Result<Vec<PlannedRun>> {
    let mut archs = BTreeMap::new();
    for model in &spec.models {
        let dir = match model {
            Some(m) => hub::resolve_model(m)?,
            None => locations::default_model(),
        };
        archs.insert(
            model.clone(),
            (dir.display().to_string(), EncoderConfig::from_file(&dir.join("config.json"))?.arch),
        );
    }
    let combos = combinations(&spec.settings);
    let swept = spec.swept();
    let mut runs = Vec::new();
    for model in &spec.models {
        let (dir, arch) = archs[model].clone();
        for task in &spec.tasks {
            for recipe in &spec.recipes {
                for combo in &combos {
                    for (init, data) in spec.seeds.pairs() {
                        let mut table = toml::Table::new();
                        for (k, v) in combo {
                            table.insert(k.clone(), v.clone());
                        }
                        table.insert("model".into(), dir.clone().into());
                        table.insert("task".into(), task.clone().into());
                        table.insert("recipe".into(), recipe.name().into());
                        table.insert("init_seed".into(), (init as i64).into());
                        table.insert("data_seed".into(), (data as i64).into());
                        let o: Overrides = serde::Deserialize::deserialize(table)
                            .map_err(|e: toml::de::Error| StudyError::Other(e.message().to_string()))?;
                        let config = TrainConfig::resolve(o, arch).map_err(|m| spec_error(spec, m))?;
                        let model_name = model.clone().unwrap_or_else(|| "default".into());
                        let mut parts = vec![recipe.name().to_string()];
                        if spec.models.len() > 1 {
                            parts.insert(0, model_name.clone());
                        }
                        for (k, v) in combo.iter().filter(|(k, _)| swept.contains(&k.as_str())) {
                            parts.push(format!("{k}={}", show(v)));
                        }
                        let id = format!(
                            "{}-{}-s{init}-{data}-{}",
                            slug(task),
                            recipe.name(),
                            &identity_hash(&config, &model_name)[..10]
                        );
                        runs.push(PlannedRun {
                            id,
                            config,
                            task: task.clone(),
                            configuration: parts.join(" "),
                            model: model_name,
                            reserve: None,
                        });
                    }
                }
            }
        }
    }
    if let Some(max_restarts) = spec.restart {
        runs.extend(reserves(&runs, max_restarts));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = runs.iter().find(|r| !seen.insert(r.id.clone())) {
        return Err(spec_error(spec, format!("two runs of the grid are the same run ({})", dup.id)));
    }
    Ok(runs)
}

/// `max_restarts` reserve runs per configuration, after the study's runs: the configuration's runs with
/// the next seeds above its largest, in order.
fn reserves(runs: &[PlannedRun], max_restarts: usize) -> Vec<PlannedRun> {
    let mut out = Vec::new();
    let mut done = std::collections::HashSet::new();
    for run in runs {
        let group = crate::early_stop::group_key(run);
        if !done.insert(group.clone()) {
            continue;
        }
        let same = || runs.iter().filter(|r| crate::early_stop::group_key(r) == group);
        let largest = same().map(|r| r.config.init_seed.max(r.config.data_seed)).max().unwrap_or(0);
        for k in 1..=max_restarts as u64 {
            let seed = largest + k;
            let config = TrainConfig { init_seed: seed, data_seed: seed, ..run.config.clone() };
            let id = format!(
                "{}-{}-s{seed}-{seed}-{}",
                slug(&run.task),
                config.recipe.name(),
                &identity_hash(&config, &run.model)[..10]
            );
            out.push(PlannedRun {
                id,
                config,
                reserve: Some(Reserve { group: group.clone(), seed }),
                ..run.clone()
            });
        }
    }
    out
}

fn spec_error(spec: &StudySpec, message: String) -> StudyError {
    let path = spec.source.clone().unwrap_or_else(|| format!("preset {}", spec.name).into());
    StudyError::Spec { path, message }
}

/// Every combination of the settings' values, in file order.
fn combinations(settings: &[(String, Vec<toml::Value>)]) -> Vec<Vec<(String, toml::Value)>> {
    let mut out: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (key, values) in settings {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// A run's identity: its frozen config with the thread count left out (it never changes a result) and the
/// model named as the study names it (so a study folder keeps its runs when the model's folder moves).
/// A sentinel that only flags changes no result either, so it hashes as off: turning it on keeps a study's
/// runs; one that stops runs makes other runs.
pub fn identity_hash(config: &TrainConfig, model_name: &str) -> String {
    let sentinel = match config.sentinel {
        SentinelMode::Flag => SentinelMode::Off,
        mode => mode,
    };
    let c = TrainConfig { threads: 0, model: model_name.to_string(), sentinel, ..config.clone() };
    Sha256::digest(c.to_toml().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

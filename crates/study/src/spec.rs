//! `study.toml`: which runs a study is made of. Lists multiply: every model x task x recipe x swept setting x
//! seed is one run. Any setting of a run (the keys of a run's config.toml) may appear at the top level, as a
//! value or as a list to sweep, or under `[grid]`.

use crate::early_stop::EarlyStopping;
use crate::error::{Result, StudyError};
use serde::Serialize;
use stabletune_train::{Overrides, Recipe};
use std::path::{Path, PathBuf};
use toml::Value;

/// Keys of a study file that are not run settings.
const STUDY_KEYS: [&str; 13] = [
    "name",
    "model",
    "models",
    "task",
    "tasks",
    "recipe",
    "recipes",
    "seeds",
    "init_seeds",
    "data_seeds",
    "grid",
    "early_stopping",
    "max_restarts",
];
/// Run settings a study sets through its own keys.
const RESERVED: [&str; 3] = ["seed", "init_seed", "data_seed"];

/// How many workers run at once on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Workers {
    /// The measured best layout for the cores at hand (see [`Execution::layout`]).
    Auto,
    Fixed(usize),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Execution {
    pub workers: Workers,
    /// Threads of each worker (0 with `workers = "auto"`: chosen with the workers).
    pub threads_per_worker: usize,
    /// A claim seen unchanged (no heartbeat) for this long, by the reader's own clock, is taken over (its
    /// worker is presumed dead or stalled).
    pub stale_after_seconds: u64,
    /// The longest a worker with nothing to claim waits for runs of its shard held elsewhere or for an
    /// early-stopping decision while nothing it waits for moves (default: the stale limit plus 5 minutes,
    /// so a silent holder is taken over first). Then `study run` stops with exit status 4, naming the runs.
    pub max_wait_seconds: Option<u64>,
}

impl Default for Execution {
    fn default() -> Self {
        Execution {
            workers: Workers::Auto,
            threads_per_worker: 0,
            stale_after_seconds: 120,
            max_wait_seconds: None,
        }
    }
}

impl Execution {
    /// The wait bound in force ([`Execution::max_wait_seconds`]).
    pub fn max_wait(&self) -> u64 {
        self.max_wait_seconds.unwrap_or(self.stale_after_seconds + 300)
    }

    /// (workers, threads per worker) on a machine with `cores` cores. Auto: one single-threaded worker per
    /// core (all cores to one worker when there is one run). Measured on 2 cores with two MiniLM runs of SST-2
    /// (1000 examples, 3 epochs): 2 workers x 1 thread took 181 s for both, 1 worker x 2 threads 270 s (135 s
    /// a run), so two single-threaded workers finish 1.49x the runs an hour: a MiniLM-sized run's small
    /// matrix products and memory-bound element-wise passes use a second thread poorly.
    pub fn layout(&self, cores: usize, runs: usize) -> (usize, usize) {
        let cores = cores.max(1);
        match (self.workers, self.threads_per_worker) {
            (Workers::Fixed(w), 0) => (w, (cores / w).max(1)),
            (Workers::Fixed(w), t) => (w, t),
            (Workers::Auto, 0) => {
                let w = cores.min(runs.max(1));
                (w, (cores / w).max(1))
            }
            (Workers::Auto, t) => ((cores / t).max(1), t),
        }
    }
}

/// The seeds of every configuration: the same number for the init and data seed (`seeds`), or Dodge et
/// al.'s grid of every init seed with every data seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Seeds {
    Paired(Vec<u64>),
    Grid { init: Vec<u64>, data: Vec<u64> },
}

impl Seeds {
    pub fn pairs(&self) -> Vec<(u64, u64)> {
        match self {
            Seeds::Paired(s) => s.iter().map(|&s| (s, s)).collect(),
            Seeds::Grid { init, data } => {
                init.iter().flat_map(|&i| data.iter().map(move |&d| (i, d))).collect()
            }
        }
    }
}

/// A parsed study file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StudySpec {
    pub name: String,
    /// Model folders or Hub ids, as written (`None`: the built-in default model).
    pub models: Vec<Option<String>>,
    pub tasks: Vec<String>,
    pub recipes: Vec<Recipe>,
    pub seeds: Seeds,
    /// Every other run setting: its values (one, or several to sweep), in file order.
    pub settings: Vec<(String, Vec<Value>)>,
    pub execution: Execution,
    /// Dodge et al.'s early stopping (`[early_stopping]`), when the study uses it.
    pub early_stopping: Option<EarlyStopping>,
    /// `sentinel = "restart"`: the most runs the sentinel's stopped runs are replaced with, per
    /// configuration (`max_restarts`, default: the number of seeds). Its runs have `sentinel = "stop"`.
    pub restart: Option<usize>,
    /// The file it came from (`None`: a preset).
    pub source: Option<PathBuf>,
    /// The text it was parsed from.
    pub text: String,
}

fn err(path: &Path, message: impl Into<String>) -> StudyError {
    StudyError::Spec { path: path.to_path_buf(), message: message.into() }
}

/// Strings or a list of them.
fn strings(path: &Path, key: &str, v: &Value) -> Result<Vec<String>> {
    let one = |v: &Value| {
        v.as_str().map(str::to_string).ok_or_else(|| err(path, format!("{key}: expected text, got {v}")))
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

/// `"1..25"` (inclusive), a number, or a list of numbers.
pub fn parse_seeds(path: &Path, key: &str, v: &Value) -> Result<Vec<u64>> {
    let bad = || err(path, format!("{key}: expected \"a..b\", a number or a list of numbers, got {v}"));
    let seeds = match v {
        Value::String(s) => {
            let (a, b) = s.split_once("..").ok_or_else(bad)?;
            let (a, b): (u64, u64) =
                (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
            if a > b {
                return Err(err(path, format!("{key}: {s:?} is an empty range")));
            }
            (a..=b).collect()
        }
        Value::Integer(i) if *i >= 0 => vec![*i as u64],
        Value::Array(items) => items
            .iter()
            .map(|x| x.as_integer().filter(|i| *i >= 0).map(|i| i as u64).ok_or_else(bad))
            .collect::<Result<_>>()?,
        _ => return Err(bad()),
    };
    let mut unique = seeds.clone();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != seeds.len() {
        return Err(err(path, format!("{key}: a seed is listed twice")));
    }
    Ok(seeds)
}

/// Whether `value` of setting `key` is a list of values to sweep rather than one value. `labels` is itself
/// a list, so only a list of lists sweeps it.
fn is_sweep(key: &str, value: &Value) -> bool {
    match value {
        Value::Array(items) if key == "labels" => items.iter().all(|i| i.is_array()),
        Value::Array(_) => true,
        _ => false,
    }
}

/// Checks that `key = value` is a run setting of the right type, naming the file on error.
fn check_setting(path: &Path, key: &str, value: &Value) -> Result<()> {
    if RESERVED.contains(&key) {
        return Err(err(path, format!("{key}: give seeds with `seeds`, or `init_seeds` and `data_seeds`")));
    }
    let mut table = toml::Table::new();
    table.insert(key.to_string(), value.clone());
    Overrides::deserialize(table)
        .map(|_| ())
        .map_err(|e| err(path, format!("{key}: {}", e.message().trim_end())))
}

use serde::Deserialize;

impl StudySpec {
    pub fn from_file(path: &Path) -> Result<StudySpec> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| StudyError::Io { path: path.to_path_buf(), source })?;
        let mut spec = StudySpec::parse(path, &text)?;
        spec.source = Some(path.to_path_buf());
        Ok(spec)
    }

    /// Parses study text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<StudySpec> {
        let table: toml::Table =
            stabletune_train::config::parse_toml(path, text).map_err(|m| err(path, m))?;
        let mut execution = Execution::default();
        let mut settings: Vec<(String, Vec<Value>)> = Vec::new();
        let get = |k: &str| table.get(k);
        let name = match get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(v) => return Err(err(path, format!("name: expected text, got {v}"))),
            None => return Err(err(path, "a study needs a `name`")),
        };
        let either = |a: &str, b: &str| -> Result<Option<&Value>> {
            match (get(a), get(b)) {
                (Some(_), Some(_)) => Err(err(path, format!("give `{a}` or `{b}`, not both"))),
                (x, y) => Ok(x.or(y)),
            }
        };
        let models = match either("model", "models")? {
            Some(v) => strings(path, "models", v)?.into_iter().map(Some).collect(),
            None => vec![None],
        };
        let tasks = match either("task", "tasks")? {
            Some(v) => strings(path, "tasks", v)?,
            None => return Err(err(path, "a study needs `tasks`")),
        };
        let recipes = match either("recipe", "recipes")? {
            Some(v) => strings(path, "recipes", v)?
                .iter()
                .map(|r| r.parse::<Recipe>().map_err(|e| err(path, format!("recipes: {e}"))))
                .collect::<Result<_>>()?,
            None => vec![Recipe::Mosbach2021],
        };
        let seeds = match (get("seeds"), get("init_seeds"), get("data_seeds")) {
            (Some(s), None, None) => Seeds::Paired(parse_seeds(path, "seeds", s)?),
            (None, Some(i), Some(d)) => Seeds::Grid {
                init: parse_seeds(path, "init_seeds", i)?,
                data: parse_seeds(path, "data_seeds", d)?,
            },
            (None, None, None) => {
                return Err(err(path, "a study needs `seeds` (or `init_seeds` and `data_seeds`)"))
            }
            _ => return Err(err(path, "give `seeds`, or both `init_seeds` and `data_seeds`")),
        };
        for (key, value) in &table {
            match key.as_str() {
                k if STUDY_KEYS.contains(&k) => {}
                "execution" => execution = parse_execution(path, value)?,
                _ => {
                    let values = if is_sweep(key, value) {
                        value.as_array().cloned().unwrap_or_default()
                    } else {
                        vec![value.clone()]
                    };
                    for v in &values {
                        check_setting(path, key, v)?;
                    }
                    settings.push((key.clone(), values));
                }
            }
        }
        if let Some(grid) = get("grid") {
            let Value::Table(grid) = grid else { return Err(err(path, "[grid]: expected a table")) };
            for (key, value) in grid {
                if settings.iter().any(|(k, _)| k == key) {
                    return Err(err(path, format!("{key} is set both at the top level and in [grid]")));
                }
                let values = match value {
                    Value::Array(items) if is_sweep(key, value) => items.clone(),
                    v => {
                        return Err(err(
                            path,
                            format!("[grid] {key}: expected a list of values to sweep, got {v}"),
                        ))
                    }
                };
                for v in &values {
                    check_setting(path, key, v)?;
                }
                settings.push((key.clone(), values));
            }
        }
        let early_stopping = match get("early_stopping") {
            Some(v) => {
                let es = EarlyStopping::parse(path, v, seeds.pairs().len())?;
                if settings.iter().any(|(k, _)| k == "evals_per_epoch") {
                    return Err(err(
                        path,
                        "evals_per_epoch: set it in [early_stopping] when the study stops early",
                    ));
                }
                // Every run evaluates as often as the schedule needs.
                settings.push(("evals_per_epoch".into(), vec![Value::Integer(es.evals_per_epoch as i64)]));
                Some(es)
            }
            None => None,
        };
        let restart = parse_restart(path, &table, &mut settings, &seeds, early_stopping.is_some())?;
        if let Some((key, _)) = settings.iter().find(|(_, v)| v.is_empty()) {
            return Err(err(path, format!("{key}: an empty list leaves no runs")));
        }
        if tasks.is_empty() || recipes.is_empty() || models.is_empty() || seeds.pairs().is_empty() {
            return Err(err(path, "the grid is empty: every list needs at least one value"));
        }
        Ok(StudySpec {
            name,
            models,
            tasks,
            recipes,
            seeds,
            settings,
            execution,
            early_stopping,
            restart,
            source: None,
            text: text.to_string(),
        })
    }

    /// Settings swept over more than one value (they name a configuration).
    pub fn swept(&self) -> Vec<&str> {
        self.settings.iter().filter(|(_, v)| v.len() > 1).map(|(k, _)| k.as_str()).collect()
    }
}

/// `sentinel = "restart"` and `max_restarts`: the study's runs get `sentinel = "stop"`, and the study
/// replaces each run the sentinel stops ([`crate::restarts`]).
fn parse_restart(
    path: &Path,
    table: &toml::Table,
    settings: &mut [(String, Vec<Value>)],
    seeds: &Seeds,
    early_stopping: bool,
) -> Result<Option<usize>> {
    let restart = Value::String("restart".into());
    let sentinel = settings.iter_mut().find(|(k, _)| k == "sentinel");
    let on = match sentinel {
        Some((_, values)) if values.contains(&restart) => {
            if values.len() > 1 {
                return Err(err(path, "sentinel: \"restart\" cannot be swept with other settings"));
            }
            values[0] = Value::String("stop".into());
            true
        }
        _ => false,
    };
    let max = match table.get("max_restarts") {
        None => None,
        Some(Value::Integer(n)) if *n > 0 && on => Some(*n as usize),
        Some(_) if !on => return Err(err(path, "max_restarts needs sentinel = \"restart\"")),
        Some(v) => return Err(err(path, format!("max_restarts: expected a positive number, got {v}"))),
    };
    if !on {
        return Ok(None);
    }
    let Seeds::Paired(list) = seeds else {
        return Err(err(path, "sentinel = \"restart\" replaces a run with the next seed: it needs `seeds`"));
    };
    if early_stopping {
        return Err(err(path, "sentinel = \"restart\" and [early_stopping] cannot be combined"));
    }
    Ok(Some(max.unwrap_or(list.len())))
}

fn parse_execution(path: &Path, value: &Value) -> Result<Execution> {
    let Value::Table(t) = value else { return Err(err(path, "[execution]: expected a table")) };
    let mut e = Execution::default();
    for (key, v) in t {
        let count = || {
            v.as_integer()
                .filter(|i| *i > 0)
                .map(|i| i as usize)
                .ok_or_else(|| err(path, format!("[execution] {key}: expected a positive number, got {v}")))
        };
        match key.as_str() {
            "workers" => {
                e.workers = match v {
                    Value::String(s) if s == "auto" => Workers::Auto,
                    _ => Workers::Fixed(count()?),
                }
            }
            "threads_per_worker" => e.threads_per_worker = count()?,
            "stale_after_seconds" => e.stale_after_seconds = count()? as u64,
            "max_wait_seconds" => e.max_wait_seconds = Some(count()? as u64),
            _ => {
                return Err(err(
                    path,
                    format!(
                        "[execution]: unknown key {key:?} (workers, threads_per_worker, stale_after_seconds, \
                         max_wait_seconds)"
                    ),
                ))
            }
        }
    }
    Ok(e)
}

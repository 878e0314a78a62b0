//! Which runs belong together: a task and a configuration, the settings that differ between runs
//! other than their seeds.

use crate::error::{ReportError, Result};
use crate::load::RunData;
use std::collections::{BTreeMap, BTreeSet};

/// Settings that never define a configuration: the seeds (a configuration is what the seeds vary
/// over), the task (rows are per task anyway), and settings that do not change a run's numbers.
const NOT_CONFIGURATION: &[&str] = &[
    "task",
    "seed",
    "init_seed",
    "data_seed",
    "threads",
    "data_dir",
    "train_file",
    "dev_file",
    "dataset",
    "dataset_revision",
    "log_every",
    "checkpoint_every",
    "grad_norms_every",
];

/// Keys tried first, so that a label reads "mosbach2021" rather than "bias_correction=true, epochs=20".
const FIRST: &[&str] = &["model", "recipe"];

/// The runs of one task under one configuration.
#[derive(Clone, Debug)]
pub struct Group {
    pub task: String,
    pub configuration: String,
    /// The metric the table reports for the task (the paper's: RTE acc, MRPC F1, CoLA MCC, STS-B Pearson).
    pub metric: String,
    /// Indices into the runs, in run order.
    pub runs: Vec<usize>,
}

/// The keys that name configurations. Given keys are checked against the runs' settings; without
/// them, the fewest settings that tell apart all runs other than by seed: model and recipe first,
/// then the others alphabetically, each kept only if it separates runs the keys before it do not
/// (so a recipe's own epochs and bias correction add nothing to its name).
pub fn group_keys(runs: &[RunData], given: Option<&[String]>) -> Result<Vec<String>> {
    let known: BTreeSet<&str> = runs.iter().flat_map(|r| r.settings.keys().map(String::as_str)).collect();
    if let Some(keys) = given {
        for k in keys {
            if !known.contains(k.as_str()) {
                let list: Vec<&str> = known.iter().copied().collect();
                return Err(ReportError::Input(format!(
                    "--group-by {k}: no run has this setting; the settings are: {}",
                    list.join(", ")
                )));
            }
        }
        return Ok(keys.to_vec());
    }
    let mut order: Vec<&str> = FIRST.iter().copied().filter(|k| known.contains(k)).collect();
    order.extend(known.iter().copied().filter(|k| !FIRST.contains(k) && !NOT_CONFIGURATION.contains(k)));
    let mut chosen: Vec<String> = Vec::new();
    for key in order {
        // Does `key` take two values among runs of one task that agree on every chosen key?
        let mut seen: BTreeMap<(String, Vec<String>), &str> = BTreeMap::new();
        let separates = runs.iter().any(|r| {
            let id = (r.task.clone(), chosen.iter().map(|k| value(r, k).to_string()).collect());
            let v = value(r, key);
            *seen.entry(id).or_insert(v) != v
        });
        if separates {
            chosen.push(key.to_string());
        }
    }
    Ok(chosen)
}

fn value<'a>(run: &'a RunData, key: &str) -> &'a str {
    run.settings.get(key).map(String::as_str).unwrap_or("-")
}

/// A configuration's name: recipe and model by value (a model by its folder's last part), any other
/// key as `key=value`; "all runs" when nothing varies.
pub fn label(run: &RunData, keys: &[String]) -> String {
    if keys.is_empty() {
        return "all runs".into();
    }
    keys.iter()
        .map(|k| {
            let v = value(run, k);
            match k.as_str() {
                "recipe" => v.to_string(),
                "model" => v.trim_end_matches('/').rsplit('/').next().unwrap_or(v).to_string(),
                _ => format!("{k}={v}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The metric of Table 1 for a task, when the runs have it; else the runs' headline metric.
pub fn paper_metric(task: &str, runs: &[&RunData]) -> String {
    let preferred = match task {
        "rte" | "sst-2" | "qnli" | "wnli" | "scitail" | "mnli" | "mnli-mm" => "acc",
        "mrpc" | "qqp" => "f1",
        "cola" => "mcc",
        "sts-b" => "pearson",
        _ => "",
    };
    if !preferred.is_empty() && runs.iter().any(|r| r.final_metrics.contains_key(preferred)) {
        return preferred.to_string();
    }
    runs.iter().find_map(|r| r.headline_metric.clone()).unwrap_or_else(|| "acc".into())
}

/// The tasks of `groups`, in their order (groups of one task are together).
pub fn tasks(groups: &[Group]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for g in groups {
        if out.last() != Some(&g.task.as_str()) {
            out.push(&g.task);
        }
    }
    out
}

/// Groups in order of first appearance (runs are sorted by folder name).
pub fn make_groups(runs: &[RunData], keys: &[String]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let configuration = label(run, keys);
        match groups.iter_mut().find(|g| g.task == run.task && g.configuration == configuration) {
            Some(g) => g.runs.push(i),
            None => groups.push(Group {
                task: run.task.clone(),
                configuration,
                metric: String::new(),
                runs: vec![i],
            }),
        }
    }
    // Tasks in order of first appearance; each task's metric is chosen once, from all its runs.
    let mut tasks: Vec<(String, String)> = Vec::new();
    for g in &groups {
        if !tasks.iter().any(|(t, _)| *t == g.task) {
            let of_task: Vec<&RunData> = runs.iter().filter(|r| r.task == g.task).collect();
            tasks.push((g.task.clone(), paper_metric(&g.task, &of_task)));
        }
    }
    for g in &mut groups {
        g.metric = tasks.iter().find(|(t, _)| *t == g.task).map(|(_, m)| m.clone()).unwrap_or_default();
    }
    // Tasks together, each task's configurations in order of appearance (a stable sort).
    groups.sort_by_key(|g| tasks.iter().position(|(t, _)| *t == g.task));
    groups
}

//! Reading runs from the run store's files only (`config.toml`, `summary.json`, `metrics.jsonl`), so a
//! report can be made of studies run anywhere, by any version that writes these files.

use crate::error::{format_error, io, ReportError, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One update's line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub step: u64,
    pub loss: f64,
    pub lr: Option<f64>,
    pub grad_norm: Option<f64>,
}

/// One evaluation's line.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalRecord {
    pub step: u64,
    pub metrics: BTreeMap<String, f64>,
}

/// A run as its files describe it.
#[derive(Clone, Debug, Default)]
pub struct RunData {
    pub dir: PathBuf,
    /// The folder's name.
    pub name: String,
    /// Every setting of `config.toml`, as text (`model` as written, floats at 6 significant digits).
    pub settings: BTreeMap<String, String>,
    /// The task as `config.toml` names it (lower case).
    pub task: String,
    /// `summary.json`'s status, or "unfinished" for a run without a summary (not started, or running).
    pub status: String,
    pub init_seed: Option<u64>,
    pub data_seed: Option<u64>,
    pub headline_metric: Option<String>,
    pub final_metrics: BTreeMap<String, f64>,
    pub best_metrics: BTreeMap<String, f64>,
    pub best_step: Option<u64>,
    pub majority_baseline: Option<f64>,
    /// Every metric of the majority-class prediction, when the run recorded them (MRPC's F1 as well
    /// as its headline acc_and_f1).
    pub majority_metrics: BTreeMap<String, f64>,
    /// Dodge et al.'s failed run, as the run recorded it (diverged, or at or below the baseline).
    pub failed: Option<bool>,
    pub steps: Option<u64>,
    pub total_steps: Option<u64>,
    pub wall_seconds: Option<f64>,
    pub train: Vec<StepRecord>,
    pub evals: Vec<EvalRecord>,
    /// Per-matrix gradient norms (before clipping) at the updates that logged them.
    pub grad_norms: Vec<(u64, BTreeMap<String, f64>)>,
    /// Lines of `metrics.jsonl` left out: a last line cut short by a killed process.
    pub skipped_lines: usize,
    /// The failure sentinel's warning, when it flagged the run: (update, share of training, the evidence in
    /// words).
    pub sentinel_flag: Option<(u64, f64, String)>,
    /// In a study with `sentinel = "restart"`: the run this one replaced, or the run that replaced this one
    /// (from the study's `restarts/` slots).
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
}

impl RunData {
    /// Whether the run ended for good (completed, early-stopped, stopped by a schedule or diverged).
    pub fn ended(&self) -> bool {
        !matches!(self.status.as_str(), "unfinished" | "interrupted")
    }

    /// Whether the run ended with a final model: completed, or stopped by its own patience rule. Only
    /// these have a final metric; a diverged run has none and a run stopped by a study's schedule was
    /// cut short by a rule outside it.
    pub fn has_final_model(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "early_stopped")
    }

    /// Whether the run was stopped by a study's early-stopping schedule without failing first: neither
    /// a success nor a failure.
    pub fn stopped_by_schedule(&self) -> bool {
        self.status == "stopped_by_schedule" && self.failed != Some(true)
    }

    /// Whether the run ended with a judged outcome: a final model, diverged, stopped by the failure
    /// sentinel (failed), or stopped by a schedule because it had fallen to the majority baseline (failed). These are the runs whose failures are
    /// counted.
    pub fn judged(&self) -> bool {
        self.has_final_model()
            || self.status == "diverged"
            || self.status == "stopped_by_sentinel"
            || (self.status == "stopped_by_schedule" && self.failed == Some(true))
    }
}

/// The runs under `paths`: each path is a run directory (it holds `config.toml`), a study directory
/// (its `runs/` folder is read) or a folder of run directories. Sorted by folder name; a folder
/// named twice is read once.
pub fn load_runs(paths: &[PathBuf]) -> Result<Vec<RunData>> {
    let mut dirs = Vec::new();
    for path in paths {
        if !path.is_dir() {
            return Err(ReportError::Input(format!("{}: not a directory", path.display())));
        }
        let found = run_dirs(path)?;
        if found.is_empty() {
            return Err(ReportError::Input(format!(
                "{}: no run directories (folders with a config.toml) in it, in its runs/ folder or below",
                path.display()
            )));
        }
        dirs.extend(found);
    }
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|d| seen.insert(d.canonicalize().unwrap_or_else(|_| d.clone())));
    let mut runs = dirs.iter().map(|d| load_run(d)).collect::<Result<Vec<_>>>()?;
    for path in paths.iter().filter(|p| p.join("runs").is_dir()) {
        apply_restarts(path, &mut runs);
    }
    runs.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.dir.cmp(&b.dir)));
    Ok(runs)
}

/// The study's restart slots (`restarts/<group>/<replacement>.json`, written by `sentinel = "restart"`)
/// applied to its runs: which run replaced which.
pub fn apply_restarts(study_root: &Path, runs: &mut [RunData]) {
    let Ok(groups) = std::fs::read_dir(study_root.join("restarts")) else { return };
    let mut pairs = Vec::new();
    for g in groups.flatten() {
        let Ok(files) = std::fs::read_dir(g.path()) else { continue };
        for f in files.flatten().filter(|f| f.path().extension().is_some_and(|e| e == "json")) {
            let Some(v) =
                std::fs::read_to_string(f.path()).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok())
            else {
                continue;
            };
            if let (Some(old), Some(new)) = (v["replaced"].as_str(), v["replacement"].as_str()) {
                pairs.push((old.to_string(), new.to_string()));
            }
        }
    }
    for (old, new) in pairs {
        for run in runs.iter_mut() {
            if run.name == old {
                run.replaced_by = Some(new.clone());
            }
            if run.name == new {
                run.replaces = Some(old.clone());
            }
        }
    }
}

fn run_dirs(path: &Path) -> Result<Vec<PathBuf>> {
    if path.join("config.toml").is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let parent = if path.join("runs").is_dir() { path.join("runs") } else { path.to_path_buf() };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&parent).map_err(io(&parent))? {
        let entry = entry.map_err(io(&parent))?;
        let p = entry.path();
        if p.is_dir() && p.join("config.toml").is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one run directory.
pub fn load_run(dir: &Path) -> Result<RunData> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let config_path = dir.join("config.toml");
    let text = std::fs::read_to_string(&config_path).map_err(io(&config_path))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| text[..s.start].lines().count().max(1));
        format_error(&config_path, line, e.message().to_string())
    })?;
    let settings: BTreeMap<String, String> =
        table.iter().map(|(k, v)| (k.clone(), setting_text(v))).collect();
    let task = settings
        .get("task")
        .cloned()
        .ok_or_else(|| format_error(&config_path, None, "no `task` setting"))?
        .to_lowercase();
    let mut run = RunData {
        dir: dir.to_path_buf(),
        name,
        init_seed: table.get("init_seed").and_then(|v| v.as_integer()).map(|v| v as u64),
        data_seed: table.get("data_seed").and_then(|v| v.as_integer()).map(|v| v as u64),
        settings,
        task,
        status: "unfinished".into(),
        ..Default::default()
    };
    let summary_path = dir.join("summary.json");
    if summary_path.is_file() {
        read_summary(&summary_path, &mut run)?;
    }
    let metrics_path = dir.join("metrics.jsonl");
    if metrics_path.is_file() {
        read_metrics(&metrics_path, &mut run)?;
    }
    Ok(run)
}

fn read_summary(path: &Path, run: &mut RunData) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format_error(path, Some(e.line()), e.to_string()))?;
    let status = v["status"].as_str().ok_or_else(|| format_error(path, None, "no `status` string"))?;
    run.status = status.to_string();
    run.headline_metric = v["headline_metric"].as_str().map(str::to_string);
    run.final_metrics = metric_map(path, &v["final_metrics"])?;
    run.best_metrics = metric_map(path, &v["best_metrics"])?;
    run.best_step = v["best_step"].as_u64();
    run.majority_baseline = v["majority_baseline"].as_f64();
    run.majority_metrics = metric_map(path, &v["majority_metrics"])?;
    run.failed = v["failed"].as_bool();
    run.steps = v["steps"].as_u64();
    run.total_steps = v["total_steps"].as_u64();
    run.wall_seconds = v["wall_seconds"].as_f64();
    run.init_seed = v["init_seed"].as_u64().or(run.init_seed);
    run.data_seed = v["data_seed"].as_u64().or(run.data_seed);
    if let Some(w) = v.get("sentinel_warning").filter(|w| w.is_object()) {
        let num = |k: &str| {
            w[k].as_f64().ok_or_else(|| format_error(path, None, format!("sentinel_warning: no `{k}`")))
        };
        let step =
            w["step"].as_u64().ok_or_else(|| format_error(path, None, "sentinel_warning: no `step`"))?;
        let fraction = num("fraction")?;
        let words = format!(
            "flagged at update {step} ({:.0}% of training): training loss {:.4}, {:.2} times the constant-prediction \
             loss; lower layers' gradient norm {:.2} times its first-updates value",
            100.0 * fraction,
            num("loss_mean")?,
            num("loss_ratio")?,
            num("lower_growth")?
        );
        run.sentinel_flag = Some((step, fraction, words));
    }
    Ok(())
}

fn metric_map(path: &Path, v: &Value) -> Result<BTreeMap<String, f64>> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| {
                x.as_f64()
                    .map(|x| (k.clone(), x))
                    .ok_or_else(|| format_error(path, None, format!("metric `{k}` is not a number: {x}")))
            })
            .collect(),
        other => Err(format_error(path, None, format!("expected an object of metrics, found {other}"))),
    }
}

/// One line per update and per evaluation; a resumed run's log is rebuilt by the trainer, but a
/// later line for the same step replaces an earlier one all the same. A last line without its
/// newline (the process was killed while writing it) is skipped and counted; any other line that
/// is not JSON is an error naming the line.
fn read_metrics(path: &Path, run: &mut RunData) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut train: BTreeMap<u64, StepRecord> = BTreeMap::new();
    let mut evals: BTreeMap<u64, EvalRecord> = BTreeMap::new();
    let mut norms: BTreeMap<u64, BTreeMap<String, f64>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) if i + 1 == lines.len() && !complete => {
                run.skipped_lines += 1;
                continue;
            }
            Err(e) => return Err(format_error(path, Some(i + 1), e.to_string())),
        };
        let step = v["step"].as_u64().ok_or_else(|| format_error(path, Some(i + 1), "no `step`"))?;
        if v.get("eval").is_some() {
            let metrics = metric_map(path, &v["eval"])
                .map_err(|_| format_error(path, Some(i + 1), "`eval` is not an object of numbers"))?;
            evals.insert(step, EvalRecord { step, metrics });
            continue;
        }
        if let Some(loss) = v["loss"].as_f64() {
            train.insert(
                step,
                StepRecord { step, loss, lr: v["lr"].as_f64(), grad_norm: v["grad_norm"].as_f64() },
            );
        } else if !v["loss"].is_null() {
            return Err(format_error(path, Some(i + 1), "`loss` is not a number"));
        }
        if let Some(g) = v.get("grad_norms") {
            let m = metric_map(path, g)
                .map_err(|_| format_error(path, Some(i + 1), "`grad_norms` is not an object of numbers"))?;
            norms.insert(step, m);
        }
    }
    run.train = train.into_values().collect();
    run.evals = evals.into_values().collect();
    run.grad_norms = norms.into_iter().collect();
    Ok(())
}

/// Each encoder layer's gradient norm (from 0): the L2 norm of all its logged weight-matrix gradients
/// together, from per-matrix norms named as Hugging Face names them (`...layer.<n>....`).
pub fn layer_grad_norms(norms: &BTreeMap<String, f64>) -> BTreeMap<usize, f64> {
    let mut sq: BTreeMap<usize, f64> = BTreeMap::new();
    for (name, v) in norms {
        let Some(rest) = name.split(".layer.").nth(1) else { continue };
        let Some(n) = rest.split('.').next().and_then(|n| n.parse::<usize>().ok()) else { continue };
        *sq.entry(n).or_default() += v * v;
    }
    sq.into_iter().map(|(k, v)| (k, v.sqrt())).collect()
}

/// A setting as text: strings as written, numbers short (6 significant digits, so that the f32
/// dropout 0.10000000149011612 reads 0.1), arrays and tables as TOML.
fn setting_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(x) => short_number(*x),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// A number at 6 significant digits, without trailing zeros (`2e-5`, `0.1`, `1`).
pub fn short_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let rounded: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    let plain = format!("{rounded}");
    let sci = format!("{rounded:e}");
    if sci.len() < plain.len() {
        sci
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_short() {
        assert_eq!(short_number(0.10000000149011612), "0.1");
        assert_eq!(short_number(0.00002), "2e-5");
        assert_eq!(short_number(1.0), "1");
        assert_eq!(short_number(0.999), "0.999");
        assert_eq!(short_number(1e-6), "1e-6");
    }
}

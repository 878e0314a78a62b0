//! Synthetic run directories in the run store's format, with values the tests choose.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub struct FakeRun<'a> {
    pub task: &'a str,
    pub recipe: &'a str,
    pub lr: f64,
    pub init_seed: u64,
    pub data_seed: u64,
    /// The final headline metric (None: diverged).
    pub value: Option<f64>,
    pub baseline: f64,
    pub metric: &'a str,
    pub steps: u64,
    /// A status other than the one the value implies (completed, or diverged without a value).
    pub status: Option<&'a str>,
    /// Whether the task has a majority baseline (not for regression: STS-B).
    pub has_baseline: bool,
}

impl<'a> FakeRun<'a> {
    pub fn new(task: &'a str, recipe: &'a str, seed: u64, value: f64) -> FakeRun<'a> {
        FakeRun {
            task,
            recipe,
            lr: 2e-5,
            init_seed: seed,
            data_seed: seed,
            value: Some(value),
            baseline: 0.5,
            metric: "acc",
            steps: 30,
            status: None,
            has_baseline: true,
        }
    }
}

/// Writes the run under `root/runs/<name>/` and returns its folder.
pub fn write_run(root: &Path, run: &FakeRun) -> PathBuf {
    let bias = run.recipe == "mosbach2021";
    let name = format!("{}-{}-s{}-{}-lr{}", run.task, run.recipe, run.init_seed, run.data_seed, run.lr);
    let dir = root.join("runs").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "model = \"models/tiny\"\ntask = \"{}\"\nrecipe = \"{}\"\ninit_seed = {}\ndata_seed = {}\nsample_seed = 0\n\
         epochs = {}\nlr = {:e}\nadam_beta1 = 0.9\nadam_beta2 = 0.999\nbias_correction = {}\nhidden_dropout = 0.10000000149011612\nthreads = 1\n",
        run.task,
        run.recipe,
        run.init_seed,
        run.data_seed,
        if bias { 20 } else { 3 },
        run.lr,
        bias
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let (status, failed, finals) = match run.value {
        Some(v) => ("completed", (v <= run.baseline).to_string(), format!("{{\"{}\": {v}}}", run.metric)),
        None => ("diverged", "true".to_string(), "{}".to_string()),
    };
    let status = run.status.unwrap_or(status);
    // As the trainer records them: no outcome for a run stopped by a schedule, none without a baseline.
    let failed =
        if status == "stopped_by_schedule" || !run.has_baseline { "null".to_string() } else { failed };
    let baseline = if run.has_baseline { run.baseline.to_string() } else { "null".to_string() };
    let summary = format!(
        "{{\"status\": \"{status}\", \"task\": \"{}\", \"recipe\": \"{}\", \"init_seed\": {}, \"data_seed\": {}, \
         \"headline_metric\": \"{}\", \"final_metrics\": {finals}, \"best_metrics\": {finals}, \"best_step\": {}, \
         \"majority_baseline\": {}, \"failed\": {failed}, \"steps\": {}, \"total_steps\": {}, \"wall_seconds\": 12.5}}",
        run.task.to_uppercase(),
        run.recipe,
        run.init_seed,
        run.data_seed,
        run.metric,
        run.steps,
        baseline,
        run.steps,
        run.steps
    );
    std::fs::write(dir.join("summary.json"), summary).unwrap();
    let mut log = String::new();
    log.push_str(&format!("{{\"epoch\":0.0,\"eval\":{{\"{}\":0.45}},\"step\":0}}\n", run.metric));
    let end = run.value.unwrap_or(0.5);
    for step in 1..=run.steps {
        let loss = 0.7 - 0.01 * step as f64 * (end - 0.5).max(0.0) * 2.0;
        log.push_str(&format!(
            "{{\"epoch\":0.1,\"grad_norm\":1.5,\"loss\":{loss},\"lr\":0.00001,\"step\":{step}"
        ));
        if step % 10 == 1 {
            log.push_str(",\"grad_norms\":{\"bert.encoder.layer.0.output.dense.weight\":0.3,\"bert.encoder.layer.0.intermediate.dense.weight\":0.4,\"bert.encoder.layer.1.output.dense.weight\":0.05}");
        }
        log.push_str("}\n");
        if step == run.steps / 3 {
            let early = 0.5 + (end - 0.5) * 0.8;
            log.push_str(&format!(
                "{{\"epoch\":1.0,\"eval\":{{\"{}\":{early}}},\"step\":{step}}}\n",
                run.metric
            ));
        }
    }
    if let Some(v) = run.value {
        log.push_str(&format!(
            "{{\"epoch\":3.0,\"eval\":{{\"{}\":{v}}},\"step\":{}}}\n",
            run.metric, run.steps
        ));
    }
    std::fs::write(dir.join("metrics.jsonl"), log).unwrap();
    dir
}

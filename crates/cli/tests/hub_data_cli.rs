//! `stabletune train` and `data stats` on data from the Hugging Face Hub cache (offline) and from
//! Parquet/Arrow files give the very runs and statistics of the GLUE TSV files with the same rows.
//! Fixtures: tools/make_hub_data_fixtures.py (the first rows of the shipped TSVs).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub-data")
}

/// The binary with the fixture cache as the Hub cache and downloads off.
fn stabletune(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stabletune"))
        .args(args)
        .env("HF_HUB_CACHE", cache)
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("GLUE_DIR")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The first rows of a shipped GLUE task, as the fixtures were made from.
fn tsv_subset(task: &str, train: usize, dev: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/assets/glue").join(task);
    for (file, rows) in [("train.tsv", train), ("dev.tsv", dev)] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let head: String = text.lines().take(rows + 1).map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.path().join(file), head).unwrap();
    }
    dir
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// A short run; returns its summary.
fn train(data: &[&str], run: &Path, cache: &Path) -> serde_json::Value {
    let mut args =
        vec!["train", "--recipe", "devlin2019", "--max-steps", "3", "--train-limit", "48", "--seed", "2"];
    args.extend_from_slice(data);
    args.extend_from_slice(&["--out", run.to_str().unwrap()]);
    let o = stabletune(&args, cache);
    assert!(o.status.success(), "{}", text(&o));
    summary(run)
}

/// What must be equal between two runs on the same data.
fn same_run(a: &serde_json::Value, b: &serde_json::Value) {
    for key in ["train_sample_sha256", "majority_baseline", "final_metrics", "best_metrics", "steps"] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert!(a["train_sample_sha256"].is_string() && a["final_metrics"].is_object(), "{a}");
}

#[test]
fn runs_on_hub_and_columnar_data_are_the_tsv_runs() {
    let cache = fixtures().join("hub");
    let out = tempfile::tempdir().unwrap();
    let rte = tsv_subset("RTE", 96, 64);
    let tsv = train(
        &["--task", "rte", "--data-dir", rte.path().to_str().unwrap()],
        &out.path().join("tsv"),
        &cache,
    );
    let hub = train(&["--task", "rte", "--dataset", "nyu-mll/glue"], &out.path().join("hub"), &cache);
    same_run(&tsv, &hub);
    let config = std::fs::read_to_string(out.path().join("hub/config.toml")).unwrap();
    assert!(config.contains("dataset = \"nyu-mll/glue\""), "{config}");

    // SST-2 from the `datasets` cache's Arrow file and a Hub Parquet file given as files.
    let sst = tsv_subset("SST-2", 128, 64);
    let tsv = train(
        &["--task", "sst-2", "--data-dir", sst.path().to_str().unwrap()],
        &out.path().join("s1"),
        &cache,
    );
    let arrow = fixtures().join("cache-arrow/sst2-train.arrow");
    let dev = fixtures()
        .join("hub/datasets--nyu-mll--glue/snapshots/958bd6e8abb417576d0a8e97d9b70366798d0e8f")
        .join("sst2/validation-00000-of-00001.parquet");
    let own = train(
        &[
            "--task",
            "sst2-own",
            "--train-file",
            arrow.to_str().unwrap(),
            "--dev-file",
            dev.to_str().unwrap(),
            "--text-a-column",
            "sentence",
        ],
        &out.path().join("s2"),
        &cache,
    );
    same_run(&tsv, &own);
}

/// The lines of `data stats` that must agree for labelled splits (split names aside: `dev` is the
/// Hub's `validation`): rows and labels, token lengths, the baseline.
fn stats_lines(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "{}", text(o));
    let mut out = Vec::new();
    let mut labelled = false;
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        if let Some((_, rest)) = line.split_once(": ").filter(|_| line.contains(" rows")) {
            labelled = line.contains("rows;");
            if labelled {
                out.push(rest.to_string());
            }
        } else if (line.contains("tokens:") && labelled) || line.contains("baseline") {
            out.push(line.to_string());
        }
    }
    out
}

#[test]
fn data_stats_on_the_hub_and_on_files_match_the_tsv_files() {
    let cache = fixtures().join("hub");
    let rte = tsv_subset("RTE", 96, 64);
    let tsv = stats_lines(&stabletune(
        &["data", "stats", "--task", "rte", "--data-dir", rte.path().to_str().unwrap()],
        &cache,
    ));
    assert_eq!(tsv.len(), 5, "{tsv:?}");
    let hub = stabletune(&["data", "stats", "--task", "rte", "--dataset", "nyu-mll/glue"], &cache);
    let out = String::from_utf8_lossy(&hub.stdout).into_owned();
    assert!(
        out.contains("revision main = 958bd6e8abb4") && out.contains("test: 8 rows, unlabelled"),
        "{out}"
    );
    assert_eq!(stats_lines(&hub), tsv);
    let saved = fixtures().join("save-to-disk/rte-train");
    let feather = fixtures().join("edge/rte-validation.feather");
    let files = stabletune(
        &[
            "data",
            "stats",
            "--task",
            "rte-own",
            "--train-file",
            saved.to_str().unwrap(),
            "--dev-file",
            feather.to_str().unwrap(),
            "--text-a-column",
            "sentence1",
            "--text-b-column",
            "sentence2",
        ],
        &cache,
    );
    assert_eq!(stats_lines(&files), tsv);
}

#[test]
fn offline_without_the_dataset_fails_fast_and_leaves_nothing() {
    let empty = tempfile::tempdir().unwrap();
    let run = empty.path().join("run");
    let o = stabletune(
        &[
            "train",
            "--task",
            "rte",
            "--dataset",
            "nyu-mll/glue",
            "--dataset-revision",
            "v2",
            "--out",
            run.to_str().unwrap(),
        ],
        empty.path(),
    );
    let err = text(&o);
    assert!(!o.status.success(), "{err}");
    for needle in
        ["nyu-mll/glue", "revision v2", "hf download nyu-mll/glue --repo-type dataset --revision v2"]
    {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert!(!run.exists(), "no run folder for data that is not there");
    // A GLUE task without local files says both ways to get them.
    let o = stabletune(
        &["data", "stats", "--task", "rte", "--data-dir", empty.path().to_str().unwrap()],
        empty.path(),
    );
    assert!(!o.status.success() && text(&o).contains("--dataset nyu-mll/glue"), "{}", text(&o));
}

#[test]
fn a_study_records_the_hub_dataset_it_read() {
    let cache = fixtures().join("hub");
    let dir = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/assets/models/all-MiniLM-L6-v2");
    let study = dir.path().join("study.toml");
    std::fs::write(
        &study,
        format!(
            "name = \"hub\"\nmodel = \"{}\"\ntasks = [\"rte\"]\ndataset = \"nyu-mll/glue\"\nrecipes = [\"devlin2019\"]\n\
             seeds = [1]\nmax_steps = 1\ntrain_limit = 16\n[execution]\nworkers = 1\n",
            model.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = stabletune(&["study", "run", study.to_str().unwrap(), "--out", out.to_str().unwrap()], &cache);
    assert!(o.status.success(), "{}", text(&o));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("study.json")).unwrap()).unwrap();
    let glue = &record["datasets"]["nyu-mll/glue/rte"];
    assert_eq!(glue["revision"], "main");
    assert_eq!(glue["commit"], "958bd6e8abb417576d0a8e97d9b70366798d0e8f");
    // Each file's hash is its content's: the blob huggingface_hub names by that hash.
    let train = glue["files"]["nyu-mll/glue/rte/train-00000-of-00001.parquet"].as_str().unwrap();
    assert!(cache.join("datasets--nyu-mll--glue/blobs").join(train).is_file(), "{glue}");
    assert_eq!(glue["files"].as_object().unwrap().len(), 2, "train and validation: {glue}");
}

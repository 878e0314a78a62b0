//! Study files: what multiplies into runs, and what is refused before anything runs.

use stabletune_study::spec::{Seeds, StudySpec, Workers};
use stabletune_study::{plan::plan, Study};
use std::path::Path;

fn parse(text: &str) -> Result<StudySpec, String> {
    StudySpec::parse(Path::new("study.toml"), text).map_err(|e| e.to_string())
}

const BASE: &str =
    "name = \"s\"\ntasks = [\"rte\", \"sst-2\"]\nrecipes = [\"devlin2019\", \"mosbach2021\"]\n";

#[test]
fn lists_multiply_into_runs() {
    let spec = parse(&format!(
        "{BASE}seeds = \"1..3\"\ntrain_limit = 100\nlr = [1e-5, 2e-5]\n[grid]\nepochs = [1, 2]\n"
    ))
    .unwrap();
    assert_eq!(spec.seeds, Seeds::Paired(vec![1, 2, 3]));
    assert_eq!(spec.swept(), vec!["lr", "epochs"]);
    let runs = plan(&spec).unwrap();
    assert_eq!(runs.len(), 2 * 2 * 2 * 2 * 3);
    let first = &runs[0];
    assert_eq!((first.config.train_limit, first.config.lr, first.config.epochs), (Some(100), 1e-5, 1));
    assert_eq!(first.configuration, "devlin2019 lr=0.00001 epochs=1");
    assert!(first.id.starts_with("rte-devlin2019-s1-1-"), "{}", first.id);
    // The same settings give the same ids; a changed setting gives new ones; more seeds add runs only.
    assert_eq!(plan(&spec).unwrap(), runs);
    let more = parse(&format!(
        "{BASE}seeds = \"1..4\"\ntrain_limit = 100\nlr = [1e-5, 2e-5]\n[grid]\nepochs = [1, 2]\n"
    ))
    .unwrap();
    let more = plan(&more).unwrap();
    assert!(runs.iter().all(|r| more.iter().any(|m| m.id == r.id)));
    assert_eq!(more.len(), runs.len() / 3 * 4);
    let changed = parse(&format!(
        "{BASE}seeds = \"1..3\"\ntrain_limit = 99\nlr = [1e-5, 2e-5]\n[grid]\nepochs = [1, 2]\n"
    ))
    .unwrap();
    assert!(plan(&changed).unwrap().iter().all(|r| !runs.iter().any(|m| m.id == r.id)));
}

#[test]
fn dodge_grid_and_execution() {
    let spec = parse(&format!("{BASE}init_seeds = [1, 2]\ndata_seeds = \"5..7\"\n[execution]\nworkers = 3\nthreads_per_worker = 2\n")).unwrap();
    assert_eq!(spec.seeds.pairs().len(), 6);
    assert_eq!(spec.seeds.pairs()[1], (1, 6));
    assert_eq!((spec.execution.workers, spec.execution.threads_per_worker), (Workers::Fixed(3), 2));
    let auto = parse(&format!("{BASE}seeds = 1\n")).unwrap();
    assert_eq!(auto.execution.layout(2, 8), (2, 1), "two single-threaded workers on two cores");
    assert_eq!(auto.execution.layout(2, 1), (1, 2), "one run: one worker with both cores");
}

#[test]
fn bad_studies_are_refused_with_the_file_and_key() {
    let cases = [
        (format!("{BASE}seeds = 1\nlearning_rate = 1e-5\n"), "learning_rate"),
        (format!("{BASE}seeds = 1\nlr = \"fast\"\n"), "lr"),
        (format!("{BASE}seeds = 1\nlr = []\n"), "empty"),
        (format!("{BASE}seeds = \"3..1\"\n"), "empty range"),
        (format!("{BASE}seeds = [1, 1]\n"), "twice"),
        (format!("{BASE}seeds = 1\nseed = 4\n"), "seeds"),
        (format!("{BASE}\n"), "seeds"),
        ("tasks = [\"rte\"]\nseeds = 1\n".to_string(), "name"),
        (format!("{BASE}seeds = 1\n[execution]\nworkers = 0\n"), "workers"),
        (format!("{BASE}seeds = 1\n[execution]\ncores = 2\n"), "cores"),
        ("name = \"s\"\ntasks = []\nseeds = 1\n".to_string(), "empty"),
        (format!("{BASE}seeds = 1\nrecipes = [\"smith2020\"]\n"), "recipe"),
    ];
    for (text, needle) in cases {
        let err = parse(&text).err().unwrap_or_else(|| panic!("accepted:\n{text}"));
        assert!(err.contains("study.toml") && err.contains(needle), "{needle}: {err}");
    }
    // A model or a task's data that cannot be read: an error before anything runs.
    let missing = parse("name = \"s\"\nmodel = \"/no/such/model\"\ntasks = [\"rte\"]\nseeds = 1\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = Study::plan(missing, dir.path()).err().unwrap().to_string();
    assert!(err.contains("/no/such/model"), "{err}");
    let no_data =
        parse("name = \"s\"\ntasks = [\"rte\"]\nseeds = 1\ndata_dir = \"/no/such/data\"\n").unwrap();
    let err = Study::plan(no_data, dir.path()).err().unwrap().to_string();
    assert!(err.contains("/no/such/data"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

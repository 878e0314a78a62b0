//! Stability studies: a grid of runs (tasks x configurations x seeds) from a TOML file or a preset, the run
//! store (one folder per run, named by a hash of its config), workers that claim runs with lock files and
//! heartbeats (safe on shared filesystems, resumable after kill -9), shards for Slurm job arrays, the
//! study's table and its status.

pub mod early_stop;
pub mod error;
pub mod fence;
pub mod guard;
pub mod plan;
pub mod presets;
pub mod record;
pub mod restarts;
pub mod results;
pub mod runner;
pub mod slurm;
pub mod spec;
pub mod status;
pub mod store;
mod waiting;

pub use error::{Result, StudyError};
pub use plan::PlannedRun;
pub use spec::StudySpec;
pub use store::Store;

use error::io;
use std::path::{Path, PathBuf};

/// A study ready to run: its spec, its runs, and its folder.
pub struct Study {
    pub spec: StudySpec,
    pub runs: Vec<PlannedRun>,
    pub store: Store,
}

impl Study {
    /// A study file, or the name of a preset (a path that exists wins over a preset of the same name).
    pub fn spec_from_arg(arg: &str) -> Result<StudySpec> {
        let path = Path::new(arg);
        if path.exists() {
            return StudySpec::from_file(path);
        }
        match presets::preset(arg) {
            Some(text) => StudySpec::parse(Path::new(&format!("preset {arg}")), text),
            None => Err(StudyError::Other(format!(
                "{arg}: no such study file, and not a preset ({})",
                presets::PRESETS.map(|p| p.0).join(", ")
            ))),
        }
    }

    /// Plans the study's runs and checks that every model and every task's data can be read, before
    /// anything is written.
    pub fn plan(spec: StudySpec, dir: &Path) -> Result<Study> {
        let runs = plan::plan(&spec)?;
        let mut checked = std::collections::HashSet::new();
        for run in &runs {
            let c = &run.config;
            let key = (c.task.clone(), c.data_dir.clone(), c.train_file.clone(), c.dev_file.clone());
            if checked.insert(key) {
                stabletune_train::source::load(c).map_err(stabletune_train::TrainError::from)?;
            }
        }
        Ok(Study { spec, runs, store: Store::at(dir) })
    }

    /// Creates the study's folder with its `study.toml` (the study as run) and `study.json` (the record).
    /// A folder that holds another study is refused, with the difference, unless the new one only adds
    /// runs (more seeds, another grid value) under the same early-stopping plan: then it is the old study
    /// extended, and the returned note says how many runs it adds.
    pub fn prepare(&mut self) -> Result<Option<String>> {
        let note = guard::check_folder(&self.store.root, &self.spec, &self.runs)?;
        self.store = Store::open(&self.store.root)?;
        let root = &self.store.root;
        stabletune_model::checkpoint::write_atomic(&root.join("study.toml"), self.spec.text.as_bytes())?;
        let rec = record::record(&self.spec.name, self.spec.source.as_deref(), &self.spec.text, &self.runs)?;
        let text = serde_json::to_string_pretty(&rec).expect("serialisable") + "\n";
        stabletune_model::checkpoint::write_atomic(&root.join("study.json"), text.as_bytes())?;
        Ok(note)
    }

    /// The study in an existing folder (its `study.toml`).
    pub fn open(dir: &Path) -> Result<Study> {
        let file = dir.join("study.toml");
        if !file.is_file() {
            return Err(StudyError::Other(format!("{}: not a study folder (no study.toml)", dir.display())));
        }
        let spec = StudySpec::from_file(&file)?;
        let runs = plan::plan(&spec)?;
        Ok(Study { spec, runs, store: Store::open(dir)? })
    }

    /// Where a study's folder goes by default: `studies/<name>`.
    pub fn default_dir(spec: &StudySpec) -> PathBuf {
        PathBuf::from("studies").join(&spec.name)
    }

    /// Runs whose folders exist but no longer belong to the study (their settings were changed).
    pub fn orphans(&self) -> Result<Vec<String>> {
        let dir = self.store.root.join("runs");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let name = e.map_err(io(&dir))?.file_name().to_string_lossy().into_owned();
            if !self.runs.iter().any(|r| r.id == name) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }
}

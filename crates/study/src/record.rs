//! `study.json`: what a study was run with, so its numbers can be traced: the study file, the tool's
//! version and commit, the machine, and hashes of the model and data files.

use crate::error::{io, Result};
use crate::plan::PlannedRun;
use serde::Serialize;
use sha2::{Digest, Sha256};
use stabletune_train::source::{self, DataFiles};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Serialize)]
pub struct Machine {
    pub host: String,
    pub cpu: String,
    pub threads: usize,
}

#[derive(Serialize)]
pub struct DatasetRecord {
    pub repository: String,
    pub config: String,
    pub revision: String,
    pub commit: String,
    pub files: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct StudyRecord {
    pub name: String,
    pub study_file: Option<PathBuf>,
    pub study_text: String,
    pub version: String,
    pub git_commit: String,
    pub machine: Machine,
    pub runs: usize,
    /// SHA-256 of every file of each model folder a run reads (config, weights, tokenizer).
    pub models: BTreeMap<String, BTreeMap<String, String>>,
    /// SHA-256 of every data file, by path.
    pub data: BTreeMap<String, String>,
    /// Hub datasets read, by `repository/config`: the revision asked for, the commit the cache resolved
    /// it to, and SHA-256 of each file by its path in the repository.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub datasets: BTreeMap<String, DatasetRecord>,
    pub written_at_unix: u64,
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The files a run reads, and the Hub dataset they come from.
fn data_files(run: &PlannedRun) -> Result<DataFiles> {
    source::data_files(&run.config).map_err(|e| stabletune_train::TrainError::from(e).into())
}

pub fn record(name: &str, source: Option<&Path>, text: &str, runs: &[PlannedRun]) -> Result<StudyRecord> {
    let mut models = BTreeMap::new();
    let mut data = BTreeMap::new();
    let mut datasets = BTreeMap::new();
    for run in runs {
        if !models.contains_key(&run.config.model) {
            let dir = Path::new(&run.config.model);
            let mut files = BTreeMap::new();
            for f in ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"] {
                if dir.join(f).is_file() {
                    files.insert(f.to_string(), sha256_file(&dir.join(f))?);
                }
            }
            models.insert(run.config.model.clone(), files);
        }
        let read = data_files(run)?;
        for (key, f) in read.files {
            let hashes = match &read.hub {
                Some(h) => {
                    &mut datasets
                        .entry(format!("{}/{}", h.repo, h.config))
                        .or_insert_with(|| DatasetRecord {
                            repository: h.repo.clone(),
                            config: h.config.clone(),
                            revision: h.revision.clone(),
                            commit: h.commit.clone(),
                            files: BTreeMap::new(),
                        })
                        .files
                }
                None => &mut data,
            };
            if !hashes.contains_key(&key) && f.is_file() {
                hashes.insert(key, sha256_file(&f)?);
            }
        }
    }
    Ok(StudyRecord {
        name: name.to_string(),
        study_file: source.map(Path::to_path_buf),
        study_text: text.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: stabletune_train::summary::GIT_COMMIT.to_string(),
        machine: Machine {
            host: crate::store::hostname(),
            cpu: cpu_model(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        runs: runs.len(),
        models,
        data,
        datasets,
        written_at_unix: crate::store::now(),
    })
}

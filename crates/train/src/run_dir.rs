//! The run directory: `config.toml`, `metrics.jsonl`, `summary.json`, and the checkpoints
//! `checkpoint-last/` (Hugging Face layout plus the optimizer and trainer state a resume needs) and
//! `checkpoint-best/` (Hugging Face layout). Files are replaced atomically (written beside, flushed to
//! disk, then renamed), so neither a killed process nor a node losing power leaves a half-written file or
//! checkpoint.

use crate::error::{io, Result, TrainError};
use crate::optim::AdamState;
use crate::summary::Status;
use serde::{Deserialize, Serialize};
use stabletune_model::checkpoint::Checkpoint;
use stabletune_model::{Model, ParamSet};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const LAST: &str = "checkpoint-last";
pub const BEST: &str = "checkpoint-best";
const WEIGHTS: &str = "model.safetensors";
const MOMENTS: &str = "optimizer.safetensors";
/// Tokenizer files copied into checkpoints, so they load with `from_pretrained` alone.
const TOKENIZER_FILES: [&str; 4] =
    ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"];

/// Where training stands: everything besides weights and moments that a resume needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Updates done.
    pub step: u64,
    pub epoch: usize,
    /// Batches of `epoch` done.
    pub batch_in_epoch: usize,
    pub best_step: Option<u64>,
    /// All metrics of the best evaluation so far.
    pub best_metrics: Option<crate::metrics::Metrics>,
    pub evals_without_improvement: usize,
    pub train_seconds: f64,
    pub examples_seen: u64,
    /// How the run ended; `None` while it is under way (or was interrupted and can continue).
    #[serde(default)]
    pub status: Option<Status>,
    /// The step and metrics of the latest evaluation.
    #[serde(default)]
    pub last_eval: Option<(u64, crate::metrics::Metrics)>,
    /// The failure sentinel's running state (absent when it is off, and in checkpoints from before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<crate::sentinel::SentinelState>,
}

/// Asked before every write into a run directory: `false` when this writer no longer owns the run (a
/// study's claim was taken over while the process was stalled), so it must write nothing more into it.
pub type WriteFence = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

pub struct RunDir {
    pub path: PathBuf,
    fence: Option<WriteFence>,
}

impl RunDir {
    pub fn create(path: &Path) -> Result<RunDir> {
        RunDir::create_fenced(path, None)
    }

    /// A run directory whose every write first asks `fence` (see [`WriteFence`]).
    pub fn create_fenced(path: &Path, fence: Option<WriteFence>) -> Result<RunDir> {
        let dir = RunDir { path: path.to_path_buf(), fence };
        dir.may_write()?;
        std::fs::create_dir_all(path).map_err(io(path))?;
        Ok(dir)
    }

    /// Whether this writer may still write here; [`TrainError::Abandoned`] when it may not.
    pub fn may_write(&self) -> Result<()> {
        match &self.fence {
            Some(allowed) if !allowed() => Err(TrainError::Abandoned { path: self.path.clone() }),
            _ => Ok(()),
        }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Replaces `name` with `data` atomically.
    pub fn write_atomic(&self, name: &str, data: &[u8]) -> Result<()> {
        self.may_write()?;
        Ok(stabletune_model::checkpoint::write_atomic(&self.file(name), data)?)
    }

    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(value).expect("serialisable") + "\n";
        self.write_atomic(name, text.as_bytes())
    }

    /// Appends one JSON line to `metrics.jsonl` and flushes it.
    pub fn log(&self, record: &serde_json::Value) -> Result<()> {
        self.may_write()?;
        let path = self.file("metrics.jsonl");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        // One write of the whole line, so a kill leaves a line whole or torn at its end, never split.
        f.write_all(format!("{record}\n").as_bytes()).map_err(io(&path))
    }

    /// Drops `metrics.jsonl` records after `step` (those a resumed run is about to repeat); `None`
    /// drops them all (a run restarting from the beginning). A torn last line is dropped too.
    pub fn truncate_log(&self, step: Option<u64>) -> Result<()> {
        let path = self.file("metrics.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        let kept: String = text
            .lines()
            .filter(|l| {
                let at = serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v.get("step").and_then(|s| s.as_u64()));
                matches!((at, step), (Some(s), Some(limit)) if s <= limit)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        self.write_atomic("metrics.jsonl", kept.as_bytes())
    }

    /// Saves a checkpoint directory atomically: written under a temporary name of this writer's own
    /// (two processes that both believe they hold the run never write into one folder), then swapped in.
    /// A write that fails (a full disk) removes its temporary folder and leaves the last checkpoint as it
    /// was.
    fn save_dir(&self, name: &str, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        self.may_write()?;
        let dir = self.file(name);
        let tmp = stabletune_model::checkpoint::temporary_beside(&dir);
        // The previous checkpoint is kept aside under a name that says so, for the instant between the renames.
        let old = stabletune_model::checkpoint::temporary_beside(&self.file(&format!("{name}.old")));
        let filled = std::fs::create_dir_all(&tmp)
            .map_err(io(&tmp))
            .and_then(|()| fill(&tmp))
            .and_then(|()| sync_tree(&tmp));
        if let Err(e) = filled {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        // The last check before the swap: a writer that lost the run leaves the checkpoint to its new holder.
        if let Err(e) = self.may_write() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if dir.exists() {
            std::fs::rename(&dir, &old).map_err(io(&dir))?;
        }
        std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
        stabletune_model::checkpoint::sync_dir(&self.path)?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// The model in Hugging Face layout, with the tokenizer files of `model_dir`.
    pub fn save_model(&self, name: &str, model: &Model, model_dir: &Path) -> Result<()> {
        self.save_dir(name, |dir| save_model_files(dir, model, model_dir))
    }

    /// `checkpoint-last`: the model, the Adam moments (`None` once the run has ended: nothing will
    /// continue from them) and the trainer state. With `weights_as`, the model's weights are those of
    /// the checkpoint `weights_as` (`checkpoint-best` at the best step), which are hard-linked rather than
    /// written again where the file system allows.
    pub fn save_last(
        &self,
        model: &Model,
        model_dir: &Path,
        adam: Option<&AdamState>,
        state: &TrainerState,
        weights_as: Option<&str>,
    ) -> Result<()> {
        let linked_from = weights_as.map(|name| self.file(name).join(WEIGHTS));
        self.save_dir(LAST, |dir| {
            match linked_from.filter(|src| std::fs::hard_link(src, dir.join(WEIGHTS)).is_ok()) {
                Some(_) => {
                    model.save_config(dir)?;
                    copy_tokenizer_files(dir, model_dir)?;
                }
                None => save_model_files(dir, model, model_dir)?,
            }
            if let Some(adam) = adam {
                save_moments(&dir.join(MOMENTS), &model.params, adam)?;
            }
            let text = serde_json::to_string_pretty(state).expect("serialisable");
            let path = dir.join("trainer_state.json");
            std::fs::write(&path, text).map_err(io(&path))
        })
    }

    /// The directory `checkpoint-last` to resume from (or its previous copy, if a crash came between the
    /// two renames of a save).
    pub fn last_checkpoint(&self) -> Option<PathBuf> {
        let complete = |d: &PathBuf| d.join("trainer_state.json").exists();
        if complete(&self.file(LAST)) {
            return Some(self.file(LAST));
        }
        // A copy set aside by a save that crashed between its two renames (named per writer; the
        // unprefixed name is an earlier version's).
        let prefix = format!(".{LAST}.old.");
        let mut aside: Vec<PathBuf> = std::fs::read_dir(&self.path)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .chain(std::iter::once(self.file(&format!("{LAST}.old"))))
            .filter(complete)
            .collect();
        aside
            .sort_by_key(|d| std::fs::metadata(d.join("trainer_state.json")).and_then(|m| m.modified()).ok());
        aside.pop()
    }
}

/// Flushes every file of a freshly written checkpoint folder, and the folder, to disk before it is renamed
/// into place.
fn sync_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_file() {
            std::fs::File::open(&path).and_then(|f| f.sync_all()).map_err(io(&path))?;
        }
    }
    Ok(stabletune_model::checkpoint::sync_dir(dir)?)
}

fn save_model_files(dir: &Path, model: &Model, model_dir: &Path) -> Result<()> {
    model.save_pretrained(dir)?;
    copy_tokenizer_files(dir, model_dir)
}

fn copy_tokenizer_files(dir: &Path, model_dir: &Path) -> Result<()> {
    for f in TOKENIZER_FILES {
        let src = model_dir.join(f);
        if src.exists() {
            std::fs::copy(&src, dir.join(f)).map_err(io(&src))?;
        }
    }
    Ok(())
}

/// Adam's moments as safetensors, `m.<name>` and `v.<name>`, written straight from the optimizer's state.
fn save_moments(path: &Path, params: &ParamSet, adam: &AdamState) -> Result<()> {
    let tensors = [("m", &adam.m), ("v", &adam.v)].into_iter().flat_map(|(prefix, values)| {
        params
            .infos
            .iter()
            .map(move |i| (format!("{prefix}.{}", i.name), i.shape.clone(), &values[i.range()]))
    });
    Ok(stabletune_model::checkpoint::save_tensors(tensors, path)?)
}

/// Reads what [`RunDir::save_last`] wrote: the trainer state and Adam's moments (weights are loaded as a
/// model from the same folder).
/// The `headline` metric at every evaluation after step 0 in a run's `metrics.jsonl`, in order (none
/// when the file is missing; lines that are not evaluations, or cut short, are skipped).
pub fn read_evaluations(dir: &Path, headline: &str) -> Vec<(u64, f64)> {
    let Ok(text) = std::fs::read_to_string(dir.join("metrics.jsonl")) else { return Vec::new() };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["step"].as_u64()?, v.get("eval")?.get(headline)?.as_f64()?)))
        .filter(|(step, _)| *step > 0)
        .collect()
}

pub fn load_resume_state(dir: &Path, params: &ParamSet) -> Result<(TrainerState, AdamState)> {
    let state_path = dir.join("trainer_state.json");
    let text = std::fs::read_to_string(&state_path).map_err(io(&state_path))?;
    let state: TrainerState = serde_json::from_str(&text)
        .map_err(|e| TrainError::RunDir { path: state_path.clone(), message: e.to_string() })?;
    let mut adam = AdamState::new(params.len());
    adam.step = state.step;
    if state.status.is_some_and(|s| s.is_final()) && !dir.join(MOMENTS).exists() {
        // An ended run keeps no moments: nothing continues from them.
        return Ok((state, adam));
    }
    let ck = Checkpoint::open(&dir.join(MOMENTS))?;
    for (prefix, target) in [("m", &mut adam.m), ("v", &mut adam.v)] {
        let mut set = ParamSet::default();
        for info in &params.infos {
            set.add(format!("{prefix}.{}", info.name), &info.shape, info.group);
        }
        ck.load_into(&mut set, stabletune_model::Architecture::Bert, |_| false, 0)?;
        target.copy_from_slice(&set.values);
    }
    adam.step = state.step;
    Ok((state, adam))
}

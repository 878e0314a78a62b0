//! Where a run's examples come from, and what the labels and the headline metric are:
//! - the user's own files (`train_file`/`dev_file`): CSV, TSV, JSONL, Parquet, Arrow, `save_to_disk`
//!   folders, with a column mapping;
//! - a Hugging Face Hub dataset (`dataset`, `dataset_config`, `dataset_revision`): GLUE's (`nyu-mll/glue`
//!   with a GLUE task) read in the Hub's schema with the TSV files' labels, any other with the mapping;
//! - a GLUE task (or SciTail) in its TSV layout.

use crate::config::TrainConfig;
use crate::data::columnar::{self, Columns, Wanted};
use crate::data::{read_table, read_task_split, ColumnMap, DataError, Example, Result, Split, Task};
use crate::hub_data::{self, HubData};
use crate::locations;
use crate::metrics::Metric;
use std::path::{Path, PathBuf};

pub struct Source {
    /// The task's name as reports show it.
    pub name: String,
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    /// Class names in label-index order (`None`: regression).
    pub label_set: Option<Vec<String>>,
    pub metric: Metric,
}

/// The settings that say where data comes from (a run's, or `data stats`').
#[derive(Clone, Debug, Default)]
pub struct DataSpec {
    pub task: String,
    pub data_dir: Option<PathBuf>,
    pub train_file: Option<PathBuf>,
    pub dev_file: Option<PathBuf>,
    pub text_a_column: Option<String>,
    pub text_b_column: Option<String>,
    pub label_column: Option<String>,
    pub labels: Option<Vec<String>>,
    pub metric: Option<Metric>,
    pub dataset: Option<String>,
    pub dataset_config: Option<String>,
    pub dataset_revision: Option<String>,
}

impl DataSpec {
    pub fn of(cfg: &TrainConfig) -> DataSpec {
        DataSpec {
            task: cfg.task.clone(),
            data_dir: cfg.data_dir.clone(),
            train_file: cfg.train_file.clone(),
            dev_file: cfg.dev_file.clone(),
            text_a_column: cfg.text_a_column.clone(),
            text_b_column: cfg.text_b_column.clone(),
            label_column: cfg.label_column.clone(),
            labels: cfg.labels.clone(),
            metric: cfg.metric,
            dataset: cfg.dataset.clone(),
            dataset_config: cfg.dataset_config.clone(),
            dataset_revision: cfg.dataset_revision.clone(),
        }
    }

    fn columns(&self) -> ColumnMap {
        ColumnMap {
            text_a: self.text_a_column.clone().unwrap_or_else(|| "text_a".into()),
            text_b: self.text_b_column.clone(),
            label: self.label_column.clone().unwrap_or_else(|| "label".into()),
        }
    }

    /// The GLUE task read in the Hub's GLUE schema: a GLUE task name with no column mapping given.
    fn hub_glue_task(&self) -> Option<Task> {
        let task = Task::parse(&self.task)?;
        (task.hub_schema().is_some() && self.text_a_column.is_none()).then_some(task)
    }
}

/// One split as read.
#[derive(Clone, Debug)]
pub struct SplitData {
    /// `train`, `dev`, ... for TSV files and own files; the Hub's names (`validation`, ...) for the Hub.
    pub name: String,
    /// The file or folder (the first file of a sharded Hub split).
    pub path: PathBuf,
    pub examples: Vec<Example>,
    /// Labelled splits are refused when a label is missing; the others (test) have none.
    pub labelled: bool,
    /// Malformed rows skipped (QQP's TSV only).
    pub skipped_lines: Vec<usize>,
}

/// Every split a data source has (for `data stats`), or its train and dev splits (for a run).
pub struct Splits {
    pub name: String,
    /// Where the data is, for messages: a folder, files, or the Hub dataset with its commit.
    pub origin: String,
    pub splits: Vec<SplitData>,
    /// Splits expected but absent (files not there, or a Hub split not in the cache).
    pub missing: Vec<String>,
    pub label_set: Option<Vec<String>>,
    pub metric: Metric,
    /// The Hub dataset resolved, when the data comes from the Hub.
    pub hub: Option<HubData>,
}

pub fn load(cfg: &TrainConfig) -> Result<Source> {
    let read = read(&DataSpec::of(cfg), false)?;
    let mut splits = read.splits.into_iter();
    let (Some(train), Some(dev)) = (splits.next(), splits.next()) else {
        unreachable!("read gives train and dev or an error")
    };
    Ok(Source {
        name: read.name,
        train: train.examples,
        dev: dev.examples,
        label_set: read.label_set,
        metric: read.metric,
    })
}

/// Reads a data source: train and dev (labelled, both required), or with `all` every split there is,
/// test splits unlabelled, the missing ones listed.
pub fn read(spec: &DataSpec, all: bool) -> Result<Splits> {
    if let (Some(train), Some(dev)) = (&spec.train_file, &spec.dev_file) {
        return read_own_files(spec, train, dev);
    }
    if spec.train_file.is_some() || spec.dev_file.is_some() {
        return Err(DataError::Other("give both train_file and dev_file for your own data".into()));
    }
    if let Some(repo) = &spec.dataset {
        return read_hub(spec, repo, all);
    }
    read_glue_tsv(spec, all)
}

fn regression(spec: &DataSpec) -> bool {
    spec.metric == Some(Metric::Pearson)
}

/// Label set: given, else the data's `ClassLabel` names, else the training labels sorted.
fn label_set(
    spec: &DataSpec,
    class_names: Option<Vec<String>>,
    train: &[Example],
    path: &Path,
) -> Result<Option<Vec<String>>> {
    if regression(spec) {
        return Ok(None);
    }
    let set = spec.labels.clone().or(class_names).unwrap_or_else(|| {
        let mut set: Vec<String> = train.iter().filter_map(|e| e.label.clone()).collect();
        set.sort();
        set.dedup();
        set
    });
    if set.len() < 2 {
        return Err(DataError::File {
            path: path.into(),
            message: "a classification task needs at least two labels".into(),
        });
    }
    Ok(Some(set))
}

fn read_own_files(spec: &DataSpec, train_file: &PathBuf, dev_file: &PathBuf) -> Result<Splits> {
    let map = spec.columns();
    let wanted = Wanted { text_a: &map.text_a, text_b: map.text_b.as_deref(), label: Some(&map.label) };
    let mut class_names = None;
    let mut read_one = |name: &str, path: &PathBuf| -> Result<SplitData> {
        let examples = if columnar::is_columnar(path) {
            let cols = columnar::read_columns(path, &wanted)?;
            if name == "train" {
                class_names = cols.class_names.clone();
            }
            columnar::to_examples(&cols, regression(spec), false)?
        } else {
            read_table(path, &map)?
        };
        Ok(SplitData {
            name: name.into(),
            path: path.clone(),
            examples,
            labelled: true,
            skipped_lines: Vec::new(),
        })
    };
    let train = read_one("train", train_file)?;
    let dev = read_one("dev", dev_file)?;
    let label_set = label_set(spec, class_names, &train.examples, train_file)?;
    Ok(Splits {
        name: spec.task.clone(),
        origin: format!("{} and {}", train_file.display(), dev_file.display()),
        splits: vec![train, dev],
        missing: Vec::new(),
        label_set,
        metric: spec.metric.unwrap_or(Metric::Acc),
        hub: None,
    })
}

fn read_glue_tsv(spec: &DataSpec, all: bool) -> Result<Splits> {
    let task = Task::parse(&spec.task).ok_or_else(|| {
        DataError::Other(format!(
            "unknown task {:?}: use a GLUE task name, give train_file and dev_file, or a Hub dataset",
            spec.task
        ))
    })?;
    let dir = locations::task_dir(task, spec.data_dir.as_deref());
    if !dir.join(task.file_name(Split::Train)).is_file() && !dir.join(task.file_name(Split::Dev)).is_file() {
        let hub = task.hub_schema().map_or(String::new(), |s| {
            format!(
                ", or read it from the Hugging Face Hub with --dataset nyu-mll/glue (config {})",
                s.config
            )
        });
        return Err(DataError::Other(format!(
            "no {} files in {} ({} and {} missing): give --data-dir, set GLUE_DIR to the folder holding GLUE's \
             task folders (as $GLUE_DIR/{}/{}){hub}",
            task.dir_name(),
            dir.display(),
            task.file_name(Split::Train),
            task.file_name(Split::Dev),
            task.dir_name(),
            task.file_name(Split::Train),
        )));
    }
    let mut wanted = vec![("train", Split::Train), ("dev", Split::Dev)];
    if all {
        if task == Task::Mnli {
            wanted.push(("dev_mismatched", Split::DevMismatched));
        }
        wanted.push(("test", Split::Test));
    }
    let mut splits = Vec::new();
    let mut missing = Vec::new();
    for (name, split) in wanted {
        if all && !dir.join(task.file_name(split)).is_file() {
            missing.push(task.file_name(split).to_string());
            continue;
        }
        let read = read_task_split(task, split, &dir)?;
        splits.push(SplitData {
            name: name.into(),
            path: read.path,
            examples: read.examples,
            labelled: split != Split::Test,
            skipped_lines: read.skipped_lines,
        });
    }
    Ok(Splits {
        name: task.dir_name().to_string(),
        origin: dir.display().to_string(),
        splits,
        missing,
        label_set: task.labels().map(|l| l.iter().map(|s| s.to_string()).collect()),
        metric: spec.metric.unwrap_or(Metric::of_task(task)),
        hub: None,
    })
}

/// Reads one split of a Hub dataset: its files in order, appended.
fn read_hub_split(data: &HubData, split: &str, wanted: &Wanted) -> Result<Columns> {
    let files = data.split(split).ok_or_else(|| {
        let have: Vec<&str> = data.splits.iter().map(|(n, _)| n.as_str()).collect();
        let hint = if data.missing.iter().any(|m| m == split) {
            format!(
                ": its files are not in the cache; fetch them with: {}",
                hub_data::fetch_command(&data.repo, Some(&data.config), &data.revision)
            )
        } else {
            String::new()
        };
        DataError::Other(format!(
            "{} has no split {split:?} (splits: {}){hint}",
            data.describe(),
            have.join(", ")
        ))
    })?;
    let mut out: Option<Columns> = None;
    for (_, path) in files {
        let cols = columnar::read_columns(path, wanted)?;
        match &mut out {
            None => out = Some(cols),
            Some(o) => o.append(cols)?,
        }
    }
    let mut cols = out.expect("a split has at least one file");
    if cols.class_names.is_none() {
        if let Some(label) = wanted.label {
            cols.class_names = data.card_class_names.get(label).cloned();
        }
    }
    Ok(cols)
}

fn read_hub(spec: &DataSpec, repo: &str, all: bool) -> Result<Splits> {
    let glue = spec.hub_glue_task();
    let config = spec
        .dataset_config
        .clone()
        .or_else(|| glue.and_then(|t| t.hub_schema()).map(|s| s.config.to_string()));
    let data = hub_data::resolve(repo, config.as_deref(), spec.dataset_revision.as_deref())?;
    read_hub_data(spec, data, all)
}

/// Reads a resolved Hub dataset as [`read`] does (`data` from [`hub_data::resolve_in`], for a cache
/// of one's own).
pub fn read_hub_data(spec: &DataSpec, data: HubData, all: bool) -> Result<Splits> {
    let glue = spec.hub_glue_task();
    // Which Hub splits to read, under which names, and whether they carry labels.
    let mut wanted: Vec<(String, bool)> = match glue {
        Some(task) => {
            let mut w = vec![
                (task.hub_split(Split::Train).to_string(), true),
                (task.hub_split(Split::Dev).to_string(), true),
            ];
            if task == Task::Mnli {
                w.push((task.hub_split(Split::DevMismatched).to_string(), true));
            }
            w
        }
        None => {
            let dev = ["validation", "dev", "valid"]
                .into_iter()
                .find(|s| data.split(s).is_some())
                .unwrap_or("validation");
            vec![("train".to_string(), true), (dev.to_string(), true)]
        }
    };
    if all {
        for (name, _) in &data.splits {
            if !wanted.iter().any(|(w, _)| w == name) {
                wanted.push((name.clone(), false));
            }
        }
    } else {
        wanted.truncate(2);
    }
    let map = spec.columns();
    let schema = glue.and_then(|t| t.hub_schema());
    let w = match schema {
        Some(s) => Wanted { text_a: s.text_a, text_b: s.text_b, label: Some(s.label) },
        None => Wanted { text_a: &map.text_a, text_b: map.text_b.as_deref(), label: Some(&map.label) },
    };
    let regression = regression(spec) || glue == Some(Task::Stsb);
    let mut splits = Vec::new();
    let mut missing = Vec::new();
    let mut class_names = None;
    for (i, (name, labelled)) in wanted.into_iter().enumerate() {
        if all && data.split(&name).is_none() {
            missing.push(name);
            continue;
        }
        let mut cols = read_hub_split(&data, &name, &w)?;
        if let Some(s) = schema {
            glue_labels(&mut cols, s, &data)?;
        }
        if i == 0 {
            class_names = cols.class_names.clone();
        }
        // Labelled splits refuse rows without a label; the others may have none (GLUE's test: -1).
        let examples = columnar::to_examples(&cols, regression, !labelled)
            .map_err(|e| DataError::Other(format!("{} split {name:?}: {e}", data.describe())))?;
        splits.push(SplitData { name, path: cols.path, examples, labelled, skipped_lines: Vec::new() });
    }
    let (name, label_set, metric) = match glue {
        Some(task) => (
            task.dir_name().to_string(),
            task.labels().map(|l| l.iter().map(|s| s.to_string()).collect()),
            spec.metric.unwrap_or(Metric::of_task(task)),
        ),
        None => {
            let train = &splits[0];
            (
                spec.task.clone(),
                label_set(spec, class_names, &train.examples, &train.path)?,
                spec.metric.unwrap_or(Metric::Acc),
            )
        }
    };
    Ok(Splits { name, origin: data.describe(), splits, missing, label_set, metric, hub: Some(data) })
}

/// GLUE's Hub labels are `ClassLabel` ids: check their names are the task's, then name each id by its
/// TSV label, so label ids and the majority baseline are those of a run on the TSV files.
fn glue_labels(cols: &mut Columns, schema: crate::data::HubSchema, data: &HubData) -> Result<()> {
    let (Some(expected), Some(tsv)) = (schema.class_names, schema.tsv_labels) else { return Ok(()) };
    let path = cols.path.clone();
    let err = |message: String| DataError::File { path: path.clone(), message };
    match &cols.class_names {
        Some(found) if found.iter().map(String::as_str).eq(expected.iter().copied()) => {}
        Some(found) => {
            return Err(err(format!(
                "column {:?} has ClassLabel names {found:?}; GLUE's {} config has {expected:?}",
                schema.label, schema.config
            )))
        }
        None if matches!(cols.label, Some(columnar::LabelValues::Strings(_))) => {
            // Label names as text (a re-saved copy): accept the Hub's names.
            cols.class_names = None;
            let rename: Vec<(String, String)> = expected.iter().zip(tsv).map(|(a, b)| (a.to_string(), b.to_string())).collect();
            if let Some(columnar::LabelValues::Strings(v)) = &mut cols.label {
                for s in v.iter_mut().flatten() {
                    if let Some((_, t)) = rename.iter().find(|(a, _)| a == s) {
                        *s = t.clone();
                    }
                }
            }
            return Ok(());
        }
        None => {
            return Err(err(format!(
                "column {:?} has no ClassLabel names (neither in the file's `huggingface` metadata nor in the card \
                 of {}), so its ids cannot be checked against GLUE's {} labels {expected:?}",
                schema.label,
                data.describe(),
                schema.config
            )))
        }
    }
    cols.class_names = Some(tsv.iter().map(|s| s.to_string()).collect());
    Ok(())
}

/// The files a run reads, for a study's record: local paths, and the Hub dataset they come from.
pub struct DataFiles {
    /// (what to call the file in the record, the local file).
    pub files: Vec<(String, PathBuf)>,
    /// The Hub dataset resolved (its repository, config, revision and commit), when there is one.
    pub hub: Option<HubData>,
}

/// What [`load`] reads for `cfg`: GLUE TSV files, the user's files (a `save_to_disk` folder's data
/// files), or a Hub dataset's train and dev files, named by their path in the repository.
pub fn data_files(cfg: &TrainConfig) -> Result<DataFiles> {
    let spec = DataSpec::of(cfg);
    let local = |paths: Vec<PathBuf>| {
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                let mut inside: Vec<PathBuf> = std::fs::read_dir(&p)
                    .map_err(|source| DataError::Io { path: p.clone(), source })?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|f| f.is_file())
                    .collect();
                inside.sort();
                files.extend(inside.into_iter().map(|f| (f.display().to_string(), f)));
            } else {
                files.push((p.display().to_string(), p));
            }
        }
        Ok(DataFiles { files, hub: None })
    };
    if let (Some(t), Some(d)) = (&spec.train_file, &spec.dev_file) {
        return local(vec![t.clone(), d.clone()]);
    }
    if let Some(repo) = &spec.dataset {
        let read = read_hub(&spec, repo, false)?;
        let data = read.hub.expect("a Hub read records its dataset");
        let mut files = Vec::new();
        for split in &read.splits {
            for (repo_path, path) in data.split(&split.name).unwrap_or_default() {
                files.push((format!("{}/{repo_path}", data.repo), path.clone()));
            }
        }
        return Ok(DataFiles { files, hub: Some(data) });
    }
    match Task::parse(&spec.task) {
        Some(task) => {
            let dir = locations::task_dir(task, spec.data_dir.as_deref());
            local([Split::Train, Split::Dev].iter().map(|s| dir.join(task.file_name(*s))).collect())
        }
        None => Ok(DataFiles { files: Vec::new(), hub: None }),
    }
}

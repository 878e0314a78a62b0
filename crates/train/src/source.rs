//! Where a run's examples come from: a GLUE task (or SciTail) in its TSV layout, or the user's own files
//! with a column mapping; and what the labels and the headline metric are.

use crate::config::TrainConfig;
use crate::data::{read_table, read_task, ColumnMap, DataError, Example, Result, Split, Task};
use crate::locations;
use crate::metrics::Metric;

pub struct Source {
    /// The task's name as reports show it.
    pub name: String,
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    /// Class names in label-index order (`None`: regression).
    pub label_set: Option<Vec<String>>,
    pub metric: Metric,
}

pub fn load(cfg: &TrainConfig) -> Result<Source> {
    match (&cfg.train_file, &cfg.dev_file) {
        (Some(train_file), Some(dev_file)) => {
            let columns = ColumnMap {
                text_a: cfg.text_a_column.clone().unwrap_or_else(|| "text_a".into()),
                text_b: cfg.text_b_column.clone(),
                label: cfg.label_column.clone().unwrap_or_else(|| "label".into()),
            };
            let train = read_table(train_file, &columns)?;
            let dev = read_table(dev_file, &columns)?;
            let metric = cfg.metric.unwrap_or(Metric::Acc);
            let label_set = (metric != Metric::Pearson).then(|| {
                cfg.labels.clone().unwrap_or_else(|| {
                    let mut set: Vec<String> = train.iter().filter_map(|e| e.label.clone()).collect();
                    set.sort();
                    set.dedup();
                    set
                })
            });
            if label_set.as_ref().is_some_and(|s| s.len() < 2) {
                return Err(DataError::File {
                    path: train_file.clone(),
                    message: "a classification task needs at least two labels".into(),
                });
            }
            Ok(Source { name: cfg.task.clone(), train, dev, label_set, metric })
        }
        _ => {
            let task = Task::parse(&cfg.task).ok_or_else(|| {
                DataError::Other(format!(
                    "unknown task {:?}: use a GLUE task name, or give train_file and dev_file",
                    cfg.task
                ))
            })?;
            let dir = locations::task_dir(task, cfg.data_dir.as_deref());
            Ok(Source {
                name: task.dir_name().to_string(),
                train: read_task(task, Split::Train, &dir)?,
                dev: read_task(task, Split::Dev, &dir)?,
                label_set: task.labels().map(|l| l.iter().map(|s| s.to_string()).collect()),
                metric: cfg.metric.unwrap_or(Metric::of_task(task)),
            })
        }
    }
}

//! The GLUE tasks (and SciTail) in their original TSV layout.

use super::{DataError, Example, Result, Split};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Cola,
    Sst2,
    Mrpc,
    Qqp,
    Stsb,
    Mnli,
    Qnli,
    Rte,
    Wnli,
    Scitail,
}

/// Where a task's fields sit in a row.
struct Columns {
    header: bool,
    text_a: usize,
    text_b: Option<usize>,
    /// `None`: the last field.
    label: Option<usize>,
}

impl Task {
    pub const ALL: [Task; 10] = [
        Task::Cola,
        Task::Sst2,
        Task::Mrpc,
        Task::Qqp,
        Task::Stsb,
        Task::Mnli,
        Task::Qnli,
        Task::Rte,
        Task::Wnli,
        Task::Scitail,
    ];

    /// Accepts the usual spellings: `rte`, `RTE`, `sst-2`, `sst2`, `sts-b`, `stsb`, `scitail`.
    pub fn parse(name: &str) -> Option<Task> {
        let n: String = name.to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        Task::ALL.into_iter().find(|t| t.dir_name().to_ascii_lowercase().replace('-', "") == n)
    }

    /// The folder name in the `GLUE_DIR` layout.
    pub fn dir_name(self) -> &'static str {
        match self {
            Task::Cola => "CoLA",
            Task::Sst2 => "SST-2",
            Task::Mrpc => "MRPC",
            Task::Qqp => "QQP",
            Task::Stsb => "STS-B",
            Task::Mnli => "MNLI",
            Task::Qnli => "QNLI",
            Task::Rte => "RTE",
            Task::Wnli => "WNLI",
            Task::Scitail => "SciTail",
        }
    }

    /// The label set (`None` for STS-B, a regression task).
    pub fn labels(self) -> Option<&'static [&'static str]> {
        match self {
            Task::Stsb => None,
            Task::Mnli => Some(&["contradiction", "entailment", "neutral"]),
            Task::Qnli | Task::Rte => Some(&["entailment", "not_entailment"]),
            Task::Scitail => Some(&["entails", "neutral"]),
            _ => Some(&["0", "1"]),
        }
    }

    pub fn file_name(self, split: Split) -> &'static str {
        match (self, split) {
            (_, Split::Train) => "train.tsv",
            (Task::Mnli, Split::Dev) => "dev_matched.tsv",
            (Task::Mnli, Split::DevMismatched) => "dev_mismatched.tsv",
            (Task::Mnli, Split::Test) => "test_matched.tsv",
            (_, Split::Test) => "test.tsv",
            _ => "dev.tsv",
        }
    }

    fn columns(self, split: Split) -> Columns {
        let c = |header, text_a, text_b, label| Columns { header, text_a, text_b, label };
        match (self, split) {
            // Test files have an index column first and no label.
            (Task::Sst2 | Task::Cola, Split::Test) => c(true, 1, None, None),
            // QQP's test file: `id question1 question2`.
            (Task::Qqp, Split::Test) => c(true, 1, Some(2), None),
            (Task::Cola, _) => c(false, 3, None, Some(1)),
            (Task::Sst2, _) => c(true, 0, None, Some(1)),
            (Task::Mrpc, _) => c(true, 3, Some(4), Some(0)),
            (Task::Qqp, _) => c(true, 3, Some(4), Some(5)),
            (Task::Stsb, _) => c(true, 7, Some(8), Some(9)),
            (Task::Mnli, _) => c(true, 8, Some(9), None),
            (Task::Qnli | Task::Rte | Task::Wnli, _) => c(true, 1, Some(2), Some(3)),
            (Task::Scitail, _) => c(false, 0, Some(1), Some(2)),
        }
    }
}

/// One split of a task, and the rows left out.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSplit {
    pub path: std::path::PathBuf,
    pub examples: Vec<Example>,
    /// Line numbers of malformed rows skipped (QQP only: its training file has rows broken by stray line
    /// breaks inside questions, which Hugging Face's processor skips).
    pub skipped_lines: Vec<usize>,
}

/// Reads one split of a task from `dir` (the task's own folder, e.g. `$GLUE_DIR/RTE`), warning when rows
/// were skipped. See [`read_task_split`].
pub fn read_task(task: Task, split: Split, dir: &Path) -> Result<Vec<Example>> {
    let read = read_task_split(task, split, dir)?;
    if let Some(first) = read.skipped_lines.first() {
        tracing::warn!(
            "{}: skipped {} malformed rows (the first at line {first}) with too few fields, as Hugging Face's \
             QQP processor does",
            read.path.display(),
            read.skipped_lines.len()
        );
    }
    Ok(read.examples)
}

/// Reads one split of a task. Rows with too few fields (skipped and counted for QQP) and labels outside
/// the task's label set are errors naming the file and line.
pub fn read_task_split(task: Task, split: Split, dir: &Path) -> Result<TaskSplit> {
    let path = dir.join(task.file_name(split));
    let text =
        std::fs::read_to_string(&path).map_err(|source| DataError::Io { path: path.clone(), source })?;
    let cols = task.columns(split);
    let has_label = split != Split::Test;
    // MRPC (and some re-saved files) begin with a UTF-8 byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    let mut skipped_lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if (cols.header && i == 0) || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        let row_err = |message: String| DataError::Row { path: path.clone(), line: line_no, message };
        let label_col = cols.label.unwrap_or(fields.len().saturating_sub(1));
        let needed = [Some(cols.text_a), cols.text_b, has_label.then_some(label_col)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        if fields.len() <= needed && task == Task::Qqp {
            skipped_lines.push(line_no);
            continue;
        }
        if fields.len() <= needed {
            return Err(row_err(format!(
                "{} fields, {} needs at least {}",
                fields.len(),
                task.dir_name(),
                needed + 1
            )));
        }
        let label = if has_label {
            let l = fields[label_col].trim().to_string();
            match task.labels() {
                Some(set) if !set.contains(&l.as_str()) => {
                    return Err(row_err(format!("label {l:?} is not one of {set:?}")));
                }
                None if l.parse::<f64>().is_err() => {
                    return Err(row_err(format!("score {l:?} is not a number")))
                }
                _ => Some(l),
            }
        } else {
            None
        };
        out.push(Example {
            text_a: fields[cols.text_a].to_string(),
            text_b: cols.text_b.map(|b| fields[b].to_string()),
            label,
        });
    }
    if out.is_empty() {
        return Err(DataError::File { path, message: "no examples".into() });
    }
    Ok(TaskSplit { path, examples: out, skipped_lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names() {
        assert_eq!(Task::parse("rte"), Some(Task::Rte));
        assert_eq!(Task::parse("SST-2"), Some(Task::Sst2));
        assert_eq!(Task::parse("sst2"), Some(Task::Sst2));
        assert_eq!(Task::parse("sts-b"), Some(Task::Stsb));
        assert_eq!(Task::parse("SciTail"), Some(Task::Scitail));
        assert_eq!(Task::parse("squad"), None);
    }

    #[test]
    fn rows_quotes_bom_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("dev.tsv"),
            "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\t\"He said\t\"no\"\n",
        )
        .unwrap();
        let ex = read_task(Task::Mrpc, Split::Dev, dir.path()).unwrap();
        assert_eq!(ex[0].text_a, "\"He said");
        assert_eq!(ex[0].text_b.as_deref(), Some("\"no\""));
        assert_eq!(ex[0].label.as_deref(), Some("1"));

        std::fs::write(
            dir.path().join("dev.tsv"),
            "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tmaybe\n",
        )
        .unwrap();
        let err = read_task(Task::Rte, Split::Dev, dir.path()).unwrap_err().to_string();
        assert!(err.contains("dev.tsv:3") && err.contains("maybe"), "{err}");
        std::fs::write(dir.path().join("dev.tsv"), "index\tsentence1\tsentence2\tlabel\n0\tonly two\n")
            .unwrap();
        let err = read_task(Task::Rte, Split::Dev, dir.path()).unwrap_err().to_string();
        assert!(err.contains("dev.tsv:2") && err.contains("2 fields"), "{err}");
        let err = read_task(Task::Rte, Split::Train, dir.path()).unwrap_err().to_string();
        assert!(err.contains("train.tsv"), "{err}");
    }
}

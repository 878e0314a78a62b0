//! GLUE as the Hugging Face Hub keeps it (`nyu-mll/glue`): one config per task, its columns, split
//! names, and `ClassLabel` ids whose names map to the labels of GLUE's TSV files, so a run on Hub data
//! sees the same label ids (and the same majority baseline) as a run on the TSV files.

use super::{Split, Task};

/// Where a task's fields sit in the Hub's schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HubSchema {
    /// The Hub config (`load_dataset("nyu-mll/glue", config)`).
    pub config: &'static str,
    pub text_a: &'static str,
    pub text_b: Option<&'static str>,
    pub label: &'static str,
    /// The `ClassLabel` names in id order (`None`: STS-B's float score).
    pub class_names: Option<&'static [&'static str]>,
    /// The TSV label of each class id.
    pub tsv_labels: Option<&'static [&'static str]>,
}

/// Repository ids that are GLUE (the current one and the old canonical name).
pub fn is_glue_repo(repo: &str) -> bool {
    matches!(repo, "nyu-mll/glue" | "glue")
}

const BINARY: &[&str] = &["0", "1"];
const NLI2: &[&str] = &["entailment", "not_entailment"];
const NLI3: &[&str] = &["entailment", "neutral", "contradiction"];

impl Task {
    /// The task's schema in `nyu-mll/glue` (`None` for SciTail, which is not part of GLUE).
    pub fn hub_schema(self) -> Option<HubSchema> {
        let s = |config, text_a, text_b, label, class_names: Option<&'static [&'static str]>, tsv| {
            HubSchema { config, text_a, text_b, label, class_names, tsv_labels: tsv }
        };
        Some(match self {
            Task::Cola => {
                s("cola", "sentence", None, "label", Some(&["unacceptable", "acceptable"]), Some(BINARY))
            }
            Task::Sst2 => s("sst2", "sentence", None, "label", Some(&["negative", "positive"]), Some(BINARY)),
            Task::Mrpc => s(
                "mrpc",
                "sentence1",
                Some("sentence2"),
                "label",
                Some(&["not_equivalent", "equivalent"]),
                Some(BINARY),
            ),
            Task::Qqp => s(
                "qqp",
                "question1",
                Some("question2"),
                "label",
                Some(&["not_duplicate", "duplicate"]),
                Some(BINARY),
            ),
            Task::Stsb => s("stsb", "sentence1", Some("sentence2"), "label", None, None),
            Task::Mnli => s("mnli", "premise", Some("hypothesis"), "label", Some(NLI3), Some(NLI3)),
            Task::Qnli => s("qnli", "question", Some("sentence"), "label", Some(NLI2), Some(NLI2)),
            Task::Rte => s("rte", "sentence1", Some("sentence2"), "label", Some(NLI2), Some(NLI2)),
            // GLUE's WNLI TSV: 1 is entailment, as the Hub's ClassLabel id 1.
            Task::Wnli => s(
                "wnli",
                "sentence1",
                Some("sentence2"),
                "label",
                Some(&["not_entailment", "entailment"]),
                Some(BINARY),
            ),
            Task::Scitail => return None,
        })
    }

    /// The Hub's name of a split (MNLI has two dev and two test sets).
    pub fn hub_split(self, split: Split) -> &'static str {
        match (self, split) {
            (_, Split::Train) => "train",
            (Task::Mnli, Split::Dev) => "validation_matched",
            (Task::Mnli, Split::DevMismatched) => "validation_mismatched",
            (Task::Mnli, Split::Test) => "test_matched",
            (_, Split::Test) => "test",
            _ => "validation",
        }
    }

    /// The task whose Hub config is `config` (`sst2`, `stsb`, ...).
    pub fn from_hub_config(config: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.hub_schema().is_some_and(|s| s.config == config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_glue_task_maps_its_classes_onto_the_tsv_label_set() {
        for task in Task::ALL {
            let Some(s) = task.hub_schema() else { continue };
            assert_eq!(Task::from_hub_config(s.config), Some(task));
            match (s.class_names, s.tsv_labels, task.labels()) {
                (Some(names), Some(tsv), Some(set)) => {
                    assert_eq!(names.len(), tsv.len());
                    let mut sorted: Vec<&str> = tsv.to_vec();
                    sorted.sort_unstable();
                    assert_eq!(sorted, set, "{task:?}");
                }
                (None, None, None) => {}
                other => panic!("{task:?}: {other:?}"),
            }
        }
    }
}

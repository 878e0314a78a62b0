//! The GLUE readers on small files in each task's real layout (`tests/fixtures/glue`): CoLA without a
//! header, MNLI's two dev sets with the label last, QQP with a broken row and its own test columns, STS-B's
//! float scores, WNLI.

use stabletune_train::data::{read_task, read_task_split};
use stabletune_train::{Split, Task};
use std::path::PathBuf;

fn dir(task: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/glue").join(task)
}

#[test]
fn cola_has_no_header() {
    let train = read_task(Task::Cola, Split::Train, &dir("CoLA")).unwrap();
    assert_eq!(train.len(), 3, "the first row is an example, not a header");
    assert_eq!(train[1].text_a, "They drank the pub.");
    assert_eq!(train[1].label.as_deref(), Some("0"));
    assert_eq!(train[2].text_a, "The \"sailors\" rode the breeze clear of the rocks.", "quotes kept");
    assert!(train[0].text_b.is_none());
    let test = read_task(Task::Cola, Split::Test, &dir("CoLA")).unwrap();
    assert_eq!((test[0].text_a.as_str(), test[0].label.as_deref()), ("Bill whistled past the house.", None));
}

#[test]
fn mnli_label_is_the_last_field_in_both_dev_sets() {
    let train = read_task(Task::Mnli, Split::Train, &dir("MNLI")).unwrap();
    let labels: Vec<_> = train.iter().map(|e| e.label.clone().unwrap()).collect();
    assert_eq!(labels, ["neutral", "entailment", "contradiction"]);
    assert_eq!(train[0].text_b.as_deref(), Some("Product and geography are what make cream skimming work. "));
    // dev_matched has 16 fields (five annotator labels, then gold_label): the gold label is read.
    let matched = read_task(Task::Mnli, Split::Dev, &dir("MNLI")).unwrap();
    assert_eq!(matched[0].label.as_deref(), Some("neutral"));
    assert_eq!(matched[1].text_a, "This site includes a list of all award winners.");
    let mismatched = read_task(Task::Mnli, Split::DevMismatched, &dir("MNLI")).unwrap();
    assert_eq!((mismatched.len(), mismatched[0].label.as_deref()), (1, Some("contradiction")));
}

#[test]
fn qqp_skips_and_counts_malformed_rows() {
    let read = read_task_split(Task::Qqp, Split::Train, &dir("QQP")).unwrap();
    assert_eq!(read.examples.len(), 2);
    assert_eq!(read.skipped_lines, vec![4, 5], "a question broken by a line break: both halves skipped");
    assert_eq!(read.examples[1].label.as_deref(), Some("1"));
    assert_eq!(read.examples[1].text_b.as_deref(), Some("How do you control your horniness?"));
    let test = read_task(Task::Qqp, Split::Test, &dir("QQP")).unwrap();
    assert_eq!(test[0].text_a, "Why am I mentally very lonely?");
    assert_eq!(test[0].text_b.as_deref(), Some("How can I stop feeling lonely?"));
    // Other tasks still refuse a short row.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("dev.tsv"), "index\tsentence1\tsentence2\tlabel\n0\ta\n").unwrap();
    let err = read_task(Task::Wnli, Split::Dev, tmp.path()).unwrap_err().to_string();
    assert!(err.contains("dev.tsv:2"), "{err}");
}

#[test]
fn stsb_scores_are_floats() {
    let train = read_task(Task::Stsb, Split::Train, &dir("STS-B")).unwrap();
    assert_eq!(train[1].text_a, "A man is playing a large flute.");
    assert_eq!(train[1].text_b.as_deref(), Some("A man is playing a flute."));
    assert_eq!(train[1].label.as_deref().map(|l| l.parse::<f64>().unwrap()), Some(3.8));
    let tmp = tempfile::tempdir().unwrap();
    let bad = std::fs::read_to_string(dir("STS-B").join("dev.tsv")).unwrap().replace("5.000", "high");
    std::fs::write(tmp.path().join("dev.tsv"), bad).unwrap();
    let err = read_task(Task::Stsb, Split::Dev, tmp.path()).unwrap_err().to_string();
    assert!(err.contains("dev.tsv:2") && err.contains("high"), "{err}");
}

#[test]
fn wnli_pairs() {
    let train = read_task(Task::Wnli, Split::Train, &dir("WNLI")).unwrap();
    assert_eq!(train.len(), 2);
    assert_eq!(train[1].text_b.as_deref(), Some("John is so short."));
    let dev = read_task(Task::Wnli, Split::Dev, &dir("WNLI")).unwrap();
    assert_eq!(dev[0].label.as_deref(), Some("0"));
}

//! `stabletune encode` end to end on the real MiniLM model and RTE data from `../shared/assets`.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn stabletune() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stabletune"))
}

fn golden() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/goldens/minilm_encode.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn max_diff(a: &Value, b: &Value) -> f64 {
    let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs()).fold(0.0, f64::max)
}

#[test]
fn encodes_rte_dev_with_the_default_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rte.jsonl");
    let status = stabletune()
        .args(["encode", "--task", "rte", "--split", "dev", "--limit", "8", "--batch-size", "3", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let lines = read_lines(&out);
    let want: Vec<_> = golden().into_iter().filter(|c| c["task"] == "rte").collect();
    assert_eq!(lines.len(), 8);
    for (got, want) in lines.iter().zip(&want) {
        assert_eq!(got["input_ids"], want["input_ids"], "input order or token ids differ");
        assert!(max_diff(&got["cls"], &want["cls"]) < 1e-4);
        assert!(max_diff(&got["pooled"], &want["pooled"]) < 1e-4);
    }
}

#[test]
fn encodes_a_jsonl_file_and_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let sst: Vec<_> = golden().into_iter().filter(|c| c["task"] == "sst-2").take(3).collect();
    let text: String =
        sst.iter().map(|c| format!("{}\n", serde_json::json!({ "text_a": c["text_a"] }))).collect();
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out.jsonl");
    let status =
        stabletune().args(["encode", "--input"]).arg(&input).arg("--out").arg(&out).status().unwrap();
    assert!(status.success());
    let lines = read_lines(&out);
    assert_eq!(lines.len(), 3);
    for (got, want) in lines.iter().zip(&sst) {
        assert_eq!(got["input_ids"], want["input_ids"]);
        assert!(max_diff(&got["cls"], &want["cls"]) < 1e-4);
    }
}

fn failure(args: &[&str]) -> String {
    let out = stabletune().args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let out = dir.path().join("o.jsonl");
    let (empty_s, out_s) = (empty.to_str().unwrap(), out.to_str().unwrap());
    let err = failure(&["encode", "--input", empty_s, "--out", out_s]);
    assert!(err.contains("empty.jsonl") && err.contains("empty"), "{err}");
    assert!(!out.exists(), "no output file after a failure");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"text_a\": \"fine\"}\n{\"text_b\": \"no text_a\"}\n").unwrap();
    let err = failure(&["encode", "--input", bad.to_str().unwrap(), "--out", out_s]);
    assert!(err.contains("bad.jsonl:2") && err.contains("text_a"), "{err}");

    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, "{\"text_a\": \"fine\"}\n").unwrap();
    let err =
        failure(&["encode", "--model", "/no/such/model", "--input", good.to_str().unwrap(), "--out", out_s]);
    assert!(err.contains("/no/such/model"), "{err}");

    let err =
        failure(&["encode", "--task", "rte", "--data-dir", dir.path().to_str().unwrap(), "--out", out_s]);
    assert!(err.contains("dev.tsv"), "{err}");

    let err = failure(&["encode", "--task", "squad", "--out", out_s]);
    assert!(err.contains("unknown task"), "{err}");
}

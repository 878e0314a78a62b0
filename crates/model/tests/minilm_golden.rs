//! The real pretrained MiniLM (`../shared/assets/models/all-MiniLM-L6-v2`) on real RTE and SST-2 dev
//! examples against transformers (`tests/goldens/minilm_encode*.json`, written by
//! `tools/make_goldens.py`): identical token ids, `cls` and `pooled` within 1e-4 absolute.

use serde_json::Value;
use stabletune_model::tokenizer::TextEncoder;
use stabletune_model::{Batch, HeadSpec, Mode, Model, Workspace};
use std::path::PathBuf;

fn assets() -> PathBuf {
    match std::env::var_os("STABLETUNE_ASSETS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/assets"),
    }
}

fn model_dir() -> PathBuf {
    let dir = assets().join("models/all-MiniLM-L6-v2");
    assert!(dir.join("model.safetensors").exists(), "the MiniLM asset is missing at {}", dir.display());
    dir
}

fn golden(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/goldens").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn ints(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn encode(enc: &TextEncoder, case: &Value) -> (Vec<u32>, Vec<u32>) {
    let e = enc.encode(case["text_a"].as_str().unwrap(), case["text_b"].as_str()).unwrap();
    (e.input_ids, e.token_type_ids)
}

#[test]
fn token_ids_match_transformers() {
    let dir = model_dir();
    let from_json = TextEncoder::from_dir(&dir, 128).unwrap();
    let from_vocab = TextEncoder::from_vocab(&dir, 128).unwrap();
    for case in golden("minilm_encode.json") {
        let want = (ints(&case["input_ids"]), ints(&case["token_type_ids"]));
        assert_eq!(encode(&from_json, &case), want, "tokenizer.json on {case:?}");
        assert_eq!(encode(&from_vocab, &case), want, "vocab.txt WordPiece on {case:?}");
    }
}

#[test]
fn hidden_states_match_transformers() {
    let (model, report) = Model::from_dir(&model_dir(), HeadSpec::default(), 0).unwrap();
    assert!(report.initialised.is_empty(), "{:?}", report.initialised);
    let h = model.config.hidden_size;
    let mut ws = Workspace::new();
    // One at a time, as the golden was made.
    for case in golden("minilm_encode.json") {
        let batch = Batch::pack(&[(ints(&case["input_ids"]), ints(&case["token_type_ids"]))]);
        model.forward(&batch, Mode::Eval, &mut ws).unwrap();
        let cls = &ws.hidden()[..h];
        let pooled = model.pooled(&batch, &ws).unwrap();
        assert!(max_diff(cls, &floats(&case["cls"])) < 1e-4, "cls of {}", case["text_a"]);
        assert!(max_diff(&pooled, &floats(&case["pooled"])) < 1e-4, "pooled of {}", case["text_a"]);
    }
    // Batched together (PyTorch padded them): batch mates must not change any sequence's outputs.
    let cases = golden("minilm_encode_batched.json");
    let seqs: Vec<_> = cases.iter().map(|c| (ints(&c["input_ids"]), ints(&c["token_type_ids"]))).collect();
    let batch = Batch::pack(&seqs);
    let lens: Vec<usize> = batch.packing.lens().collect();
    assert!(lens.iter().any(|&l| l < batch.packing.max_len()), "the batched golden should mix lengths");
    model.forward(&batch, Mode::Eval, &mut ws).unwrap();
    let pooled = model.pooled(&batch, &ws).unwrap();
    for (k, case) in cases.iter().enumerate() {
        let row = batch.row(k, 0);
        assert!(max_diff(&ws.hidden()[row * h..(row + 1) * h], &floats(&case["cls"])) < 1e-4);
        assert!(max_diff(&pooled[k * h..(k + 1) * h], &floats(&case["pooled"])) < 1e-4);
    }
}

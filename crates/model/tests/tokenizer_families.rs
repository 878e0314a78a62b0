//! RoBERTa (byte-level BPE, `<s> a </s></s> b </s>`) and ALBERT (SentencePiece unigram, `[CLS] a [SEP] b
//! [SEP]`) tokenisation against transformers, on real RTE pairs (some truncated longest-first to 128) and
//! SST-2 sentences. Fixtures and goldens from `tools/make_tokenizer_fixtures.py`; the token types are what
//! the model receives in the authors' pipeline (zeros for RoBERTa).

use stabletune_model::tokenizer::TextEncoder;
use std::path::PathBuf;

fn check(family: &str) {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(format!("tok-{family}"));
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    let max_len = golden["meta"]["max_length"].as_u64().unwrap() as usize;
    let encoder = TextEncoder::from_dir(&dir, max_len).unwrap();
    let examples = golden["examples"].as_array().unwrap();
    assert!(examples.len() >= 20);
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
    };
    let mut truncated = 0;
    for (i, e) in examples.iter().enumerate() {
        let got = encoder.encode(e["text_a"].as_str().unwrap(), e["text_b"].as_str()).unwrap();
        assert_eq!(got.input_ids, ids(&e["input_ids"]), "{family} example {i}: token ids");
        assert_eq!(got.token_type_ids, ids(&e["token_type_ids"]), "{family} example {i}: token types");
        truncated += usize::from(got.input_ids.len() == max_len);
    }
    assert!(truncated >= 4, "the long pairs exercise truncation");
}

#[test]
fn roberta_bpe_matches_transformers() {
    check("roberta");
}

#[test]
fn albert_sentencepiece_matches_transformers() {
    check("albert");
}

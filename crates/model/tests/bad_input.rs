//! Bad input is a clear error naming the file, tensor and shapes: never a panic.

use stabletune_model::hub::resolve_model_in;
use stabletune_model::{HeadSpec, Model, ModelError};
use std::path::{Path, PathBuf};

fn tiny_bert() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-bert")
}

/// A copy of the tiny BERT fixture whose config.json has `edit` applied.
fn edited_copy(edit: impl Fn(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(tiny_bert().join("model.safetensors"), dir.path().join("model.safetensors")).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tiny_bert().join("config.json")).unwrap()).unwrap();
    edit(&mut cfg);
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    dir
}

fn load_err(dir: &Path) -> String {
    match Model::from_dir(dir, HeadSpec { classifier: Some(3), masked_lm: true }, 0) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("config.json") && err.contains("cannot read"), "{err}");
    std::fs::copy(tiny_bert().join("config.json"), dir.path().join("config.json")).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("no model.safetensors"), "{err}");
}

#[test]
fn unknown_model_type() {
    let dir = edited_copy(|c| c["model_type"] = "gpt2".into());
    let err = load_err(dir.path());
    assert!(err.contains("unknown model_type \"gpt2\"") && err.contains("config.json"), "{err}");
}

#[test]
fn wrong_shape_names_tensor_and_shapes() {
    let dir = edited_copy(|c| c["intermediate_size"] = 38.into());
    let err = load_err(dir.path());
    assert!(
        err.contains("bert.encoder.layer.0.intermediate.dense.weight")
            && err.contains("[37, 32]")
            && err.contains("[38, 32]"),
        "{err}"
    );
}

#[test]
fn missing_tensor_names_it() {
    let dir = edited_copy(|c| c["num_hidden_layers"] = 3.into());
    let err = load_err(dir.path());
    assert!(
        err.contains("bert.encoder.layer.2.attention.self.query.weight") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn corrupt_checkpoint() {
    let dir = edited_copy(|_| {});
    std::fs::write(dir.path().join("model.safetensors"), b"not a checkpoint").unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("not a safetensors file") && err.contains("model.safetensors"), "{err}");
}

#[test]
fn bad_batches_are_errors() {
    let (model, _) =
        Model::from_dir(&tiny_bert(), HeadSpec { classifier: Some(3), masked_lm: false }, 0).unwrap();
    let mut ws = stabletune_model::Workspace::new();
    let too_big = stabletune_model::Batch::pack(&[(vec![2, 500], vec![0, 0])]);
    let err = model.forward(&too_big, stabletune_model::Mode::Eval, &mut ws).unwrap_err();
    assert!(matches!(err, ModelError::Input(_)) && err.to_string().contains("500"), "{err}");
    let long = stabletune_model::Batch::pack(&[(vec![2; 65], vec![0; 65])]);
    assert!(model
        .forward(&long, stabletune_model::Mode::Eval, &mut ws)
        .unwrap_err()
        .to_string()
        .contains("exceeds"));
    let ok = stabletune_model::Batch::pack(&[(vec![2, 5], vec![0, 0])]);
    let mut grads = model.zero_grads();
    let err = model
        .loss_and_grads(
            &ok,
            stabletune_model::Target::Classes(&[7]),
            stabletune_model::Mode::Eval,
            &mut ws,
            &mut grads,
        )
        .unwrap_err();
    assert!(err.to_string().contains("label 7"), "{err}");
}

#[test]
fn save_then_load_round_trips_with_hugging_face_names() {
    let heads = HeadSpec { classifier: Some(3), masked_lm: true };
    let (model, _) = Model::from_dir(&tiny_bert(), heads, 0).unwrap();
    let out = tempfile::tempdir().unwrap();
    model.save_pretrained(out.path()).unwrap();
    let (again, report) = Model::from_dir(out.path(), heads, 0).unwrap();
    assert!(report.initialised.is_empty() && report.unused.is_empty(), "{report:?}");
    assert_eq!(model.params.values, again.params.values);
    let ours: Vec<_> = again.params.infos.iter().map(|i| i.name.clone()).collect();
    let bytes = std::fs::read(tiny_bert().join("model.safetensors")).unwrap();
    let mut theirs: Vec<String> = safetensors::SafeTensors::deserialize(&bytes)
        .unwrap()
        .names()
        .into_iter()
        .map(String::from)
        .collect();
    let mut ours_sorted = ours.clone();
    ours_sorted.sort();
    theirs.sort();
    assert_eq!(ours_sorted, theirs, "saved names differ from transformers' names");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["architectures"][0], "BertForSequenceClassification");
    assert_eq!(cfg["id2label"].as_object().unwrap().len(), 3);
}

#[test]
fn new_classifier_is_initialised_from_the_seed() {
    // The MLM-free, classifier-free part of the fixture plus a fresh 5-way head.
    let heads = HeadSpec { classifier: Some(5), masked_lm: false };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(tiny_bert().join("config.json"), dir.path().join("config.json")).unwrap();
    let bytes = std::fs::read(tiny_bert().join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<_> = st.tensors().into_iter().filter(|(n, _)| !n.starts_with("classifier")).collect();
    safetensors::serialize_to_file(kept, None, &dir.path().join("model.safetensors")).unwrap();
    let (a, report) = Model::from_dir(dir.path(), heads, 1).unwrap();
    assert_eq!(report.initialised, vec!["classifier.weight", "classifier.bias"]);
    let (b, _) = Model::from_dir(dir.path(), heads, 1).unwrap();
    let (c, _) = Model::from_dir(dir.path(), heads, 2).unwrap();
    let w = |m: &Model| m.params.tensor("classifier.weight").unwrap().to_vec();
    assert_eq!(w(&a), w(&b));
    assert_ne!(w(&a), w(&c));
    let std = (w(&a).iter().map(|v| v * v).sum::<f32>() / w(&a).len() as f32).sqrt();
    assert!((std - 0.02).abs() < 0.005, "std {std}");
    assert!(a.params.tensor("classifier.bias").unwrap().iter().all(|&v| v == 0.0));
}

#[test]
fn hub_ids_resolve_through_a_local_cache() {
    let cache_dir = tempfile::tempdir().unwrap();
    let repo = cache_dir.path().join("models--stabletune--tiny-bert");
    let snapshot = repo.join("snapshots/0123456789abcdef");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123456789abcdef").unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(tiny_bert().join(f), snapshot.join(f)).unwrap();
    }
    let cache = hf_hub::Cache::new(cache_dir.path().to_path_buf());
    let dir = resolve_model_in("stabletune/tiny-bert", &cache, false).unwrap();
    assert_eq!(dir, snapshot);
    Model::from_dir(&dir, HeadSpec::default(), 0).unwrap();
    let err = resolve_model_in("stabletune/absent", &cache, false).unwrap_err().to_string();
    assert!(err.contains("stabletune/absent") && err.contains("not in the Hugging Face cache"), "{err}");
    let err = resolve_model_in("./no/such/dir", &cache, false).unwrap_err().to_string();
    assert!(err.contains("no such model folder"), "{err}");
}

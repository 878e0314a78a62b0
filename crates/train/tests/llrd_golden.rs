//! Layer-wise learning-rate decay against the revisit code's parameter grouping
//! (`crates/train/tests/goldens/llrd.json`, from `tools/make_llrd_goldens.py`): for every parameter of the
//! tiny BERT, the learning-rate factor and the weight decay the optimizer applies to it.

use serde_json::Value;
use stabletune_model::{Architecture, HeadSpec, Model};
use stabletune_train::updater::Updater;
use stabletune_train::{Overrides, TrainConfig};
use std::path::PathBuf;

#[test]
fn layerwise_decay_groups_parameters_as_the_reference() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tests/goldens/llrd.json")).unwrap())
            .unwrap();
    let heads = HeadSpec { classifier: Some(3), masked_lm: false };
    let (model, _) = Model::from_dir(&root.join("../../tests/fixtures/tiny-bert"), heads, 0).unwrap();
    let weight_decay = golden["weight_decay"].as_f64().unwrap();
    for case in golden["cases"].as_array().unwrap() {
        let decay = case["decay"].as_f64().unwrap();
        let overrides = Overrides {
            model: Some("tiny-bert".into()),
            task: Some("rte".into()),
            weight_decay: Some(weight_decay),
            layerwise_lr_decay: Some(decay),
            ..Default::default()
        };
        let cfg = TrainConfig::resolve(overrides, Architecture::Bert).unwrap();
        let updater = Updater::new(&model, &cfg);
        let params = case["parameters"].as_array().unwrap();
        assert_eq!(params.len(), updater.segments.len(), "decay {decay}: one segment per trained tensor");
        for p in params {
            let name = p["name"].as_str().unwrap();
            let range = model.params.get(name).unwrap_or_else(|| panic!("{name} not in the model")).range();
            let seg = updater.segments.iter().find(|s| s.range == range).unwrap();
            let (want_lr, want_wd) = (p["lr_factor"].as_f64().unwrap(), p["weight_decay"].as_f64().unwrap());
            assert!(
                (seg.lr_scale - want_lr).abs() <= 1e-12 * want_lr,
                "{name} at {decay}: lr x{}",
                seg.lr_scale
            );
            // What AdamW applies: the run's weight decay where the segment decays.
            let wd = if seg.decay { updater.opt.weight_decay } else { 0.0 };
            assert_eq!(wd, want_wd, "{name} at {decay}: weight decay");
        }
    }
}

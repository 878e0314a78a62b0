//! 30 updates of the tiny BERT fixture (dropout off, its own classifier weights, a given data order) under
//! devlin2019 and mosbach2021, against an explicit PyTorch implementation of the authors' AdamW, warmup-
//! linear schedule and gradient clipping (`tests/fixtures/train-golden`, from `tools/make_train_goldens.py`);
//! and under lee2020-mixout against a port of the reference Mixout with the same masks
//! (`tools/make_mixout_goldens.py`).

use safetensors::SafeTensors;
use serde_json::Value;
use stabletune_model::{Architecture, Batch, HeadSpec, Mode, Model, Target, Workspace};
use stabletune_train::config::MixoutLayers;
use stabletune_train::mixout::Mixout;
use stabletune_train::optim::AdamState;
use stabletune_train::schedule::{Schedule, ScheduleKind};
use stabletune_train::updater::Updater;
use stabletune_train::{Overrides, Recipe, TrainConfig};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn ints(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn check_recipe(recipe: Recipe) {
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("train-golden/golden.json")).unwrap())
            .unwrap();
    let mixout_golden: Option<Value> = (recipe == Recipe::Lee2020Mixout).then(|| {
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("train-golden/mixout.json")).unwrap())
            .unwrap()
    });
    let want = mixout_golden.as_ref().unwrap_or(&golden[recipe.name()]);
    let hyper = &mixout_golden.as_ref().unwrap_or(&golden)["hyper"];
    let f = |k: &str| hyper[k].as_f64().unwrap();
    let overrides = Overrides {
        model: Some("tiny-bert".into()),
        task: Some("rte".into()),
        recipe: Some(recipe),
        lr: Some(f("lr")),
        adam_beta1: Some(f("beta1")),
        adam_beta2: Some(f("beta2")),
        adam_eps: Some(f("eps")),
        weight_decay: Some(f("weight_decay")),
        max_grad_norm: Some(f("max_grad_norm")),
        // The golden mixes every linear layer (the reference port's set), pinned here rather than left to
        // the recipe's default (after-dropout).
        mixout_layers: (recipe == Recipe::Lee2020Mixout).then_some(MixoutLayers::All),
        ..Default::default()
    };
    let cfg = TrainConfig::resolve(overrides, Architecture::Bert).unwrap();
    assert_eq!(cfg.bias_correction, recipe == Recipe::Mosbach2021);

    let (mut model, _) =
        Model::from_dir(&fixtures().join("tiny-bert"), HeadSpec { classifier: Some(3), masked_lm: false }, 0)
            .unwrap();
    let mixing = cfg.mixout > 0.0;
    let mixout = mixing.then(|| Mixout::new(&model, cfg.mixout, cfg.mixout_exact_gradient, 0));
    if let (Some(m), Some(g)) = (&mixout, &mixout_golden) {
        let names: Vec<&str> = g["mixed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(m.tensor_names(), names, "the same matrices are mixed");
        assert_eq!(cfg.mixout, g["p"].as_f64().unwrap());
        // Mixout runs with every dropout off; a training pass (the only one Mixout acts in) then has none.
        (model.config.hidden_dropout, model.config.attention_dropout, model.config.classifier_dropout) =
            (cfg.hidden_dropout, cfg.attention_dropout, cfg.classifier_dropout);
        assert_eq!((cfg.hidden_dropout, cfg.attention_dropout, cfg.classifier_dropout), (0.0, 0.0, 0.0));
    }
    let mut updater = Updater::new(&model, &cfg).with_mixout(mixout);
    // Mixout divides by 1 - p = 0.1: the float32 roundoff of both sides' weights shows ten times larger in
    // the mixed weights, and so in the losses (steps differ by up to ~1.5e-6, up and down, not growing).
    let loss_tolerance = if mixing { 1e-5 } else { 1e-6 };
    let total = f("total_steps") as u64;
    let schedule =
        Schedule { kind: ScheduleKind::WarmupLinear, lr: cfg.lr, warmup: f("warmup_steps") as u64, total };
    let examples = golden["examples"].as_array().unwrap();
    let mut adam = AdamState::new(model.params.len());
    let mut grads = model.zero_grads();
    let mut ws = Workspace::new();
    for (k, batch_idx) in golden["batches"].as_array().unwrap().iter().enumerate() {
        let idx: Vec<usize> =
            batch_idx.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let seqs: Vec<_> = idx
            .iter()
            .map(|&i| (ints(&examples[i]["input_ids"]), ints(&examples[i]["token_type_ids"])))
            .collect();
        let labels: Vec<i64> = idx.iter().map(|&i| examples[i]["label"].as_i64().unwrap()).collect();
        let batch = Batch::pack(&seqs);
        let lr = schedule.lr_at(k as u64);
        let want_lr = want["lrs"][k].as_f64().unwrap();
        assert!((lr - want_lr).abs() <= 1e-15 * want_lr.abs(), "step {k}: lr {lr} vs {want_lr}");
        let mut ignore = |_: &[f32], _: &stabletune_train::updater::Update| {};
        let mode = if mixing { Mode::Train { seed: 0, step: k as u64 } } else { Mode::Eval };
        if let (Some(m), Some(g)) = (updater.mixout_mut(), &mixout_golden) {
            let masks: Vec<Vec<f32>> = m
                .tensor_names()
                .iter()
                .map(|n| {
                    g["masks"][k][*n].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
                })
                .collect();
            m.give_masks(masks);
        }
        let update = updater
            .step(
                &mut model,
                &batch,
                Target::Classes(&labels),
                mode,
                lr,
                &mut ws,
                &mut grads,
                &mut adam,
                &mut ignore,
            )
            .unwrap();
        let want_loss = want["losses"][k].as_f64().unwrap();
        assert!(
            (update.loss as f64 - want_loss).abs() <= loss_tolerance,
            "step {k}: loss {} vs {want_loss}",
            update.loss
        );
        let want_norm = want["grad_norms"][k].as_f64().unwrap();
        assert!(
            (update.grad_norm - want_norm).abs() <= 1e-5 * want_norm,
            "step {k}: norm {} vs {want_norm}",
            update.grad_norm
        );
    }
    // The word embeddings are updated lazily: bring every row up to date before reading the weights.
    updater.flush(&mut model, &mut adam);

    let bytes =
        std::fs::read(fixtures().join(format!("train-golden/final_{}.safetensors", recipe.name()))).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), model.params.infos.len());
    let mut worst = (0.0f64, String::new());
    for info in &model.params.infos {
        let view = st.tensor(&info.name).unwrap();
        let theirs: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        // The attention key bias adds the same q·b to every score of a softmax row, so its gradient is
        // exactly zero in exact arithmetic; in float32 both implementations see ~1e-8 of rounding noise,
        // which Adam's normalisation turns into updates of up to lr·g/eps per step. Those parameters
        // follow noise in both, and can only be held to an absolute bound of that size (30 steps).
        let noise_only = info.name.ends_with("attention.self.key.bias");
        // Elsewhere: 1e-5 relative, with a floor of 1e-6 of the tensor's largest magnitude for elements
        // near zero (float32 roundoff scales with the tensor, not with the element).
        let scale = theirs.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        let (rel, abs) =
            if noise_only { (0.0, 30.0 * f("lr") * 1e-8 / f("eps")) } else { (1e-5, 1e-6 * scale) };
        for (a, b) in model.params.values[info.range()].iter().zip(&theirs) {
            let ratio = (*a as f64 - *b as f64).abs() / (rel * (*b as f64).abs() + abs);
            if ratio > worst.0 {
                worst = (ratio, format!("{}: {a} vs {b}", info.name));
            }
        }
    }
    assert!(worst.0 <= 1.0, "{}: parameter beyond 1e-5 relative: {}", recipe.name(), worst.1);
}

#[test]
fn devlin2019_matches_the_authors_optimizer() {
    check_recipe(Recipe::Devlin2019);
}

#[test]
fn mosbach2021_matches_the_authors_optimizer() {
    check_recipe(Recipe::Mosbach2021);
}

#[test]
fn lee2020_mixout_matches_the_reference_mixout() {
    check_recipe(Recipe::Lee2020Mixout);
}

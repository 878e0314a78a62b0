//! The lazy word-embedding update against the dense one: the same weights, moments, losses and gradient
//! norms, bit for bit, over many steps in which most rows go untouched for a while, under every clipping
//! mode, with weight decay, bias correction on and off, layer-wise rates, and flushes in the middle.

use stabletune_engine::RandomStream;
use stabletune_model::{Batch, HeadSpec, Mode, Model, Target, Workspace};
use stabletune_train::config::{ClipMode, Overrides, Recipe, TrainConfig};
use stabletune_train::optim::AdamState;
use stabletune_train::updater::Updater;

fn fixture() -> Model {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-bert");
    Model::from_dir(&dir, HeadSpec { classifier: Some(3), masked_lm: false }, 0).unwrap().0
}

fn config(recipe: Recipe, clip: ClipMode, layerwise: Option<f64>) -> TrainConfig {
    let o = Overrides {
        model: Some("tiny".into()),
        task: Some("rte".into()),
        recipe: Some(recipe),
        lr: Some(1e-2),
        weight_decay: Some(0.1),
        clip: Some(clip),
        max_grad_norm: Some(0.5),
        layerwise_lr_decay: layerwise,
        ..Default::default()
    };
    TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap()
}

/// Trains `steps` updates; batch `s` uses token ids from a window that moves over the vocabulary, so rows
/// fall idle for several steps and come back. Flushes after steps in `flush_after`.
fn train(
    cfg: &TrainConfig,
    lazy: bool,
    steps: u64,
    flush_after: &[u64],
) -> (Vec<f32>, AdamState, Vec<(f32, f64)>) {
    let mut model = fixture();
    let vocab = model.config.vocab_size as u64;
    let mut updater = Updater::new(&model, cfg).with_lazy_rows(&model, lazy);
    let mut adam = AdamState::new(model.params.len());
    let (mut ws, mut grads) = (Workspace::new(), model.zero_grads());
    let rng = RandomStream::new(7, 0, 0);
    let mut log = Vec::new();
    for s in 0..steps {
        let seqs: Vec<_> = (0..3u64)
            .map(|b| {
                let len = 3 + rng.below(s * 8 + b, 5) as usize;
                let ids = (0..len as u64)
                    .map(|j| ((s * 7 + rng.below(s * 1000 + b * 50 + j, 12)) % vocab) as u32)
                    .collect();
                (ids, vec![0; len])
            })
            .collect();
        let batch = Batch::pack(&seqs);
        let labels: Vec<i64> = (0..3).map(|b| rng.below(s * 10 + b + 500_000, 3) as i64).collect();
        let mode = Mode::Train { seed: 1, step: s };
        let update = updater
            .step(
                &mut model,
                &batch,
                Target::Classes(&labels),
                mode,
                1e-2,
                &mut ws,
                &mut grads,
                &mut adam,
                &mut |_, _| {},
            )
            .unwrap();
        log.push((update.loss, update.grad_norm));
        if flush_after.contains(&s) {
            updater.flush(&mut model, &mut adam);
        }
    }
    updater.flush(&mut model, &mut adam);
    (model.params.values, adam, log)
}

#[test]
fn lazy_rows_give_the_dense_update_bit_for_bit() {
    let cases = [
        config(Recipe::Mosbach2021, ClipMode::Global, None),
        config(Recipe::Devlin2019, ClipMode::Global, Some(0.8)),
        config(Recipe::Mosbach2021, ClipMode::PerParameter, None),
    ];
    for cfg in &cases {
        let dense = train(cfg, false, 30, &[]);
        let lazy = train(cfg, true, 30, &[4, 5, 17]);
        assert_eq!(dense.2, lazy.2, "losses and gradient norms ({:?}, {:?})", cfg.recipe, cfg.clip);
        assert_eq!(dense.1, lazy.1, "Adam's moments ({:?}, {:?})", cfg.recipe, cfg.clip);
        assert_eq!(dense.0, lazy.0, "weights ({:?}, {:?})", cfg.recipe, cfg.clip);
        // The test means something: words went untouched for stretches, and the weights moved.
        assert_ne!(dense.0, fixture().params.values);
    }
}

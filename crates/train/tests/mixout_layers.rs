//! Which matrices Mixout mixes: `mixout_layers = "all"` (the revisit code: every linear layer) against
//! `"after-dropout"` (Lee et al.: the linear layers whose input comes out of a dropout), on the tiny BERT,
//! RoBERTa and ALBERT fixtures; and a masked-LM head trained under Mixout reads mixed, current weights.

use stabletune_model::{HeadSpec, Mode, Model, Target, Workspace};
use stabletune_train::config::MixoutLayers;
use stabletune_train::mixout::Mixout;
use stabletune_train::updater::Updater;
use stabletune_train::{Overrides, Recipe, TrainConfig};
use std::path::PathBuf;

fn model(arch: &str, heads: HeadSpec) -> Model {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(format!("tiny-{arch}"));
    Model::from_dir(&dir, heads, 0).unwrap().0
}

const CLASSIFIER: HeadSpec = HeadSpec { classifier: Some(3), masked_lm: false };

fn names(mixout: &Mixout) -> Vec<String> {
    mixout.tensor_names().into_iter().map(String::from).collect()
}

fn mixed(arch: &str, heads: HeadSpec, layers: MixoutLayers) -> Vec<String> {
    names(&Mixout::new(&model(arch, heads), 0.9, false, 0).with_layers(layers))
}

/// The list of `mixout.rs`: each name as Hugging Face spells it.
fn after_dropout(arch: &str) -> Vec<String> {
    let mut want: Vec<String> = match arch {
        "albert" => vec![
            "albert.encoder.embedding_hidden_mapping_in.weight".into(),
            "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.dense.weight".into(),
            "classifier.weight".into(),
        ],
        _ => {
            let mut v: Vec<String> = ["query", "key", "value"]
                .iter()
                .map(|m| format!("{arch}.encoder.layer.0.attention.self.{m}.weight"))
                .collect();
            v.extend((0..2).map(|l| format!("{arch}.encoder.layer.{l}.attention.output.dense.weight")));
            v.extend(match arch {
                "roberta" => vec!["classifier.dense.weight".into(), "classifier.out_proj.weight".into()],
                _ => vec!["classifier.weight".to_string()],
            });
            v
        }
    };
    want.sort();
    want
}

#[test]
fn after_dropout_mixes_the_documented_subset_of_all() {
    for arch in ["bert", "roberta", "albert"] {
        let all = mixed(arch, CLASSIFIER, MixoutLayers::All);
        let mut some = mixed(arch, CLASSIFIER, MixoutLayers::AfterDropout);
        some.sort();
        assert_eq!(some, after_dropout(arch), "{arch}");
        assert!(some.iter().all(|n| all.contains(n)), "{arch}: a subset");
        // What only "all" mixes: the layers whose input is a LayerNorm's output or the FFN activation.
        let only_all: Vec<&String> = all.iter().filter(|n| !some.contains(n)).collect();
        let kinds = match arch {
            "albert" => {
                vec!["attention.query", "attention.key", "attention.value", "ffn.", "ffn_output", "pooler"]
            }
            "bert" => vec!["layer.1.attention.self.", "intermediate.dense", "output.dense", "pooler"],
            // RoBERTa's head has its own dense layer: the pooler is off the forward path, mixed by neither.
            _ => vec!["layer.1.attention.self.", "intermediate.dense", "output.dense"],
        };
        for kind in kinds {
            assert!(
                only_all.iter().any(|n| n.contains(kind)),
                "{arch}: 'all' alone mixes {kind}: {only_all:?}"
            );
        }
        assert!(only_all
            .iter()
            .all(|n| !n.contains("attention.output.dense") && !n.starts_with("classifier")));
    }
}

#[test]
fn recipes_choose_the_set() {
    let base = Overrides { model: Some("m".into()), task: Some("rte".into()), ..Default::default() };
    let (m, _) = (model("bert", CLASSIFIER), ());
    let run = |o: Overrides| {
        let cfg = TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap();
        let mut updater = Updater::new(&m, &cfg).with_mixout(Some(Mixout::new(&m, cfg.mixout, false, 0)));
        let mut got = names(updater.mixout_mut().unwrap());
        got.sort();
        got
    };
    let lee = run(Overrides { recipe: Some(Recipe::Lee2020Mixout), ..base.clone() });
    assert_eq!(lee, after_dropout("bert"));
    let revisit = run(Overrides { mixout: Some(0.9), ..base.clone() });
    assert_eq!(revisit.len(), 2 * 6 + 2, "every linear layer: 6 a layer, the pooler, the classifier");
    let pinned = run(Overrides {
        recipe: Some(Recipe::Lee2020Mixout),
        mixout_layers: Some(MixoutLayers::All),
        ..base
    });
    assert_eq!(pinned, revisit);
}

/// The masked-LM transform is a linear layer of a head: under Mixout (all) it is mixed like the others,
/// and what a training pass reads is the mix of the *current* weights, step after step.
#[test]
fn a_masked_lm_head_reads_the_mixed_weights() {
    let mut m = model("bert", HeadSpec { classifier: None, masked_lm: true });
    let dense = "cls.predictions.transform.dense.weight";
    let range = m.params.get(dense).unwrap().range();
    let cols = m.params.get(dense).unwrap().shape[1];
    let target = m.params.values[range.clone()].to_vec();
    let mut mixout = Mixout::new(&m, 0.9, false, 0);
    assert!(names(&mixout).iter().any(|n| n == dense), "{:?}", names(&mixout));
    let at = names(&mixout).iter().position(|n| n == dense).unwrap();
    let ones = |mixout: &Mixout| mixout.masks().iter().map(|k| vec![1.0f32; k.len()]).collect::<Vec<_>>();
    let masks = ones(&mixout);
    mixout.mix_with_masks(&mut m, &masks);
    // An update moves the weights; the next step's mix must use them (M = 1: (w - p u) / (1 - p)).
    for v in &mut m.params.values[range.clone()] {
        *v += 0.01;
    }
    let mut masks = ones(&mixout);
    masks[at] = (0..cols).map(|j| (j % 2) as f32).collect();
    mixout.mix_with_masks(&mut m, &masks);
    let mixed = &m.mixed.as_ref().unwrap()[range.clone()];
    for (k, got) in mixed.iter().enumerate() {
        let (w, u, mk) = (m.params.values[range.start + k], target[k], masks[at][k % cols]);
        let want = ((1.0 - mk) * u + mk * w - 0.9f32 * u) / (1.0 - 0.9f64) as f32;
        assert_eq!(*got, want, "{dense}[{k}]");
    }
    // And the pass reads them: its loss differs from the same pass on the unmixed weights.
    let batch = stabletune_model::Batch::from_padded(&[2, 5, 7, 3], &[0; 4], &[4]);
    let mut ws = Workspace::new();
    let mut grads = m.zero_grads();
    let target = Target::MaskedLm { rows: &[1, 2], labels: &[4, 6] };
    let train = Mode::Train { seed: 0, step: 0 };
    let mixed_loss = m.loss_and_grads(&batch, target, train, &mut ws, &mut grads).unwrap();
    let plain_loss = m.loss_and_grads(&batch, target, Mode::Eval, &mut ws, &mut grads).unwrap();
    assert_ne!(mixed_loss, plain_loss);
}

/// Under after-dropout the matrices left unmixed are still read from the mixed buffer: it must hold their
/// current values, not those of the first step.
#[test]
fn unmixed_matrices_are_read_as_they_are_now() {
    let mut m = model("bert", CLASSIFIER);
    let mut mixout = Mixout::new(&m, 0.9, false, 0).with_layers(MixoutLayers::AfterDropout);
    mixout.mix(&mut m, 1);
    let ffn = m.params.get("bert.encoder.layer.1.intermediate.dense.weight").unwrap().range();
    for v in &mut m.params.values[ffn.clone()] {
        *v *= 1.5;
    }
    mixout.mix(&mut m, 2);
    assert_eq!(&m.mixed.as_ref().unwrap()[ffn.clone()], &m.params.values[ffn]);
}

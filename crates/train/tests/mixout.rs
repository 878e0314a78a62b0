//! Mixout against a PyTorch port of the reference implementation (the masks given to both sides), on
//! the tiny BERT, RoBERTa and ALBERT fixtures (`mixout_golden.safetensors`, from
//! `tools/make_mixout_goldens.py`): logits, loss and every gradient; then the masks' statistics.

use safetensors::SafeTensors;
use serde_json::Value;
use stabletune_model::{Batch, EncoderConfig, HeadSpec, Mode, Model, Target, Workspace};
use stabletune_train::mixout::Mixout;
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture(arch: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(format!("tiny-{arch}"))
}

fn tensors(path: PathBuf) -> HashMap<String, Vec<f32>> {
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            )
        })
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    match v {
        Value::Array(a) => a.iter().flat_map(ints).collect(),
        Value::Number(n) => vec![n.as_i64().unwrap()],
        other => panic!("not an integer: {other}"),
    }
}

/// The fixture's golden inputs as a packed batch, and its classification labels.
fn inputs(arch: &str) -> (Batch, Vec<i64>) {
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(arch).join("golden.json")).unwrap()).unwrap();
    let rows = g["input_ids"].as_array().unwrap().len();
    let ids: Vec<u32> = ints(&g["input_ids"]).iter().map(|&v| v as u32).collect();
    let types: Vec<u32> = ints(&g["token_type_ids"]).iter().map(|&v| v as u32).collect();
    let mask = ints(&g["attention_mask"]);
    let seq = ids.len() / rows;
    let lens: Vec<usize> =
        (0..rows).map(|b| mask[b * seq..(b + 1) * seq].iter().sum::<i64>() as usize).collect();
    (Batch::from_padded(&ids, &types, &lens), ints(&g["cls_labels"]))
}

/// Within 1e-4 relative, with a floor of 1e-6 of the tensor's largest magnitude and at least 1e-6
/// (float32 sums; the attention key bias's gradient is zero but for roundoff on both sides), as the
/// engine's own goldens.
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, w| m.max(w.abs() as f64));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let allowed = 1e-4 * (*w as f64).abs() + 1e-6 * scale;
        assert!(((*g - *w) as f64).abs() <= allowed, "{what}[{i}]: got {g:e}, want {w:e}");
    }
}

/// The model with Mixout toward the golden's targets and masks, its training pass, and the golden.
fn mixed_pass(arch: &str, exact: bool) -> (Model, Vec<f32>, f32, HashMap<String, Vec<f32>>, Mixout) {
    let golden = tensors(fixture(arch).join("mixout_golden.safetensors"));
    let (mut model, _) =
        Model::from_dir(&fixture(arch), HeadSpec { classifier: Some(3), masked_lm: false }, 0).unwrap();
    (model.config.hidden_dropout, model.config.attention_dropout, model.config.classifier_dropout) =
        (0.0, 0.0, 0.0);
    model.config.head_input_dropout = 0.0;
    // Targets: the golden's (the weights plus noise), so that the mixed weights differ from the weights.
    let weights = model.params.values.clone();
    let names: Vec<String> = model.params.infos.iter().map(|i| i.name.clone()).collect();
    for (info, name) in model.params.infos.clone().iter().zip(&names) {
        if let Some(t) = golden.get(&format!("target/{name}")) {
            model.params.values[info.range()].copy_from_slice(t);
        }
    }
    let mut mixout = Mixout::new(&model, 0.9, exact, 0);
    model.params.values.copy_from_slice(&weights);
    let mixed: Vec<&str> = mixout.tensor_names();
    let expected: Vec<&String> = names.iter().filter(|n| golden.contains_key(&format!("mask/{n}"))).collect();
    assert_eq!(mixed, expected, "{arch}: the matrices PyTorch's nn.Linear layers hold");
    let masks: Vec<Vec<f32>> = mixed.iter().map(|n| golden[&format!("mask/{n}")].clone()).collect();
    mixout.mix_with_masks(&mut model, &masks);
    let (batch, labels) = inputs(arch);
    let mut ws = Workspace::new();
    let mut grads = model.zero_grads();
    let mode = Mode::Train { seed: 0, step: 0 };
    let loss = model.loss_and_grads(&batch, Target::Classes(&labels), mode, &mut ws, &mut grads).unwrap();
    assert_close(&format!("{arch} logits"), ws.logits(), &golden["logits"]);
    assert_close(&format!("{arch} loss"), &[loss], &golden["loss"]);
    mixout.scale_grads(&mut grads);
    (model, grads, loss, golden, mixout)
}

fn check_architecture(arch: &str) {
    let (model, grads, _, golden, _) = mixed_pass(arch, false);
    let mut compared = 0;
    for info in &model.params.infos {
        match golden.get(&format!("grad/{}", info.name)) {
            Some(want) => {
                assert_close(&format!("{arch} grad {}", info.name), &grads[info.range()], want);
                compared += 1;
            }
            None => assert!(
                grads[info.range()].iter().all(|&g| g == 0.0),
                "{}: a gradient PyTorch lacks",
                info.name
            ),
        }
    }
    assert!(compared >= 20, "{arch}: only {compared} gradients compared");
    // Evaluation reads the weights themselves: Mixout is the identity outside training.
    let (batch, _) = inputs(arch);
    let mut ws = Workspace::new();
    let mut plain =
        Model::from_dir(&fixture(arch), HeadSpec { classifier: Some(3), masked_lm: false }, 0).unwrap().0;
    let eval_mixed = model.classify(&batch, Mode::Eval, &mut ws).unwrap().to_vec();
    plain.mixed = None;
    assert_eq!(eval_mixed, plain.classify(&batch, Mode::Eval, &mut ws).unwrap());
}

#[test]
fn bert_matches_the_reference_mixout() {
    check_architecture("bert");
}

#[test]
fn roberta_matches_the_reference_mixout() {
    check_architecture("roberta");
}

#[test]
fn albert_matches_the_reference_mixout() {
    check_architecture("albert");
}

#[test]
fn the_exact_gradient_is_the_references_divided_by_one_minus_p() {
    let (model, reference, ..) = mixed_pass("bert", false);
    let (_, exact, _, _, mixout) = mixed_pass("bert", true);
    for name in mixout.tensor_names() {
        let r = model.params.get(name).unwrap().range();
        for (e, g) in exact[r.clone()].iter().zip(&reference[r]) {
            assert_eq!(*e, *g * (1.0 / (1.0 - 0.9f64)) as f32, "{name}");
        }
    }
}

/// A model with a wide input dimension (4096 columns into the FFN output) and weights far from targets.
fn wide_model() -> Model {
    Model::random(
        EncoderConfig::bert_shape(1, 64, 2, 4096, 100),
        HeadSpec { classifier: Some(2), masked_lm: false },
        3,
    )
}

#[test]
fn masks_keep_one_minus_p_of_the_columns() {
    let mut model = wide_model();
    let p = 0.9;
    let mut mixout = Mixout::new(&model, p, false, 11);
    let at = mixout
        .tensor_names()
        .iter()
        .position(|n| n.ends_with("output.dense.weight") && !n.contains("attention"))
        .unwrap();
    let (mut kept, mut drawn) = (0.0f64, 0.0f64);
    for step in 0..250 {
        mixout.mix(&mut model, step);
        let m = mixout.masks()[at];
        assert!(m.iter().all(|&v| v == 0.0 || v == 1.0));
        kept += m.iter().map(|&v| v as f64).sum::<f64>();
        drawn += m.len() as f64;
    }
    // 1M draws: the kept fraction's standard error is 3e-4, so 1% of 0.1 is over 3 of them.
    let fraction = kept / drawn;
    assert!((fraction - (1.0 - p)).abs() <= 0.01 * (1.0 - p), "kept {fraction}");
    // Different steps and seeds draw different masks; the same ones the same.
    mixout.mix(&mut model, 3);
    let again = mixout.masks()[at].to_vec();
    mixout.mix(&mut model, 4);
    assert_ne!(mixout.masks()[at], again.as_slice());
    mixout.mix(&mut model, 3);
    assert_eq!(mixout.masks()[at], again.as_slice());
}

#[test]
fn the_mixed_weights_are_unbiased() {
    let mut model = wide_model();
    let targets = model.params.values.clone();
    let mut mixout = Mixout::new(&model, 0.9, false, 5);
    // Move the weights away from the targets.
    for (i, v) in model.params.values.iter_mut().enumerate() {
        *v += if i % 2 == 0 { 0.05 } else { -0.03 };
    }
    let name = mixout.tensor_names()[0].to_string();
    let range = model.params.get(&name).unwrap().range();
    let n = 4000;
    let mut sum = vec![0.0f64; range.len()];
    for step in 0..n {
        mixout.mix(&mut model, step);
        for (s, w) in sum.iter_mut().zip(&model.mixed.as_ref().unwrap()[range.clone()]) {
            *s += *w as f64;
        }
    }
    // W' = u + M (w - u) / (1 - p): a draw's std is 3 |w - u|, so the mean of n has 3 |w - u| / sqrt(n).
    let mut z_sum = 0.0;
    for (k, s) in sum.iter().enumerate() {
        let (w, u) = (model.params.values[range.start + k] as f64, targets[range.start + k] as f64);
        let z = (s / n as f64 - w) / (3.0 * (w - u).abs() / (n as f64).sqrt());
        assert!(z.abs() < 6.0, "element {k}: mean of W' is {} sd from w", z);
        z_sum += z;
    }
    // Elements of one column share their mask, so the average z is a mean over columns (64 of them).
    let mean_z = z_sum / sum.len() as f64;
    assert!(mean_z.abs() < 5.0 / 8.0, "mean z {mean_z}");
}

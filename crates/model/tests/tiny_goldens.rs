//! The engine against PyTorch + transformers on tiny random BERT, RoBERTa and ALBERT checkpoints
//! (`tests/fixtures/tiny-*`, written by `tools/make_goldens.py`): hidden states, logits, losses, and the
//! gradient of every parameter for the classification, regression and masked-LM heads, dropout off.

use safetensors::SafeTensors;
use serde_json::Value;
use stabletune_model::{Batch, HeadSpec, Mode, Model, Target, Workspace};
use std::collections::HashMap;
use std::path::PathBuf;

const REL: f64 = 1e-4;
const ABS: f64 = 1e-6;

fn fixture(arch: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(format!("tiny-{arch}"))
}

fn golden(arch: &str) -> Value {
    let text = std::fs::read_to_string(fixture(arch).join("golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn flat_f32(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat_f32).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap() as f32],
        other => panic!("not a number: {other}"),
    }
}

fn flat_i64(v: &Value) -> Vec<i64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat_i64).collect(),
        Value::Number(n) => vec![n.as_i64().unwrap()],
        other => panic!("not an integer: {other}"),
    }
}

fn batch_of(g: &Value) -> Batch {
    let rows = g["input_ids"].as_array().unwrap().len();
    let ids: Vec<u32> = flat_i64(&g["input_ids"]).iter().map(|&v| v as u32).collect();
    let types: Vec<u32> = flat_i64(&g["token_type_ids"]).iter().map(|&v| v as u32).collect();
    let mask = flat_i64(&g["attention_mask"]);
    let seq = ids.len() / rows;
    let lens: Vec<usize> =
        (0..rows).map(|b| mask[b * seq..(b + 1) * seq].iter().sum::<i64>() as usize).collect();
    Batch::from_padded(&ids, &types, &lens)
}

/// The golden's rows for real tokens only (PyTorch's outputs are padded `[rows, seq, width]`).
fn real_rows(g: &Value, padded: &[f32]) -> Vec<f32> {
    let mask = flat_i64(&g["attention_mask"]);
    let width = padded.len() / mask.len();
    mask.iter()
        .enumerate()
        .filter(|(_, &m)| m == 1)
        .flat_map(|(t, _)| &padded[t * width..(t + 1) * width])
        .copied()
        .collect()
}

/// Every element within `REL` relative, with an absolute floor of `ABS` times the tensor's largest
/// magnitude (at least `ABS`): float32 sums of values of size M carry roundoff of a few ulp of M, which
/// for an element that cancels to near zero is far more than 1e-4 of its own value.
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, w| m.max(w.abs() as f64));
    let floor = ABS * scale;
    let mut worst = (0.0f64, 0usize);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (*g as f64, *w as f64);
        let ratio = (g - w).abs() / (REL * w.abs() + floor);
        if ratio > worst.0 {
            worst = (ratio, i);
        }
    }
    let i = worst.1;
    assert!(worst.0 <= 1.0, "{what}[{i}]: got {:e}, want {:e} (scale {scale:e})", got[i], want[i]);
}

fn read_tensors(path: PathBuf) -> HashMap<String, Vec<f32>> {
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let data =
                view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            (name, data)
        })
        .collect()
}

/// Every parameter's gradient against the golden file; parameters the golden lacks must have none.
fn assert_grads(what: &str, model: &Model, grads: &[f32], golden: &HashMap<String, Vec<f32>>) {
    let mut compared = 0;
    for info in &model.params.infos {
        let ours = &grads[info.range()];
        match golden.get(&info.name) {
            Some(want) => {
                assert_close(&format!("{what} grad {}", info.name), ours, want);
                compared += 1;
            }
            None => {
                assert!(ours.iter().all(|&v| v == 0.0), "{what}: {} has a gradient PyTorch lacks", info.name)
            }
        }
    }
    assert_eq!(compared, golden.len(), "{what}: golden gradients for tensors the model lacks");
}

fn load(arch: &str, heads: HeadSpec) -> Model {
    let (model, report) = Model::from_dir(&fixture(arch), heads, 0).unwrap();
    assert!(report.initialised.is_empty(), "{arch}: initialised {:?}", report.initialised);
    model
}

fn check_architecture(arch: &str) {
    let g = golden(arch);
    let batch = batch_of(&g);
    let mut ws = Workspace::new();

    // Encoder output and pooler.
    let model = load(arch, HeadSpec { classifier: Some(3), masked_lm: true });
    model.forward(&batch, Mode::Eval, &mut ws).unwrap();
    let want = real_rows(&g, &flat_f32(&g["last_hidden_state"]));
    assert_close(&format!("{arch} last_hidden_state"), ws.hidden(), &want);
    if let Some(want) = g.get("pooled") {
        assert_close(&format!("{arch} pooled"), &model.pooled(&batch, &ws).unwrap(), &flat_f32(want));
    }

    // Classification.
    let labels = flat_i64(&g["cls_labels"]);
    let mut grads = model.zero_grads();
    let loss =
        model.loss_and_grads(&batch, Target::Classes(&labels), Mode::Eval, &mut ws, &mut grads).unwrap();
    assert_close(&format!("{arch} cls logits"), ws.logits(), &flat_f32(&g["cls_logits"]));
    assert_close(&format!("{arch} cls loss"), &[loss], &[g["cls_loss"].as_f64().unwrap() as f32]);
    assert_grads(
        &format!("{arch} cls"),
        &model,
        &grads,
        &read_tensors(fixture(arch).join("grads_cls.safetensors")),
    );

    // Masked LM at every real position (ignored labels contribute nothing but their logits are compared;
    // the golden labels no padded position).
    let mlm_labels: Vec<i64> = flat_i64(&g["mlm_labels"])
        .into_iter()
        .zip(flat_i64(&g["attention_mask"]))
        .filter(|&(_, m)| m == 1)
        .map(|(l, _)| l)
        .collect();
    let rows: Vec<usize> = (0..batch.tokens()).collect();
    let mut grads = model.zero_grads();
    let target = Target::MaskedLm { rows: &rows, labels: &mlm_labels };
    let loss = model.loss_and_grads(&batch, target, Mode::Eval, &mut ws, &mut grads).unwrap();
    assert_close(&format!("{arch} mlm logits"), ws.logits(), &real_rows(&g, &flat_f32(&g["mlm_logits"])));
    assert_close(&format!("{arch} mlm loss"), &[loss], &[g["mlm_loss"].as_f64().unwrap() as f32]);
    assert_grads(
        &format!("{arch} mlm"),
        &model,
        &grads,
        &read_tensors(fixture(arch).join("grads_mlm.safetensors")),
    );

    // Regression: the same encoder with a one-output head from regression_head.safetensors.
    let mut model =
        Model::random(model.config.clone(), HeadSpec { classifier: Some(1), masked_lm: false }, 0);
    let mut tensors = read_tensors(fixture(arch).join("model.safetensors"));
    tensors.extend(read_tensors(fixture(arch).join("regression_head.safetensors")));
    for info in model.params.infos.clone() {
        model.params.values[info.range()].copy_from_slice(&tensors[&info.name]);
    }
    let targets = flat_f32(&g["reg_labels"]);
    let mut grads = model.zero_grads();
    let loss =
        model.loss_and_grads(&batch, Target::Regression(&targets), Mode::Eval, &mut ws, &mut grads).unwrap();
    assert_close(&format!("{arch} reg logits"), ws.logits(), &flat_f32(&g["reg_logits"]));
    assert_close(&format!("{arch} reg loss"), &[loss], &[g["reg_loss"].as_f64().unwrap() as f32]);
    assert_grads(
        &format!("{arch} reg"),
        &model,
        &grads,
        &read_tensors(fixture(arch).join("grads_reg.safetensors")),
    );
}

#[test]
fn bert_matches_pytorch() {
    check_architecture("bert");
}

#[test]
fn roberta_matches_pytorch() {
    check_architecture("roberta");
}

#[test]
fn albert_matches_pytorch() {
    check_architecture("albert");
}

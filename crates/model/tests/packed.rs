//! Packed (unpadded) execution: a sequence's outputs depend on its own tokens only, never on its batch
//! mates, and the forward-only path computes exactly what the training path computes.

use stabletune_engine::RandomStream;
use stabletune_model::{Batch, EncoderConfig, HeadSpec, Mode, Model, Target, Workspace};

fn model() -> Model {
    let config = EncoderConfig::bert_shape(3, 64, 4, 128, 300);
    Model::random(config, HeadSpec { classifier: Some(3), masked_lm: false }, 9)
}

fn sequences(lens: &[usize], seed: u64) -> Vec<(Vec<u32>, Vec<u32>)> {
    let rng = RandomStream::new(seed, 0, 0);
    lens.iter()
        .enumerate()
        .map(|(b, &len)| {
            ((0..len).map(|j| rng.below((b * 512 + j) as u64, 300) as u32).collect(), vec![0; len])
        })
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// With dropout on, sequence `b` draws its masks from keys (b, position), so what comes before it in the
/// batch (other lengths, hence other rows) changes nothing: its logits agree up to the matrix products'
/// blocking. Keyed by row, the masks of sequences 2 and 3 below would move with the first two lengths.
#[test]
fn a_sequence_does_not_see_its_batch_mates() {
    let model = model();
    let mut ws = Workspace::new();
    let mode = Mode::Train { seed: 4, step: 2 };
    let mut logits = |lens: &[usize], first_two: u64| {
        let mut seqs = sequences(&lens[2..], 7);
        let mut head = sequences(&lens[..2], first_two);
        head.append(&mut seqs);
        model.classify(&Batch::pack(&head), mode, &mut ws).unwrap().to_vec()
    };
    let a = logits(&[9, 31, 4, 17], 1);
    let b = logits(&[2, 6, 4, 17], 2);
    assert!(max_diff(&a[6..], &b[6..]) < 1e-5, "{a:?} vs {b:?}");
    assert!(max_diff(&a[..6], &b[..6]) > 1e-4, "the first two sequences differ");
    // And dropout does act: evaluation mode gives other logits.
    let eval = model.classify(&Batch::pack(&sequences(&[4, 17], 7)), Mode::Eval, &mut ws).unwrap().to_vec();
    assert!(max_diff(&eval, &a[6..]) > 1e-4);
}

/// Evaluation runs forward-only (two layer caches in turn); its logits are bit for bit those of the
/// training path, before and after a training step has filled the same workspace.
#[test]
fn forward_only_equals_the_training_forward() {
    let model = model();
    let batch = Batch::pack(&sequences(&[12, 5, 20], 3));
    let mut ws = Workspace::new();
    let lean = model.classify(&batch, Mode::Eval, &mut ws).unwrap().to_vec();
    let mut grads = model.zero_grads();
    model.loss_and_grads(&batch, Target::Classes(&[0, 1, 2]), Mode::Eval, &mut ws, &mut grads).unwrap();
    assert_eq!(lean, ws.logits());
    let train = Mode::Train { seed: 1, step: 0 };
    model.loss_and_grads(&batch, Target::Classes(&[0, 1, 2]), train, &mut ws, &mut grads).unwrap();
    assert_eq!(lean, model.classify(&batch, Mode::Eval, &mut ws).unwrap());
}

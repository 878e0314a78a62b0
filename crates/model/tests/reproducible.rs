//! Same seeds, same numbers, bit for bit, at any thread count: a whole training step (dropout on) of an
//! encoder large enough that matrix products, attention heads and row kernels all run in parallel.

use stabletune_engine::par::thread_pool;
use stabletune_engine::RandomStream;
use stabletune_model::{Batch, EncoderConfig, HeadSpec, Mode, Model, Target, Workspace};

fn step(threads: usize, seed: u64) -> (f32, Vec<f32>, Vec<f32>) {
    thread_pool(threads).install(|| {
        let config = EncoderConfig::bert_shape(2, 128, 4, 256, 500);
        let model = Model::random(config, HeadSpec { classifier: Some(3), masked_lm: false }, 7);
        let rng = RandomStream::new(11, 0, 0);
        let lens = [64usize, 40, 64, 17];
        let seqs: Vec<_> = lens
            .iter()
            .enumerate()
            .map(|(b, &len)| {
                let ids = (0..len).map(|j| rng.below((b * 64 + j) as u64, 500) as u32).collect();
                (ids, vec![0; len])
            })
            .collect();
        let batch = Batch::pack(&seqs);
        let mut ws = Workspace::new();
        let mut grads = model.zero_grads();
        let mode = Mode::Train { seed, step: 3 };
        let loss =
            model.loss_and_grads(&batch, Target::Classes(&[0, 2, 1, 2]), mode, &mut ws, &mut grads).unwrap();
        (loss, ws.logits().to_vec(), grads)
    })
}

#[test]
fn a_training_step_is_bit_identical_at_1_2_and_4_threads() {
    let one = step(1, 5);
    assert!(one.2.iter().any(|&g| g != 0.0));
    assert_eq!(one, step(2, 5));
    assert_eq!(one, step(4, 5));
    // And the seed matters: another seed draws other dropout masks.
    assert_ne!(one.1, step(2, 6).1);
}

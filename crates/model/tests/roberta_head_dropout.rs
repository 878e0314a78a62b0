//! RoBERTa's head has a dropout before its dense layer that transformers ties to `classifier_dropout`;
//! the recipes switch it off on its own (`head_input_dropout`), as the authors' pooler-roberta.

use stabletune_model::{Batch, HeadSpec, Mode, Model, Workspace};

fn logits(model: &Model, mode: Mode) -> Vec<f32> {
    let batch = Batch::pack(&[(vec![0, 31, 42, 7, 2], vec![0; 5]), (vec![0, 9, 2], vec![0; 3])]);
    model.classify(&batch, mode, &mut Workspace::new()).unwrap().to_vec()
}

#[test]
fn head_input_dropout_is_its_own_setting() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-roberta");
    let (mut model, _) =
        Model::from_dir(&dir, HeadSpec { classifier: Some(3), masked_lm: false }, 0).unwrap();
    assert_eq!(model.config.head_input_dropout, model.config.classifier_dropout, "transformers' default");
    model.config.hidden_dropout = 0.0;
    model.config.attention_dropout = 0.0;
    model.config.classifier_dropout = 0.0;
    model.config.head_input_dropout = 0.0;
    let train = Mode::Train { seed: 1, step: 0 };
    assert_eq!(logits(&model, train), logits(&model, Mode::Eval), "no dropout anywhere");
    model.config.head_input_dropout = 0.5;
    assert_ne!(logits(&model, train), logits(&model, Mode::Eval), "the head's input dropout is applied");
}

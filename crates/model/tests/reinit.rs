//! Zhang et al.'s re-initialisation: the top layers' and the pooler's tensors are drawn anew (matrices
//! N(0, 0.02), biases 0, LayerNorms (1, 0)) from the seed, and nothing else changes, bit for bit.

use stabletune_model::{Architecture, EncoderConfig, HeadSpec, Model, ParamGroup};

fn model() -> Model {
    let mut m = Model::random(
        EncoderConfig::bert_shape(4, 128, 4, 512, 200),
        HeadSpec { classifier: Some(2), masked_lm: false },
        1,
    );
    // Every value 0.5, so that any change shows.
    m.params.values.fill(0.5);
    m
}

#[test]
fn the_top_layers_and_the_pooler_are_drawn_anew_and_nothing_else_moves() {
    let mut m = model();
    let names = m.reinit(2, true, 7).unwrap();
    for info in &m.params.infos {
        let v = &m.params.values[info.range()];
        let chosen = match info.group {
            ParamGroup::Layer(l) => l >= 2,
            ParamGroup::Pooler => true,
            _ => false,
        };
        assert_eq!(names.contains(&info.name), chosen, "{}", info.name);
        if !chosen {
            assert!(v.iter().all(|&x| x == 0.5), "{} changed", info.name);
        } else if info.is_layer_norm() && info.name.ends_with("weight") {
            assert!(v.iter().all(|&x| x == 1.0), "{}", info.name);
        } else if info.name.ends_with("bias") {
            assert!(v.iter().all(|&x| x == 0.0), "{}", info.name);
        } else {
            let n = v.len() as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let std = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            // Sampling error: the mean's sd is 0.02 / sqrt(n), the std's about 0.02 / sqrt(2n).
            assert!(mean.abs() < 5.0 * 0.02 / n.sqrt(), "{}: mean {mean}", info.name);
            assert!((std - 0.02).abs() < 5.0 * 0.02 / (2.0 * n).sqrt(), "{}: std {std}", info.name);
        }
    }
    // 2 layers x 16 tensors and the pooler's 2.
    assert_eq!(names.len(), 2 * 16 + 2);
    // The same seed draws the same weights; another seed others.
    let (mut a, mut b) = (model(), model());
    a.reinit(2, true, 7).unwrap();
    b.reinit(2, true, 8).unwrap();
    assert_eq!(a.params.values, m.params.values);
    assert_ne!(a.params.values, b.params.values);
}

#[test]
fn without_layers_or_pooler_nothing_changes_and_bad_requests_are_refused() {
    let mut m = model();
    assert!(m.reinit(0, false, 7).unwrap().is_empty());
    assert!(m.params.values.iter().all(|&x| x == 0.5));
    let err = m.reinit(5, false, 7).unwrap_err().to_string();
    assert!(err.contains("5 layers of a 4-layer"), "{err}");
    let mut albert = model();
    albert.config.arch = Architecture::Albert;
    let err = albert.reinit(1, true, 7).unwrap_err().to_string();
    assert!(err.contains("ALBERT"), "{err}");
}

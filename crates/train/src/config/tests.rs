//! The resolution of settings: recipes, layering, round trips and refusals.
use super::*;

fn base() -> Overrides {
    Overrides { model: Some("m".into()), task: Some("rte".into()), ..Default::default() }
}

#[test]
fn recipes_follow_table_3() {
    let c = TrainConfig::resolve(base(), Architecture::Bert).unwrap();
    assert_eq!(
        (c.recipe, c.bias_correction, c.epochs, c.evals_per_epoch),
        (Recipe::Mosbach2021, true, 20, 3)
    );
    assert_eq!((c.adam_beta2, c.weight_decay, c.max_grad_norm, c.hidden_dropout), (0.999, 0.01, 1.0, 0.1));
    let d =
        TrainConfig::resolve(Overrides { recipe: Some(Recipe::Devlin2019), ..base() }, Architecture::Roberta)
            .unwrap();
    assert_eq!(
        (d.bias_correction, d.epochs, d.adam_beta2, d.weight_decay, d.max_grad_norm),
        (false, 3, 0.98, 0.1, 0.0)
    );
    let a = TrainConfig::resolve(base(), Architecture::Albert).unwrap();
    assert_eq!((a.hidden_dropout, a.weight_decay, a.max_grad_norm), (0.0, 0.0, 1.0));
    let m =
        TrainConfig::resolve(Overrides { recipe: Some(Recipe::Lee2020Mixout), ..base() }, Architecture::Bert)
            .unwrap();
    assert_eq!((m.bias_correction, m.epochs, m.mixout, m.mixout_exact_gradient), (false, 3, 0.9, false));
    assert_eq!(m.mixout_layers, Some(MixoutLayers::AfterDropout));
    assert_eq!((m.hidden_dropout, m.attention_dropout, m.classifier_dropout), (0.0, 0.0, 0.0));
    let z = TrainConfig::resolve(
        Overrides { recipe: Some(Recipe::Zhang2021Reinit), ..base() },
        Architecture::Bert,
    )
    .unwrap();
    assert_eq!(
        (z.bias_correction, z.epochs, z.reinit_layers, z.reinit_pooler, z.mixout),
        (true, 3, 5, true, 0.0)
    );
    // The reference's weight decay 0; batch, lr, eps and clipping stay Table 3's.
    assert_eq!((z.weight_decay, z.batch_size, z.lr, z.adam_eps, z.max_grad_norm), (0.0, 16, 2e-5, 1e-6, 1.0));
    // --mixout on another recipe turns dropout off unless it is given.
    let o = Overrides { mixout: Some(0.7), attention_dropout: Some(0.1), ..base() };
    let c = TrainConfig::resolve(o, Architecture::Bert).unwrap();
    assert_eq!((c.hidden_dropout, c.attention_dropout, c.bias_correction), (0.0, 0.1, true));
    assert_eq!(c.mixout_layers, Some(MixoutLayers::All));
}

#[test]
fn settings_off_by_default_stay_out_of_the_file() {
    let c = TrainConfig::resolve(base(), Architecture::Bert).unwrap();
    let text = c.to_toml();
    for key in ["mixout", "mixout_layers", "reinit_layers", "reinit_pooler"] {
        assert!(!text.contains(key), "{key} in {text}");
    }
    let z = TrainConfig::resolve(
        Overrides { recipe: Some(Recipe::Zhang2021Reinit), ..base() },
        Architecture::Bert,
    )
    .unwrap();
    assert!(z.to_toml().contains("reinit_layers = 5"));
    let m =
        TrainConfig::resolve(Overrides { recipe: Some(Recipe::Lee2020Mixout), ..base() }, Architecture::Bert)
            .unwrap();
    assert!(m.to_toml().contains("mixout_layers = \"after-dropout\""), "{}", m.to_toml());
    let again: Overrides = toml::from_str(&m.to_toml()).unwrap();
    assert_eq!(TrainConfig::resolve(again, Architecture::Bert).unwrap(), m);
    let err = TrainConfig::resolve(
        Overrides { mixout_layers: Some(MixoutLayers::All), ..base() },
        Architecture::Bert,
    )
    .unwrap_err();
    assert!(err.contains("mixout_layers"), "{err}");
    let again: Overrides = toml::from_str(&z.to_toml()).unwrap();
    assert_eq!(TrainConfig::resolve(again, Architecture::Bert).unwrap(), z);
    let err =
        TrainConfig::resolve(Overrides { mixout: Some(1.0), ..base() }, Architecture::Bert).unwrap_err();
    assert!(err.contains("mixout"), "{err}");
}

#[test]
fn layering_seeds_and_round_trip() {
    let file = Overrides { lr: Some(3e-5), seed: Some(4), ..Default::default() };
    let cli = Overrides { lr: Some(1e-5), data_seed: Some(9), ..base() };
    let c = TrainConfig::resolve(cli.over(file), Architecture::Bert).unwrap();
    assert_eq!((c.lr, c.init_seed, c.data_seed), (1e-5, 4, 9));
    let again: Overrides = toml::from_str(&c.to_toml()).unwrap();
    assert_eq!(TrainConfig::resolve(again, Architecture::Bert).unwrap(), c);
}

#[test]
fn unknown_keys_and_bad_values_are_errors() {
    let err = toml::from_str::<Overrides>("lr = 1e-5\nlearning_rate = 2e-5\n").unwrap_err().to_string();
    assert!(err.contains("learning_rate"), "{err}");
    let err = TrainConfig::resolve(Overrides { lr: Some(-1.0), ..base() }, Architecture::Bert).unwrap_err();
    assert!(err.contains("lr"), "{err}");
    let err = toml::from_str::<Overrides>("recipe = \"smith2020\"\n").unwrap_err().to_string();
    assert!(err.contains("smith2020") || err.contains("unknown variant"), "{err}");
    let err = toml::from_str::<Overrides>("mixout_layers = \"some\"\n").unwrap_err().to_string();
    assert!(err.contains("some") || err.contains("unknown variant"), "{err}");
    assert_eq!("after-dropout".parse::<MixoutLayers>(), Ok(MixoutLayers::AfterDropout));
}

//! The layer-reset analysis against transformers (tools/make_layer_reset_goldens.py): perplexity of a
//! perturbed ("fine-tuned") tiny BERT, RoBERTa and ALBERT with their top k depths put back to the
//! pretrained layers, and the shipped MiniLM on real WikiText-2 text with the same masks.

use stabletune_analysis::heads::{copy_head, fit_head, load_with_mlm_slot, FitOptions};
use stabletune_analysis::layer_reset::{perplexity, reset_perplexities};
use stabletune_analysis::text::{mask_block, masked_blocks, split_blocks, MaskedBlock, Specials};
use stabletune_model::tokenizer::TextEncoder;
use stabletune_model::{Mode, Model, ParamGroup, Workspace};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn minilm() -> PathBuf {
    root().join("../shared/assets/models/all-MiniLM-L6-v2")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!((got - want).abs() <= rel * want.abs(), "{what}: {got} against {want}");
}

#[test]
fn top_k_reset_matches_transformers_for_each_family() {
    for arch in ["bert", "roberta", "albert"] {
        let fixture = root().join(format!("tests/fixtures/tiny-{arch}"));
        let g = json(&fixture.join("layer_reset.json"));
        let (pre, has_head) = load_with_mlm_slot(&fixture).unwrap();
        assert!(has_head, "{arch}: the fixture has a masked-LM head");
        let (mut fine, has_head) = load_with_mlm_slot(&fixture.join("finetuned")).unwrap();
        assert!(!has_head, "{arch}: a run's checkpoint has no masked-LM head");
        copy_head(&pre, &mut fine).unwrap();
        let specials = Specials {
            cls: g["cls"].as_u64().unwrap() as u32,
            sep: g["sep"].as_u64().unwrap() as u32,
            mask: g["mask"].as_u64().unwrap() as u32,
        };
        let seed = g["mask_seed"].as_u64().unwrap();
        let blocks: Vec<MaskedBlock> = g["contents"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, c)| mask_block(&ids(c), i as u64, seed, specials, pre.config.vocab_size))
            .collect();
        for (b, want) in blocks.iter().zip(g["blocks"].as_array().unwrap()) {
            assert_eq!(b.input_ids, ids(&want["input_ids"]), "{arch}: the masks differ from Python's");
            assert_eq!(b.positions, ids(&want["positions"]).iter().map(|&p| p as usize).collect::<Vec<_>>());
        }
        let (ppl, count) = reset_perplexities(&fine, &pre, &blocks).unwrap();
        assert_eq!(count, blocks.iter().map(|b| b.labels.len()).sum::<usize>());
        let want = g["perplexity"].as_array().unwrap();
        assert_eq!(ppl.len(), want.len());
        for (k, (p, w)) in ppl.iter().zip(want).enumerate() {
            close(&format!("{arch} k={k}"), *p, w.as_f64().unwrap(), 1e-4);
        }
        close(
            &format!("{arch} pretrained"),
            perplexity(&pre, &blocks).unwrap(),
            g["pretrained_perplexity"].as_f64().unwrap(),
            1e-4,
        );
    }
}

#[test]
fn depth_by_depth_is_the_forward_pass() {
    let fixture = root().join("tests/fixtures/tiny-albert");
    let (model, _) = load_with_mlm_slot(&fixture).unwrap();
    let block = mask_block(&(5..40).collect::<Vec<u32>>(), 0, 1, Specials { cls: 2, sep: 3, mask: 4 }, 99);
    let (batch, _, _) = stabletune_analysis::text::pack(&[block.clone(), block]);
    let mut ws = Workspace::new();
    model.forward(&batch, Mode::Eval, &mut ws).unwrap();
    let whole = ws.hidden().to_vec();
    model.embed(&batch, &mut ws).unwrap();
    let mut state = ws.hidden().to_vec();
    for d in 0..model.config.num_layers {
        model.forward_depths(&batch, d..d + 1, &state, &mut ws).unwrap();
        state = ws.hidden().to_vec();
    }
    assert_eq!(state, whole);
    assert!(model.forward_depths(&batch, 1..5, &state, &mut ws).is_err());
}

/// The head of the MiniLM golden: dense = identity, zero biases, LayerNorm (1, 0).
fn identity_head(model: &mut Model) {
    let h = model.config.hidden_size;
    for info in model.params.infos.clone().iter().filter(|i| i.group == ParamGroup::MaskedLm) {
        let values = &mut model.params.values[info.range()];
        values.fill(0.0);
        if info.name.ends_with("transform.dense.weight") {
            for i in 0..h {
                values[i * h + i] = 1.0;
            }
        } else if info.name.ends_with("LayerNorm.weight") {
            values.fill(1.0);
        }
    }
}

fn wikitext_head(lines: usize) -> String {
    let text = std::fs::read_to_string(root().join("../shared/assets/wikitext-2-raw/wiki.test.raw")).unwrap();
    text.split('\n').take(lines).collect::<Vec<_>>().join("\n")
}

#[test]
fn minilm_perplexity_on_wikitext_matches_python_with_the_same_masks() {
    let g = json(&root().join("tests/goldens/minilm_wikitext_perplexity.json"));
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("head.txt");
    std::fs::write(&text, wikitext_head(g["lines"].as_u64().unwrap() as usize)).unwrap();
    let encoder = TextEncoder::from_dir(&minilm(), 128).unwrap();
    let all = encoder.ids_without_specials(&std::fs::read_to_string(&text).unwrap()).unwrap();
    assert_eq!(all.len() as u64, g["tokens"].as_u64().unwrap());
    assert_eq!(all[..40], ids(&g["first_ids"])[..]);
    assert_eq!(split_blocks(&all, 510).len() as u64, g["blocks"].as_u64().unwrap());
    let (mut model, has_head) = load_with_mlm_slot(&minilm()).unwrap();
    assert!(!has_head);
    identity_head(&mut model);
    let specials = Specials::of(&encoder, model.config.arch).unwrap();
    let blocks = masked_blocks(&text, &encoder, specials, model.config.vocab_size, 510, 42, None).unwrap();
    assert_eq!(blocks[0].input_ids, ids(&g["block0_input_ids"]));
    let masked: usize = blocks.iter().map(|b| b.labels.len()).sum();
    assert_eq!(masked as u64, g["masked_tokens"].as_u64().unwrap());
    let ppl = perplexity(&model, &blocks).unwrap();
    close("MiniLM perplexity", ppl, g["perplexity"].as_f64().unwrap(), 1e-4);
    // The same numbers at any thread count: reset perplexities of the model against itself.
    let two = &blocks[..2];
    let at = |threads: usize| {
        stabletune_engine::par::thread_pool(threads)
            .install(|| reset_perplexities(&model, &model, two).unwrap())
    };
    let one = at(1);
    assert_eq!(one, at(2));
    assert_eq!(one, at(4));
    assert!(
        one.0.iter().all(|p| p.to_bits() == one.0[0].to_bits()),
        "resetting to the same weights changes nothing"
    );
}

#[test]
fn a_fitted_head_learns_is_deterministic_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("train.txt");
    std::fs::write(&text, wikitext_head(60)).unwrap();
    let encoder = TextEncoder::from_dir(&minilm(), 128).unwrap();
    let opts = FitOptions {
        text: text.clone(),
        mask_seed: 3,
        block: 510,
        max_blocks: Some(3),
        epochs: 3,
        batch: 64,
        lr: 2e-3,
        seed: 1,
    };
    let fit = |cache: Option<&Path>| {
        let (mut model, _) = load_with_mlm_slot(&minilm()).unwrap();
        let specials = Specials::of(&encoder, model.config.arch).unwrap();
        let report = fit_head(&mut model, &minilm(), &encoder, specials, &opts, cache).unwrap();
        (model.params.values, report)
    };
    let cache = dir.path().join("cache");
    let (a, ra) = fit(Some(&cache));
    assert!(ra.last_epoch_loss < ra.first_epoch_loss, "{ra:?}");
    let (b, _) = stabletune_engine::par::thread_pool(1).install(|| fit(None));
    assert!(a == b, "a fit depends on the thread count");
    let (c, rc) = fit(Some(&cache));
    assert!(a == c && ra == rc, "the cached head is the fitted one");
}

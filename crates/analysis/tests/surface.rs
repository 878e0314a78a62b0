//! The loss surface on two real MiniLM runs of SST-2: at (0, 0), (1, 0) and (0, 1) it is the loss of θp,
//! θf and θs computed directly; at θp (the pretrained encoder with the failed run's initial head) its
//! gradient norm and loss are those training logged for its first update over the same examples
//! (dropout off, one batch of the whole sample); and the grid is the same at 1 and 4 threads.

use stabletune_analysis::runs::RunInfo;
use stabletune_analysis::surface::{analyze_surface, loss_and_norm, training_examples, SurfaceOptions};
use stabletune_model::{HeadSpec, Model, Workspace};
use stabletune_train::{locations, train, Overrides, Recipe, Task, TrainConfig};
use std::path::Path;

fn small_sst2(dir: &Path) {
    let src = locations::task_dir(Task::Sst2, None);
    for (file, rows) in [("train.tsv", 40), ("dev.tsv", 20)] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let head: String = text.lines().take(rows + 1).map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join(file), head).unwrap();
    }
}

fn config(data: &Path, seed: u64) -> TrainConfig {
    let o = Overrides {
        model: Some(locations::default_model().display().to_string()),
        task: Some("sst-2".into()),
        data_dir: Some(data.to_path_buf()),
        recipe: Some(Recipe::Devlin2019),
        seed: Some(seed),
        train_limit: Some(16),
        batch_size: Some(16),
        max_steps: Some(3),
        lr: Some(1e-4),
        hidden_dropout: Some(0.0),
        attention_dropout: Some(0.0),
        classifier_dropout: Some(0.0),
        evals_per_epoch: Some(1),
        ..Default::default()
    };
    TrainConfig::resolve(o, stabletune_model::Architecture::Bert).unwrap()
}

/// The (loss, grad_norm) training logged for its first update.
fn first_update(run: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let rec: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["step"] == 1 && v.get("loss").is_some())
        .unwrap();
    (rec["loss"].as_f64().unwrap(), rec["grad_norm"].as_f64().unwrap())
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!((got - want).abs() <= rel * want.abs().max(1e-6), "{what}: {got} against {want}");
}

#[test]
fn the_surface_passes_through_the_three_models_and_trainings_first_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    small_sst2(&data);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train(&config(&data, 1), &a, false, &mut stabletune_train::trainer::Quiet).unwrap();
    train(&config(&data, 2), &b, false, &mut stabletune_train::trainer::Quiet).unwrap();

    let opts = SurfaceOptions { points: 3, range: 1.0, examples: 16, grad_norm: true, eval_batch: 5 };
    let at = |threads: usize| {
        stabletune_engine::par::thread_pool(threads).install(|| analyze_surface(None, &a, &b, &opts).unwrap())
    };
    let s = at(1);
    assert_eq!(s.axis, vec![-1.0, 0.0, 1.0]);
    // Anchors are the grid's own points where the grid has them.
    assert_eq!(s.anchors[0].loss, s.loss[1][1]);
    assert_eq!(s.anchors[1].loss, s.loss[1][2]);
    assert_eq!(s.anchors[2].loss, s.loss[2][1]);

    let (loss0, norm0) = first_update(&a);
    close("loss at θp", s.anchors[0].loss, loss0, 1e-5);
    close("gradient norm at θp", s.anchors[0].grad_norm.unwrap(), norm0, 1e-4);

    let run = RunInfo::open(&a).unwrap();
    let examples = training_examples(&run, &locations::default_model(), 16).unwrap();
    let heads = HeadSpec { classifier: Some(2), masked_lm: false };
    for (anchor, dir) in [(&s.anchors[1], &a), (&s.anchors[2], &b)] {
        let (model, _) = Model::from_dir(&dir.join("checkpoint-last"), heads, 0).unwrap();
        let (loss, norm) =
            loss_and_norm(&model, &examples, 16, true, &mut Workspace::new(), &mut Vec::new()).unwrap();
        close(&format!("loss at {}", anchor.name), anchor.loss, loss, 1e-5);
        close(&format!("gradient norm at {}", anchor.name), anchor.grad_norm.unwrap(), norm.unwrap(), 1e-4);
    }
    let four = at(4);
    assert_eq!(
        (s.loss.clone(), s.grad_norm.clone()),
        (four.loss, four.grad_norm),
        "thread count changed the surface"
    );
}

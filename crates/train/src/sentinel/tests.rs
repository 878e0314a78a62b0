//! The rule on synthetic traces shaped as the measured runs: a failed run (loss at the constant level,
//! lower-layer gradients flat), a slow starter that leaves the constant prediction after 15% of its
//! updates, a noisy successful run, and the paper's vanishing gradients.

use super::*;

const LN2: f64 = std::f64::consts::LN_2;

/// A trace of `total` updates with norms every 10 updates (1, 11, 21, ...) and evaluations every `eval`.
fn trace(
    total: u64,
    eval: u64,
    loss: impl Fn(u64) -> f64,
    lower: impl Fn(u64) -> f64,
    dev: impl Fn(u64) -> f64,
) -> Trace {
    let mut events = Vec::new();
    for step in 1..=total {
        events.push(Event::Loss(step, loss(step)));
        if (step - 1) % 10 == 0 {
            events.push(Event::Norms(step, lower(step), 0.2));
        }
        if step % eval == 0 {
            events.push(Event::Eval(step, dev(step)));
        }
    }
    Trace { events, last_step: total, complete: true }
}

fn sentinel(total: u64) -> Sentinel {
    Sentinel::new(RULE, LN2, Some(0.509), total / 10, total)
}

/// A deterministic wobble in [-1, 1] (no random stream needed for a fixed trace).
fn wobble(step: u64) -> f64 {
    ((step * 7919) % 101) as f64 / 50.0 - 1.0
}

#[test]
fn a_failed_run_is_flagged_early() {
    // Loss within 5% of ln 2 all along, lower-layer norms within 2x of their start, dev at the baseline.
    let t = trace(
        96,
        8,
        |s| LN2 * (1.0 - 0.0004 * s as f64) + 0.01 * wobble(s),
        |s| 0.06 * (1.0 + s as f64 / 96.0),
        |_| 0.509,
    );
    let w = t.replay(sentinel(96)).expect("flagged");
    assert!(w.fraction <= 0.25, "flagged only at {}", w.fraction);
    assert!(w.loss_ratio >= RULE.loss_ratio && w.lower_growth <= RULE.lower_growth);
    assert_eq!(w.last_eval, Some((w.step - w.step % 8, 0.509)));
}

#[test]
fn a_slow_starter_is_not_flagged() {
    // 640 updates; at the constant loss with flat gradients until update 96 (15%), then learning:
    // loss falls to 0.3 and the lower layers' norms grow 20x, dev leaves the baseline.
    let stuck = |s: u64| s <= 96;
    let t = trace(
        640,
        32,
        |s| if stuck(s) { LN2 + 0.01 * wobble(s) } else { (LN2 - 0.002 * (s - 96) as f64).max(0.3) },
        |s| if stuck(s) { 0.06 } else { 0.06 * (1.0 + (s - 96) as f64 / 10.0).min(20.0) },
        |s| if stuck(s) { 0.509 } else { 0.78 },
    );
    assert_eq!(t.replay(sentinel(640)), None);
}

#[test]
fn a_noisy_successful_run_is_not_flagged() {
    // Loss noisy (+-0.15) around a falling curve, single updates back near ln 2; norms grow 5-40x.
    let t = trace(
        96,
        8,
        |s| (LN2 - 0.006 * s as f64).max(0.15) + 0.15 * wobble(s),
        |s| 0.06 * (1.0 + s as f64 / 3.0) * (1.0 + 0.5 * wobble(s)),
        |s| if s < 24 { 0.509 } else { 0.75 },
    );
    assert_eq!(t.replay(sentinel(96)), None);
}

#[test]
fn vanishing_gradients_at_the_constant_loss_are_flagged() {
    // The paper's Fig. 4: the lower layers' norms fall by orders of magnitude.
    let t = trace(96, 32, |_| LN2, |s| 0.06 * (-(s as f64) / 10.0).exp(), |_| 0.509);
    assert!(t.replay(sentinel(96)).is_some());
}

#[test]
fn an_evaluation_above_the_baseline_clears_the_run() {
    // Loss and gradients as a failed run, but the dev metric says the run has left the majority class.
    let t = trace(96, 8, |_| LN2, |_| 0.06, |s| if s > 9 { 0.62 } else { 0.509 });
    assert_eq!(t.replay(sentinel(96)), None);
}

#[test]
fn nothing_is_flagged_during_the_warmup() {
    let warmup = 60;
    let t = trace(100, 200, |_| LN2, |_| 0.06, |_| 0.5);
    let w = t.replay(Sentinel::new(RULE, LN2, Some(0.5), warmup, 100)).expect("flagged after the warmup");
    assert!(w.step > warmup);
}

#[test]
fn the_constant_loss_is_the_label_entropy_or_variance() {
    use crate::dataset::Labels;
    assert!((constant_loss(&Labels::Classes(vec![0, 1, 1, 0])) - LN2).abs() < 1e-15);
    let skewed = constant_loss(&Labels::Classes(vec![0, 0, 0, 1]));
    assert!((skewed - (-(0.75f64 * 0.75f64.ln()) - 0.25 * 0.25f64.ln())).abs() < 1e-15);
    assert!((constant_loss(&Labels::Scores(vec![1.0, 3.0])) - 1.0).abs() < 1e-15);
}

#[test]
fn lower_and_top_layers_by_name() {
    let names: Vec<String> = (0..6)
        .flat_map(|i| [format!("bert.encoder.layer.{i}.output.dense.weight")])
        .chain(["bert.embeddings.word_embeddings.weight".to_string(), "classifier.weight".to_string()])
        .collect();
    let layers = Layers::of(names.iter().map(String::as_str));
    assert_eq!(
        layers.lower,
        ["bert.encoder.layer.0.output.dense.weight", "bert.encoder.layer.1.output.dense.weight"]
    );
    assert_eq!(
        layers.top,
        ["bert.encoder.layer.4.output.dense.weight", "bert.encoder.layer.5.output.dense.weight"]
    );
    let albert = ["albert.embeddings.word_embeddings.weight", "albert.pooler.weight", "classifier.weight"];
    let layers = Layers::of(albert);
    assert_eq!(layers.lower, ["albert.embeddings.word_embeddings.weight"]);
    assert_eq!(layers.top, ["albert.pooler.weight", "classifier.weight"]);
    let norms = BTreeMap::from([(names[0].clone(), 3.0), (names[1].clone(), 4.0)]);
    assert_eq!(Layers::of(names.iter().map(String::as_str)).reduce(&norms), (5.0, 0.0));
}

#[test]
fn layers_add_in_one_order_whatever_order_their_names_come_in() {
    // Training lists matrices in parameter order, the replay in the log's sorted order. With these norms the
    // sum of squares depends on the order: 1 + 1e-16 + 1e-16 is 1 from the left, 1 + 2e-16 from the right.
    let names: Vec<String> = ["query", "key", "value"]
        .iter()
        .map(|m| format!("bert.encoder.layer.0.attention.self.{m}.weight"))
        .chain((1..6).map(|i| format!("bert.encoder.layer.{i}.output.dense.weight")))
        .collect();
    let norms: BTreeMap<String, f64> =
        names.iter().cloned().zip([1e-8, 1.0, 1e-8, 1.0, 1.0, 1.0, 1.0, 1.0]).collect();
    let live = Layers::of(names.iter().map(String::as_str));
    let replayed = Layers::of(norms.keys().map(String::as_str));
    assert_eq!(live.lower, replayed.lower);
    assert_eq!(live.reduce(&norms).0.to_bits(), replayed.reduce(&norms).0.to_bits());
}

#[test]
fn a_trace_parses_the_log_and_reads_losses_as_f32() {
    let text = concat!(
        r#"{"step":0,"epoch":0.0,"eval":{"acc":0.5}}"#,
        "\n",
        r#"{"step":1,"epoch":0.1,"loss":0.1,"lr":0.0,"grad_norm":1.0,"grad_norms":{"bert.encoder.layer.0.a":3.0,"bert.encoder.layer.2.a":4.0}}"#,
        "\n",
        r#"{"step":2,"epoch":0.2,"loss":0.2,"lr":0.0,"grad_norm":1.0}"#,
        "\n",
        r#"{"step":2,"epoch":0.2,"eval":{"acc":0.6}}"#,
        "\n",
    );
    let t = Trace::parse(text, "acc").unwrap();
    assert_eq!(
        t.events,
        [
            Event::Eval(0, 0.5),
            Event::Loss(1, 0.1f32 as f64),
            Event::Norms(1, 3.0, 4.0),
            Event::Loss(2, 0.2f32 as f64),
            Event::Eval(2, 0.6)
        ]
    );
    assert!(t.complete && t.last_step == 2);
    let err = Trace::parse("{\"step\":1}\nnot json", "acc").unwrap_err();
    assert!(err.starts_with("line 2:"), "{err}");
}

//! The failure sentinel: watches a run's own training signals for the signature of a failed run (Mosbach et
//! al., Fig. 4 and 14: the training loss stays at the level of a constant prediction while the lower layers'
//! gradients stay small) and flags the run as soon as it is seen, without any extra evaluation.
//!
//! The rule ([`Rule`]) is checked at every update whose per-matrix gradient norms training logs anyway
//! (every `grad_norms_every` updates), after the warmup (runs often sit at the majority class during it
//! and leave it again). A check *hits* when
//! - the mean training loss over the last `window` updates is at least `loss_ratio` times the loss of a
//!   constant prediction of the training labels (their entropy; their variance for regression),
//! - the lower layers' gradient norm is at most `lower_growth` times its value in the first updates (a
//!   failed run's stay where they started or vanish; a learning run's grow by an order of magnitude as it
//!   leaves the constant prediction), and
//! - no evaluation after the warmup has put the dev metric above the majority baseline by more than
//!   `eval_margin` (one that does shows that the run has left the majority class).
//!
//! The run is flagged once the last `persist` checks in a row have hit and `earliest` of the updates are
//! done. Everything it reads is a deterministic function of
//! the run's config and seeds (the losses and norms are the same at any thread count), and [`Trace`]
//! replays the rule from `metrics.jsonl` exactly as it ran live, so a rule can be measured and refitted on
//! finished runs (`stabletune analyze sentinel`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the sentinel does with a run it flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentinelMode {
    /// Not watched.
    #[default]
    Off,
    /// The warning is logged and recorded in the summary; training goes on.
    Flag,
    /// A flagged run ends at once as failed (`stopped_by_sentinel`), its checkpoint kept and resumable.
    Stop,
    /// Studies only: as `stop`, and the run is replaced by one with the next unused seed.
    Restart,
}

impl SentinelMode {
    /// Whether the sentinel watches the run.
    pub fn watches(self) -> bool {
        self != SentinelMode::Off
    }

    /// Whether a flagged run is ended.
    pub fn stops(self) -> bool {
        matches!(self, SentinelMode::Stop | SentinelMode::Restart)
    }
}

/// The rule's thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// A hit needs the windowed mean loss at or above this share of the constant-prediction loss.
    pub loss_ratio: f64,
    /// ... and the lower layers' gradient norm at most this multiple of its first-updates value.
    pub lower_growth: f64,
    /// Hits in a row that flag the run.
    pub persist: u32,
    /// Updates in the loss window.
    pub window: usize,
    /// No flag before this share of the updates (hits count from the warmup's end).
    pub earliest: f64,
    /// An evaluation above the majority baseline by more than this clears the run.
    pub eval_margin: f64,
}

/// The rule as fitted by `stabletune analyze sentinel --fit` on the 20 runs of `bench/sentinel/fit-sst2.toml`
/// (best F1 of precision and recall at 25% of training over 840 rules; no rule of the grid met the target
/// there), and measured on held-out studies of another sample, another schedule and another task (README,
/// "Failure sentinel").
pub const RULE: Rule =
    Rule { loss_ratio: 0.98, lower_growth: 3.0, persist: 2, window: 20, earliest: 0.2, eval_margin: 0.01 };

/// The evidence of a flag, as written to `metrics.jsonl` and `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// The update (1-based) whose check flagged the run, and its share of the run's updates.
    pub step: u64,
    pub fraction: f64,
    /// Mean training loss over the window, the constant-prediction loss, and their ratio.
    pub loss_mean: f64,
    pub constant_loss: f64,
    pub loss_ratio: f64,
    /// The lower layers' gradient norm, its first-updates value, and their ratio.
    pub lower_norm: f64,
    pub lower_reference: f64,
    pub lower_growth: f64,
    /// The top layers' gradient norm and the lower layers' against it (evidence; not in the rule).
    pub top_norm: f64,
    pub lower_over_top: f64,
    /// The latest evaluation after the warmup (update, headline metric) and the majority baseline.
    pub last_eval: Option<(u64, f64)>,
    pub baseline: Option<f64>,
}

impl Warning {
    /// One sentence of evidence, for logs and reports.
    pub fn sentence(&self) -> String {
        let eval = match (self.last_eval, self.baseline) {
            (Some((step, v)), Some(b)) => format!("; dev metric {v:.4} at update {step}, baseline {b:.4}"),
            _ => "; no evaluation after the warmup yet".to_string(),
        };
        format!(
            "flagged at update {} ({:.0}% of training): training loss {:.4} is {:.2} of the constant-prediction \
             loss {:.4}, lower layers' gradient norm {:.3e} is {:.2}x its first-updates value{eval}",
            self.step,
            100.0 * self.fraction,
            self.loss_mean,
            self.loss_ratio,
            self.constant_loss,
            self.lower_norm,
            self.lower_growth
        )
    }
}

/// Everything the sentinel carries from update to update; kept in the resume checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SentinelState {
    /// The last `window` training losses.
    losses: Vec<f64>,
    /// Sum and count of the lower layers' norms in the first updates.
    reference_sum: f64,
    reference_count: u32,
    hits: u32,
    /// The latest evaluation after the warmup.
    last_eval: Option<(u64, f64)>,
    /// The first warning, once flagged.
    pub flagged: Option<Warning>,
}

/// The sentinel of one run.
#[derive(Clone, Debug)]
pub struct Sentinel {
    pub rule: Rule,
    /// The loss of a constant prediction of the training labels.
    pub constant_loss: f64,
    pub baseline: Option<f64>,
    pub warmup: u64,
    pub total: u64,
    pub state: SentinelState,
}

impl Sentinel {
    pub fn new(rule: Rule, constant_loss: f64, baseline: Option<f64>, warmup: u64, total: u64) -> Sentinel {
        Sentinel { rule, constant_loss, baseline, warmup, total, state: SentinelState::default() }
    }

    /// The training loss of update `step` (1-based).
    pub fn observe_loss(&mut self, loss: f64) {
        let losses = &mut self.state.losses;
        losses.push(loss);
        if losses.len() > self.rule.window {
            losses.remove(0);
        }
    }

    /// An evaluation of the headline metric after update `step`.
    pub fn observe_eval(&mut self, step: u64, value: f64) {
        if step > self.warmup {
            self.state.last_eval = Some((step, value));
        }
    }

    /// The gradient norms of update `step` (1-based), reduced to the lower and top layers ([`Layers`]):
    /// checks the rule, and returns the warning when this check flags the run (once per run).
    pub fn check(&mut self, step: u64, lower: f64, top: f64) -> Option<Warning> {
        let s = &mut self.state;
        // The first updates set the reference: those of the warmup, or the first check when it has none.
        if step <= self.warmup.max(1) || s.reference_count == 0 {
            s.reference_sum += lower;
            s.reference_count += 1;
            return None;
        }
        if s.flagged.is_some() {
            return None;
        }
        let reference = s.reference_sum / s.reference_count as f64;
        let loss_mean = s.losses.iter().sum::<f64>() / s.losses.len().max(1) as f64;
        let loss_ratio = loss_mean / self.constant_loss;
        let lower_growth = lower / reference;
        let cleared = match (s.last_eval, self.baseline) {
            (Some((_, v)), Some(b)) => v > b + self.rule.eval_margin,
            _ => false,
        };
        let hit = loss_ratio >= self.rule.loss_ratio && lower_growth <= self.rule.lower_growth && !cleared;
        s.hits = if hit { s.hits + 1 } else { 0 };
        // Hits count from the warmup's end; the flag waits for `earliest`.
        if s.hits < self.rule.persist || (step as f64) < self.rule.earliest * self.total as f64 {
            return None;
        }
        let warning = Warning {
            step,
            fraction: step as f64 / self.total.max(1) as f64,
            loss_mean,
            constant_loss: self.constant_loss,
            loss_ratio,
            lower_norm: lower,
            lower_reference: reference,
            lower_growth,
            top_norm: top,
            lower_over_top: lower / top,
            last_eval: s.last_eval,
            baseline: self.baseline,
        };
        s.flagged = Some(warning.clone());
        Some(warning)
    }
}

/// The loss of predicting the training labels' distribution for every example: the entropy of the class
/// frequencies (natural log, as the cross-entropy loss), or the variance of the scores for regression.
pub fn constant_loss(labels: &crate::dataset::Labels) -> f64 {
    match labels {
        crate::dataset::Labels::Classes(y) => {
            let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
            for &c in y {
                *counts.entry(c).or_default() += 1;
            }
            let n = y.len().max(1) as f64;
            counts.values().map(|&k| k as f64 / n).map(|p| -p * p.ln()).sum()
        }
        crate::dataset::Labels::Scores(y) => {
            let n = y.len().max(1) as f64;
            let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n;
            y.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n
        }
    }
}

/// [`constant_loss`] of a run's training sample, read from its data as training reads it (for runs whose
/// summary predates the field).
pub fn constant_loss_of(cfg: &crate::TrainConfig) -> crate::error::Result<f64> {
    let source = crate::source::load(cfg)?;
    let examples: Vec<crate::Example> = match cfg.train_limit {
        Some(k) => crate::dataset::sample_indices(source.train.len(), k, cfg.sample_seed)
            .into_iter()
            .map(|i| source.train[i].clone())
            .collect(),
        None => source.train,
    };
    let labels = crate::dataset::Labels::of(source.label_set.as_deref(), &examples, "train")?;
    Ok(constant_loss(&labels))
}

/// Which weight matrices count as the lower and the top layers: the bottom and top third of the encoder's
/// numbered layers (at least one each); in a model without numbered layers (ALBERT shares one layer), the
/// embeddings and the pooler with the classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Layers {
    pub lower: Vec<String>,
    pub top: Vec<String>,
}

impl Layers {
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str> + Clone) -> Layers {
        let index = |name: &str| -> Option<usize> {
            let rest = &name[name.find("layer.")? + "layer.".len()..];
            rest.split('.').next()?.parse().ok()
        };
        let count = names.clone().into_iter().filter_map(index).max().map(|m| m + 1);
        let (mut lower, mut top) = (Vec::new(), Vec::new());
        for name in names {
            match (count, index(name)) {
                (Some(n), Some(i)) => {
                    let third = (n / 3).max(1);
                    if i < third {
                        lower.push(name.to_string());
                    }
                    if i >= n - third {
                        top.push(name.to_string());
                    }
                }
                (None, _) if name.contains("embeddings") => lower.push(name.to_string()),
                (None, _) if name.contains("pooler") || name.contains("classifier") => {
                    top.push(name.to_string())
                }
                _ => {}
            }
        }
        // In name order, whatever order the names came in: `reduce` sums squares in this order, and training
        // (parameter order) and the replay (the log's sorted keys) must add them alike, bit for bit.
        lower.sort();
        top.sort();
        Layers { lower, top }
    }

    /// The L2 norms of the lower and the top layers' gradients together, from per-matrix norms.
    pub fn reduce(&self, norms: &BTreeMap<String, f64>) -> (f64, f64) {
        let group =
            |names: &[String]| names.iter().filter_map(|n| norms.get(n)).map(|v| v * v).sum::<f64>().sqrt();
        (group(&self.lower), group(&self.top))
    }
}

/// What the sentinel reads from a run, in the order training produced it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// An update's training loss (1-based update).
    Loss(u64, f64),
    /// An update's gradient norms of the lower and top layers.
    Norms(u64, f64, f64),
    /// An evaluation of the headline metric.
    Eval(u64, f64),
}

/// A run's signals, read back from its `metrics.jsonl`, to replay the rule as it ran live.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub events: Vec<Event>,
    /// The updates the log covers (the last logged update).
    pub last_step: u64,
    /// Whether every update's loss was logged (`log_every = 1`): without it a replay is not the live rule.
    pub complete: bool,
}

impl Trace {
    /// Parses `metrics.jsonl` text; `headline` names the metric of evaluations.
    pub fn parse(text: &str, headline: &str) -> Result<Trace, String> {
        let mut events = Vec::new();
        let mut layers: Option<Layers> = None;
        let (mut last_step, mut losses) = (0, 0u64);
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            let Some(step) = v["step"].as_u64() else { continue };
            if let Some(eval) = v.get("eval") {
                if let Some(value) = eval.get(headline).and_then(|x| x.as_f64()) {
                    events.push(Event::Eval(step, value));
                }
                continue;
            }
            let Some(loss) = v.get("loss").and_then(|x| x.as_f64()) else { continue };
            // Training wrote the f32 loss: read back as that f32, the replay sees the live value.
            events.push(Event::Loss(step, loss as f32 as f64));
            losses += 1;
            last_step = step;
            if let Some(map) = v.get("grad_norms").and_then(|x| x.as_object()) {
                let norms: BTreeMap<String, f64> =
                    map.iter().filter_map(|(k, x)| Some((k.clone(), x.as_f64()?))).collect();
                let layers = layers.get_or_insert_with(|| Layers::of(norms.keys().map(String::as_str)));
                let (lower, top) = layers.reduce(&norms);
                events.push(Event::Norms(step, lower, top));
            }
        }
        Ok(Trace { events, last_step, complete: losses == last_step })
    }

    /// The rule replayed on this trace: the first warning, if any.
    pub fn replay(&self, sentinel: Sentinel) -> Option<Warning> {
        self.replay_state(sentinel).flagged
    }

    /// The sentinel's state after the whole trace (to continue a resumed run).
    pub fn replay_state(&self, mut sentinel: Sentinel) -> SentinelState {
        for event in &self.events {
            match *event {
                Event::Loss(_, loss) => sentinel.observe_loss(loss),
                Event::Norms(step, lower, top) => {
                    sentinel.check(step, lower, top);
                }
                Event::Eval(step, value) => sentinel.observe_eval(step, value),
            }
        }
        sentinel.state
    }
}

#[cfg(test)]
mod tests;

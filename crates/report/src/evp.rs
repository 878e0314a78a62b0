//! Which value of each run the expected-validation-performance curves (Dodge et al. 2019) are drawn on.
//! Theirs, and allentune's, take each assignment's best validation score (allennlp's
//! `best_validation_<metric>`: the metrics of the epoch chosen on the validation metric), so that is the
//! default here; a run's final value is the other choice. The curves themselves are
//! [`crate::figures::evp_curves`], given runs that carry the chosen value.

use crate::error::Result;
use crate::figures::{evp_curves, Figure};
use crate::groups::Group;
use crate::load::RunData;
use serde::Serialize;

/// The value of a run that the EVP curves use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvpValue {
    /// The best evaluated dev value of the run (Dodge et al., allentune).
    #[default]
    Best,
    /// The value of the run's final model.
    Final,
}

impl EvpValue {
    /// `best` or `final`.
    pub fn parse(s: &str) -> Option<EvpValue> {
        match s {
            "best" => Some(EvpValue::Best),
            "final" => Some(EvpValue::Final),
            _ => None,
        }
    }
}

/// The lowest value a metric can take, where the metric says (a diverged run's final value).
pub fn worst_value(metric: &str) -> Option<f64> {
    match metric {
        "acc" | "f1" | "acc_and_f1" => Some(0.0),
        "mcc" | "pearson" | "spearman" | "corr" => Some(-1.0),
        _ => None,
    }
}

/// A run's best evaluated value of `metric`: the one of the evaluation the run kept as its best
/// (`best_metrics`, chosen on its headline metric as allennlp chooses on the validation metric), else
/// the highest of its evaluations.
pub fn best_value(run: &RunData, metric: &str) -> Option<f64> {
    run.best_metrics
        .get(metric)
        .copied()
        .or_else(|| run.evals.iter().filter_map(|e| e.metrics.get(metric).copied()).reduce(f64::max))
}

/// Why runs of a task are not on its curves, or are on them with an assigned value.
#[derive(Default)]
struct Counts {
    used: usize,
    diverged_as_worst: usize,
    diverged_left_out: usize,
    stopped_left_out: usize,
    not_ended: usize,
    no_value: usize,
}

/// The value a run enters the curves with (`None`: left out), counted in `counts`.
fn value_of(run: &RunData, metric: &str, choice: EvpValue, counts: &mut Counts) -> Option<f64> {
    if !run.ended() {
        counts.not_ended += 1;
        return None;
    }
    let diverged = run.status == "diverged";
    let v = match choice {
        EvpValue::Best => best_value(run, metric),
        EvpValue::Final => run.final_metrics.get(metric).copied(),
    };
    match (v, diverged) {
        (Some(v), _) => {
            counts.used += 1;
            Some(v)
        }
        // A seed that diverged still took a draw and yielded no model: leaving it out would overstate
        // what n seeds find. It ranks below every other run; its value only matters when all n draws
        // diverged, and the metric's floor says no model was found then.
        (None, true) => match worst_value(metric) {
            Some(w) => {
                counts.used += 1;
                counts.diverged_as_worst += 1;
                Some(w)
            }
            None => {
                counts.diverged_left_out += 1;
                None
            }
        },
        (None, false) if run.status == "stopped_by_schedule" => {
            counts.stopped_left_out += 1;
            None
        }
        (None, false) => {
            counts.no_value += 1;
            None
        }
    }
}

/// The values of `group`'s runs on its EVP curve under `choice`, with the run each comes from (an index
/// into `runs`): a run not ended, stopped by a schedule (under `Final`) or without a value is left out;
/// a diverged run without a value counts as the metric's floor ([`worst_value`]).
pub fn evp_values(group: &Group, runs: &[RunData], choice: EvpValue) -> Vec<(usize, f64)> {
    values(group, runs, choice, &mut Counts::default())
}

fn values(group: &Group, runs: &[RunData], choice: EvpValue, counts: &mut Counts) -> Vec<(usize, f64)> {
    group
        .runs
        .iter()
        .filter_map(|&i| value_of(&runs[i], &group.metric, choice, counts).map(|v| (i, v)))
        .collect()
}

/// The EVP figure of one task on each run's `choice` value, with a caption that says which value, and
/// how many runs are left out or enter with an assigned value and why.
pub fn evp_figure(
    task: &str,
    groups: &[&Group],
    runs: &[RunData],
    choice: EvpValue,
) -> Result<Option<Figure>> {
    let metric = groups.first().map(|g| g.metric.clone()).unwrap_or_default();
    let mut counts = Counts::default();
    // Copies of the task's runs whose final value is the chosen one, under groups renumbered to them;
    // the curves read nothing else.
    let mut chosen: Vec<RunData> = Vec::new();
    let mut renumbered: Vec<Group> = Vec::new();
    for g in groups {
        let mut members = Vec::new();
        for (i, v) in values(g, runs, choice, &mut counts) {
            let mut r = runs[i].clone();
            (r.train, r.evals, r.grad_norms) = (Vec::new(), Vec::new(), Vec::new());
            r.final_metrics = [(g.metric.clone(), v)].into_iter().collect();
            members.push(chosen.len());
            chosen.push(r);
        }
        renumbered.push(Group { runs: members, ..(*g).clone() });
    }
    let refs: Vec<&Group> = renumbered.iter().collect();
    let Some(mut fig) = evp_curves(task, &refs, &chosen)? else {
        return Ok(None);
    };
    let which = match choice {
        EvpValue::Best => format!(
            "Each run's value is its best evaluated dev {metric} (that of the evaluation the run kept as its best, \
             chosen on its headline metric, else its highest), as Dodge et al. and allentune take each assignment's \
             best validation score; runs that diverged or were stopped early enter with their best evaluation before \
             they stopped (at least the step-0 one). `--evp final` draws the final values instead."
        ),
        EvpValue::Final => format!(
            "Each run's value is the dev {metric} of its final model (`--evp final`); Dodge et al. and allentune use \
             each run's best evaluation (`--evp best`, the default)."
        ),
    };
    let mut notes = Vec::new();
    if counts.diverged_as_worst > 0 {
        notes.push(format!(
            "{} diverged run{} without a value count{} as the lowest {metric} possible ({}): a diverged seed took a \
             draw and found no model, and leaving it out would overstate what n seeds find",
            counts.diverged_as_worst,
            plural(counts.diverged_as_worst),
            if counts.diverged_as_worst == 1 { "s" } else { "" },
            worst_value(&metric).unwrap_or(f64::NAN)
        ));
    }
    if counts.diverged_left_out > 0 {
        notes.push(format!(
            "{} diverged run{} left out (no value, and {metric} has no known floor to count {} as)",
            counts.diverged_left_out,
            plural(counts.diverged_left_out),
            if counts.diverged_left_out == 1 { "it" } else { "them" }
        ));
    }
    if counts.stopped_left_out > 0 {
        notes.push(format!(
            "{} run{} stopped by the early-stopping schedule left out (no final model)",
            counts.stopped_left_out,
            plural(counts.stopped_left_out)
        ));
    }
    if counts.not_ended > 0 {
        notes.push(format!("{} run{} not ended left out", counts.not_ended, plural(counts.not_ended)));
    }
    if counts.no_value > 0 {
        notes.push(format!(
            "{} run{} without a dev {metric} left out",
            counts.no_value,
            plural(counts.no_value)
        ));
    }
    fig.caption = format!(
        "The expected best dev {metric} among n runs drawn with replacement from each configuration's runs ({} runs \
         in all), E[max] = sum_i v(i) ((i/N)^n - ((i-1)/N)^n) over the sorted values (Dodge et al. 2019); the band \
         is +-1 std of that maximum, clipped to the range of the runs. {which}{}",
        counts.used,
        if notes.is_empty() { String::new() } else { format!(" {}.", capitalise(&notes.join("; "))) }
    );
    Ok(Some(fig))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

//! Dodge et al.'s early stopping, simulated offline on a finished study (their
//! `analysis/early_stopping.py` in dodgejesse/bert_on_stilts): with a budget of B full training runs,
//! what is the expected best dev metric found by training B runs fully, and by the best plan that starts
//! s runs, stops the `stopped` worst of them after t evaluations (ranked by their best evaluation so far)
//! and trains the rest fully, spending exactly the budget (`(s - stopped) E + stopped t = B E` evaluations
//! of E per run)?
//!
//! As theirs: a run's curve starts with its evaluation at batch 0 (their grids, in
//! `batch_nums_for_early_stopping.py`, all start at 0; that evaluation follows a first update whose
//! warmup learning rate is 0, so it is the initial model in effect, as our step-0 evaluation before the
//! first update), so `t = 1` ranks runs on the model before training; the s runs are drawn with
//! replacement from the study's runs, a run's value is its best evaluation (a stopped run's best before
//! it stopped), the result is the best value of the s, and plans start at most as many runs as the
//! study has. Among plans of equal expected value the last in their order wins: they sort
//! `(value, counter, plan)` tuples and take the last (`early_stopping_analysis.py`). Their average over
//! 50 000 random draws is computed here exactly, over every ordered draw, when there are at most
//! [`EXACT_DRAWS`] of them, and otherwise over random draws from a fixed seed. Ties in the ranking go to
//! the run drawn first (numpy's default `argsort` is an insertion sort, so stable, below 17 runs).

use serde::Serialize;
use stabletune_stats::SplitMix64;

/// Up to this many ordered draws (`runs^started`), the expectation is computed exactly.
pub const EXACT_DRAWS: u64 = 2_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Runs started.
    pub started: usize,
    /// Runs stopped after `evals_before_stop` evaluations (the lowest-ranked).
    pub stopped: usize,
    pub evals_before_stop: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct BudgetResult {
    /// The budget, in full training runs.
    pub budget: usize,
    /// Expected best when `budget` runs train fully.
    pub train_fully: f64,
    /// The best plan within the budget, and its expected best.
    pub best_plan: Plan,
    pub best: f64,
    /// How many plans spend exactly the budget.
    pub plans: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Simulation {
    pub task: String,
    pub configuration: String,
    pub metric: String,
    pub runs: usize,
    /// Evaluations per run, the step-0 evaluation first.
    pub evals: usize,
    /// Of `runs`, those that ended before the last evaluation by their own rule (diverged, or stopped by
    /// `early_stopping_patience`): their later evaluations count as no better than their best so far.
    pub ended_early: usize,
    /// Exact expectations, or how many random draws each.
    pub exact: bool,
    pub samples: usize,
    pub budgets: Vec<BudgetResult>,
}

/// The plans that spend exactly `budget` full runs of `evals` evaluations, starting at most `max_started`
/// runs: training `budget` runs fully, and every (started, stopped, evals before stopping) with
/// `(started - stopped) evals + stopped t = budget evals`, in their order.
pub fn plans(budget: usize, evals: usize, max_started: usize) -> Vec<Plan> {
    let total = budget * evals;
    let mut out = Vec::new();
    for started in 1..=max_started {
        if started * evals == total {
            out.push(Plan { started, stopped: 0, evals_before_stop: evals });
        }
        for stopped in 1..=started {
            for t in 1..evals {
                if (started - stopped) * evals + stopped * t == total {
                    out.push(Plan { started, stopped, evals_before_stop: t });
                }
            }
        }
    }
    out
}

/// Prefix maxima of each run's evaluations: `best[i][t - 1]` is run i's best of its first t.
fn prefix_best(curves: &[Vec<f64>]) -> Vec<Vec<f64>> {
    curves
        .iter()
        .map(|c| {
            let mut m = f64::NEG_INFINITY;
            c.iter()
                .map(|&v| {
                    m = m.max(v);
                    m
                })
                .collect()
        })
        .collect()
}

/// The best value of one draw of runs under `plan`.
fn value_of(draw: &[usize], best: &[Vec<f64>], plan: Plan, order: &mut Vec<usize>) -> f64 {
    let e = best[0].len();
    let t = plan.evals_before_stop;
    order.clear();
    order.extend(0..draw.len());
    // Ascending by best-so-far after t evaluations; a stable sort keeps ties in draw order.
    order.sort_by(|&a, &b| best[draw[a]][t - 1].total_cmp(&best[draw[b]][t - 1]));
    order
        .iter()
        .enumerate()
        .map(|(rank, &k)| if rank < plan.stopped { best[draw[k]][t - 1] } else { best[draw[k]][e - 1] })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The expected best under `plan` over draws with replacement from `curves` (every run the same number
/// of evaluations): exact over all ordered draws when `runs^started <= EXACT_DRAWS`, else the mean over
/// `samples` random draws seeded with `seed`. Returns the value and whether it is exact.
pub fn expected_best(curves: &[Vec<f64>], plan: Plan, samples: usize, seed: u64) -> (f64, bool) {
    let best = prefix_best(curves);
    expected_best_of(&best, plan, samples, seed)
}

fn expected_best_of(best: &[Vec<f64>], plan: Plan, samples: usize, seed: u64) -> (f64, bool) {
    let n = best.len();
    let s = plan.started;
    let mut order = Vec::with_capacity(s);
    let mut draw = vec![0usize; s];
    let count = (n as u64).checked_pow(s as u32).filter(|&c| c <= EXACT_DRAWS);
    match count {
        Some(count) => {
            // Every ordered draw once: an odometer over s digits in base n.
            let mut sum = 0.0;
            for _ in 0..count {
                sum += value_of(&draw, best, plan, &mut order);
                for d in draw.iter_mut() {
                    *d += 1;
                    if *d < n {
                        break;
                    }
                    *d = 0;
                }
            }
            (sum / count as f64, true)
        }
        None => {
            let mut rng = SplitMix64::new(
                seed ^ ((s as u64) << 32) ^ ((plan.stopped as u64) << 16) ^ plan.evals_before_stop as u64,
            );
            let mut sum = 0.0;
            for _ in 0..samples {
                for d in draw.iter_mut() {
                    *d = rng.index(n);
                }
                sum += value_of(&draw, best, plan, &mut order);
            }
            (sum / samples as f64, false)
        }
    }
}

/// The simulation for budgets 1 to `min(runs, max_budget)`. `curves[i]` are run i's evaluations in order,
/// the step-0 evaluation first, all of the same length (at least 2). Also says whether every value is
/// exact.
pub fn simulate(
    curves: &[Vec<f64>],
    max_budget: usize,
    samples: usize,
    seed: u64,
) -> (Vec<BudgetResult>, bool) {
    let n = curves.len();
    let e = curves.first().map_or(0, Vec::len);
    assert!(n >= 1 && e >= 2 && curves.iter().all(|c| c.len() == e), "curves of one length, at least 2");
    let best = prefix_best(curves);
    let mut all_exact = true;
    let results = (1..=n.min(max_budget))
        .map(|budget| {
            let candidates = plans(budget, e, n);
            let mut train_fully = f64::NAN;
            let mut winner = (f64::NEG_INFINITY, candidates[0]);
            for &plan in &candidates {
                let (v, exact) = expected_best_of(&best, plan, samples, seed);
                all_exact &= exact;
                if plan.stopped == 0 {
                    train_fully = v;
                }
                // Among equals the later plan wins, as their sort of (value, counter) taken from the end.
                if v >= winner.0 {
                    winner = (v, plan);
                }
            }
            BudgetResult { budget, train_fully, best_plan: winner.1, best: winner.0, plans: candidates.len() }
        })
        .collect();
    (results, all_exact)
}

/// Draws per plan when the exact expectation is out of reach (Dodge et al. use 50 000), and their seed.
pub const SAMPLES: usize = 20_000;
pub const SEED: u64 = 20_200_214;
/// Budgets up to this many full runs, as theirs.
pub const MAX_BUDGET: usize = 30;

/// A group's runs as the simulation takes them.
struct GroupCurves {
    curves: Vec<Vec<f64>>,
    ended_early: usize,
    /// Runs left out, each with the reason.
    left_out: Vec<String>,
}

/// The curves of a group's runs, the step-0 evaluation first, or why the group cannot be simulated.
///
/// Every ended run enters except those stopped by the study's early-stopping schedule: a run trained to
/// the end with its curve; a run that ended early by its own rule (diverged, or stopped by
/// `early_stopping_patience`) with its evaluations up to then, its later ones counted as no better than
/// its best so far (a diverged model adds nothing, and patience stopped because nothing better came).
/// Their procedure needs every drawn run's full curve, which a run stopped by the schedule lacks; and the
/// runs the schedule kept are not a random sample of the configuration's runs, so a group with stopped
/// runs is not simulated at all rather than simulated on its survivors (that would overstate both
/// curves). Runs not ended, without a step-0 evaluation or evaluated off the schedule of the runs trained
/// to the end are left out and named.
fn group_curves(g: &crate::Group, runs: &[crate::RunData]) -> std::result::Result<GroupCurves, String> {
    let members: Vec<&crate::RunData> = g.runs.iter().map(|&i| &runs[i]).collect();
    let by_schedule = members.iter().filter(|r| r.status == "stopped_by_schedule").count();
    if by_schedule > 0 {
        return Err(format!(
            "{by_schedule} of its {} runs were stopped by the study's early-stopping schedule; their later \
             evaluations are unknown and the runs kept are not a random sample, so Dodge et al.'s procedure, which \
             needs every run's full curve, does not apply",
            members.len()
        ));
    }
    let points = |r: &crate::RunData| -> Vec<(u64, f64)> {
        r.evals.iter().filter_map(|e| e.metrics.get(&g.metric).map(|&v| (e.step, v))).collect()
    };
    let mut left_out = Vec::new();
    let mut usable: Vec<(&crate::RunData, Vec<(u64, f64)>)> = Vec::new();
    for r in members {
        let p = points(r);
        if !r.ended() {
            left_out.push(format!("{} ({}, not ended)", r.name, r.status));
        } else if p.first().map(|e| e.0) != Some(0) {
            left_out.push(format!("{} (no step-0 evaluation, the first point of their curves)", r.name));
        } else {
            usable.push((r, p));
        }
    }
    let steps = |p: &[(u64, f64)]| p.iter().map(|e| e.0).collect::<Vec<u64>>();
    let mut full = usable.iter().filter(|(r, _)| r.status == "completed").map(|(_, p)| steps(p));
    let Some(schedule) = full.next() else {
        return Err(
            "no run with a step-0 evaluation trained to the end, so the full schedule of evaluations \
                    is unknown"
                .into(),
        );
    };
    if full.any(|s| s != schedule) {
        return Err(
            "runs trained to the end were evaluated at different steps; the simulation needs one schedule"
                .into(),
        );
    }
    let e = schedule.len();
    let mut curves = Vec::new();
    let mut ended_early = 0;
    for (r, p) in usable {
        if p.len() > e || steps(&p) != schedule[..p.len()] {
            left_out.push(format!(
                "{} ({}, evaluated off the schedule of the runs trained to the end)",
                r.name, r.status
            ));
            continue;
        }
        let mut c: Vec<f64> = p.iter().map(|e| e.1).collect();
        if c.len() < e {
            ended_early += 1;
            let best = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            c.resize(e, best);
        }
        curves.push(c);
    }
    if curves.len() < 2 || e < 2 {
        return Err(format!(
            "{} runs usable with {e} evaluations each (step 0 included); the simulation needs 2 of each",
            curves.len()
        ));
    }
    Ok(GroupCurves { curves, ended_early, left_out })
}

/// The simulation of every group with two or more usable runs of two or more evaluations (see
/// [`group_curves`]); groups it cannot simulate, and runs it leaves out, are named in `skipped` with the
/// reason.
pub fn simulate_groups(groups: &[crate::Group], runs: &[crate::RunData]) -> (Vec<Simulation>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for g in groups {
        let name = format!("{}, {}", g.task, g.configuration);
        let gc = match group_curves(g, runs) {
            Ok(gc) => gc,
            Err(why) => {
                skipped.push(format!("{name}: {why}"));
                continue;
            }
        };
        if !gc.left_out.is_empty() {
            skipped.push(format!("{name}: runs left out of its simulation: {}", gc.left_out.join("; ")));
        }
        let (budgets, exact) = simulate(&gc.curves, MAX_BUDGET, SAMPLES, SEED);
        out.push(Simulation {
            task: g.task.clone(),
            configuration: g.configuration.clone(),
            metric: g.metric.clone(),
            runs: gc.curves.len(),
            evals: gc.curves[0].len(),
            ended_early: gc.ended_early,
            exact,
            samples: if exact { 0 } else { SAMPLES },
            budgets,
        });
    }
    (out, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_spend_exactly_the_budget() {
        let p = plans(2, 4, 6);
        assert!(p.contains(&Plan { started: 2, stopped: 0, evals_before_stop: 4 }));
        // 3 started, 2 stopped after 2 of 4 evaluations: 1 x 4 + 2 x 2 = 8.
        assert!(p.contains(&Plan { started: 3, stopped: 2, evals_before_stop: 2 }));
        for q in &p {
            assert_eq!((q.started - q.stopped) * 4 + q.stopped * q.evals_before_stop, 8);
        }
    }

    #[test]
    fn training_fully_is_the_expected_maximum_of_the_runs_best() {
        let curves = vec![vec![0.1, 0.5, 0.3], vec![0.2, 0.2, 0.9], vec![0.4, 0.6, 0.6]];
        let bests: Vec<f64> = curves.iter().map(|c| c.iter().cloned().fold(f64::MIN, f64::max)).collect();
        for s in 1..=3 {
            let (v, exact) =
                expected_best(&curves, Plan { started: s, stopped: 0, evals_before_stop: 3 }, 0, 0);
            let want = stabletune_stats::expected_max(&bests, s, stabletune_stats::Sampling::WithReplacement)
                .unwrap();
            assert!(exact && (v - want.mean).abs() < 1e-12, "{s}: {v} vs {}", want.mean);
        }
    }

    #[test]
    fn random_draws_approach_the_exact_value() {
        let curves: Vec<Vec<f64>> =
            (0..7).map(|i| (0..5).map(|j| ((i * 7 + j * 3) % 11) as f64 / 11.0).collect()).collect();
        let plan = Plan { started: 5, stopped: 3, evals_before_stop: 2 };
        let (exact, is_exact) = expected_best(&curves, plan, 0, 0);
        assert!(is_exact);
        let best = prefix_best(&curves);
        let mut order = Vec::new();
        let mut rng = SplitMix64::new(3);
        let mut sum = 0.0;
        let samples = 200_000;
        for _ in 0..samples {
            let draw: Vec<usize> = (0..5).map(|_| rng.index(7)).collect();
            sum += value_of(&draw, &best, plan, &mut order);
        }
        assert!((sum / samples as f64 - exact).abs() < 0.005);
    }
}

//! Dodge et al.'s analysis of a grid of init seeds x data seeds: how much of the variance of the
//! final dev metric each seed explains (two-way ANOVA), and whether an early evaluation predicts the
//! final one (Spearman).
//!
//! Dodge et al. train one run per cell, so the interaction of the two seeds cannot be told from
//! run-to-run noise: the residual is interaction + noise. Their measure, each factor's share of the
//! total sum of squares, is biased up (a factor with no effect still takes about df / df_total of
//! the total, 17% on a 5 x 5 grid), so the grid also carries omega squared and the variance
//! component of each seed, which are not.

use crate::groups::Group;
use crate::load::RunData;
use serde::Serialize;
use stabletune_stats::{early_final_correlation, two_way_anova_replicated, AnovaEffect};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Serialize)]
pub struct Effect {
    pub sum_sq: f64,
    pub df: f64,
    pub f: f64,
    pub p: f64,
    /// `sum_sq / total sum of squares` (Dodge et al.'s measure; biased up, see the module).
    pub share: f64,
    /// Omega squared, the nearly unbiased share: `(sum_sq - df MS_res) / (SS_total + MS_res)`;
    /// negative when the effect is below chance.
    pub omega_squared: f64,
    /// The variance of the metric this factor alone causes, `(MS - MS_res) / k` clipped at 0, `k`
    /// the runs at each level of the factor (the other factor's levels times the runs per cell).
    pub variance_component: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DodgeGrid {
    pub task: String,
    pub configuration: String,
    pub init_seeds: usize,
    pub data_seeds: usize,
    pub replicates: usize,
    /// None when the ANOVA is undefined (`undefined` says why) or the grid is left out
    /// (`left_out` says why).
    pub init: Option<Effect>,
    pub data: Option<Effect>,
    pub interaction: Option<Effect>,
    pub residual_share: Option<f64>,
    pub undefined: Option<String>,
    /// Why the grid is not analysed: a cell without a run with a final metric, or cells with
    /// different numbers of runs. The cells are in `missing_cells`.
    pub left_out: Option<String>,
    /// The (init seed, data seed) cells that have no ended run with a final metric.
    pub missing_cells: Vec<(u64, u64)>,
    /// Spearman's rho of the first evaluation after step 0 against the final metric, over the runs.
    pub early_step: Option<u64>,
    pub early_fraction: Option<f64>,
    pub spearman: Option<f64>,
    pub spearman_p: Option<f64>,
    pub spearman_undefined: Option<String>,
}

/// The analysis of every group whose runs cross two or more init seeds with two or more data seeds.
/// A complete grid (the same number of runs with a final metric in every cell) is analysed; an
/// incomplete one is listed with `left_out` naming its missing cells. Groups whose runs do not
/// cross the seeds (every init seed with a single data seed, as `seeds = 1..10` gives) are no
/// grid and are not listed.
pub fn dodge_grids(groups: &[Group], runs: &[RunData]) -> Vec<DodgeGrid> {
    groups.iter().filter_map(|g| grid(g, runs)).collect()
}

/// How many cells a message names before it counts the rest.
const NAMED_CELLS: usize = 3;

fn cell_name((init, data): (u64, u64)) -> String {
    format!("(init seed {init}, data seed {data})")
}

/// Up to [`NAMED_CELLS`] cells by name, then how many more.
fn cell_list(cells: &[(u64, u64)]) -> String {
    let mut text: Vec<String> = cells.iter().take(NAMED_CELLS).map(|&c| cell_name(c)).collect();
    if cells.len() > NAMED_CELLS {
        text.push(format!("and {} more", cells.len() - NAMED_CELLS));
    }
    text.join(", ")
}

fn grid(g: &Group, runs: &[RunData]) -> Option<DodgeGrid> {
    let members: Vec<&RunData> = g.runs.iter().map(|&i| &runs[i]).filter(|r| r.ended()).collect();
    // Every seed pair the group has a run for, and the final values of those that have one.
    let mut seen: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut cells: BTreeMap<(u64, u64), Vec<f64>> = BTreeMap::new();
    for r in g.runs.iter().map(|&i| &runs[i]) {
        let key = (r.init_seed?, r.data_seed?);
        seen.insert(key);
        if let Some(&v) = r.final_metrics.get(&g.metric).filter(|_| r.ended()) {
            cells.entry(key).or_default().push(v);
        }
    }
    let inits: Vec<u64> = seen.iter().map(|k| k.0).collect::<BTreeSet<_>>().into_iter().collect();
    let datas: Vec<u64> = seen.iter().map(|k| k.1).collect::<BTreeSet<_>>().into_iter().collect();
    // A grid crosses the seeds: some init seed with two data seeds and some data seed with two
    // init seeds. Runs with init seed = data seed (`seeds = ...`) are a diagonal, not a grid.
    let crosses = |pick: fn(&(u64, u64)) -> u64, other: fn(&(u64, u64)) -> u64| {
        let mut by: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        for k in &seen {
            by.entry(pick(k)).or_default().insert(other(k));
        }
        by.values().any(|s| s.len() >= 2)
    };
    if inits.len() < 2 || datas.len() < 2 || !crosses(|k| k.0, |k| k.1) || !crosses(|k| k.1, |k| k.0) {
        return None;
    }
    let mut out = DodgeGrid {
        task: g.task.clone(),
        configuration: g.configuration.clone(),
        init_seeds: inits.len(),
        data_seeds: datas.len(),
        replicates: cells.values().next().map_or(0, Vec::len),
        init: None,
        data: None,
        interaction: None,
        residual_share: None,
        undefined: None,
        left_out: None,
        missing_cells: Vec::new(),
        early_step: None,
        early_fraction: None,
        spearman: None,
        spearman_p: None,
        spearman_undefined: None,
    };
    out.missing_cells = inits
        .iter()
        .flat_map(|&i| datas.iter().map(move |&d| (i, d)))
        .filter(|k| !cells.contains_key(k))
        .collect();
    if !out.missing_cells.is_empty() {
        let n = out.missing_cells.len();
        out.left_out = Some(format!(
            "left out: {} of the {} x {} cells {} no ended run with a final {}: {}",
            n,
            inits.len(),
            datas.len(),
            if n == 1 { "has" } else { "have" },
            g.metric,
            cell_list(&out.missing_cells)
        ));
        return Some(out);
    }
    let counts: BTreeSet<usize> = cells.values().map(Vec::len).collect();
    if counts.len() > 1 {
        let fewest = *counts.first().expect("at least one cell");
        let short: Vec<(u64, u64)> =
            cells.iter().filter(|(_, v)| v.len() == fewest).map(|(k, _)| *k).collect();
        out.left_out = Some(format!(
            "left out: the cells differ in their number of runs ({} to {}); {} with {}: {}",
            fewest,
            counts.last().expect("at least one cell"),
            if short.len() == 1 { "the cell" } else { "the cells" },
            fewest,
            cell_list(&short)
        ));
        return Some(out);
    }
    let table: Vec<Vec<Vec<f64>>> =
        inits.iter().map(|i| datas.iter().map(|d| cells[&(*i, *d)].clone()).collect()).collect();
    match two_way_anova_replicated(&table) {
        Ok(a) => {
            let effect = |e: &AnovaEffect| Effect {
                sum_sq: e.sum_sq,
                df: e.df,
                f: e.f,
                p: e.p_value,
                share: e.sum_sq / a.total_sum_sq,
                omega_squared: e.omega_squared,
                variance_component: e.variance_component,
            };
            out.init = Some(effect(&a.rows));
            out.data = Some(effect(&a.columns));
            out.interaction = a.interaction.as_ref().map(effect);
            out.residual_share = Some(a.residual.sum_sq / a.total_sum_sq);
        }
        Err(e) => out.undefined = Some(e.to_string()),
    }
    // Early against final: the first evaluation after step 0 that every run has.
    let early_step = members.iter().filter_map(|r| r.evals.iter().map(|e| e.step).find(|&s| s > 0)).min();
    if let Some(step) = early_step {
        let pairs: Vec<(f64, f64)> = members
            .iter()
            .filter_map(|r| {
                let early = r.evals.iter().find(|e| e.step == step)?.metrics.get(&g.metric)?;
                Some((*early, *r.final_metrics.get(&g.metric)?))
            })
            .collect();
        out.early_step = Some(step);
        out.early_fraction =
            members.iter().find_map(|r| r.total_steps).map(|t| step as f64 / t.max(1) as f64);
        let (e, f): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        match early_final_correlation(&e, &f) {
            Ok(c) => {
                out.spearman = Some(c.statistic);
                out.spearman_p = Some(c.p_value);
            }
            Err(err) => out.spearman_undefined = Some(err.to_string()),
        }
    }
    Some(out)
}

/// The section's caption: what the columns are, and why Dodge et al.'s share is not enough.
pub(crate) const CAPTION: &str = "Two-way ANOVA of the final dev metric over the grid of init seeds (new weights, \
dropout) and data seeds (training order), and Spearman's correlation of the first evaluation after step 0 with the \
final metric (does an early evaluation predict the end?). With one run per cell, as Dodge et al. train, the \
interaction of the two seeds cannot be told from run-to-run noise: residual = interaction + noise. Dodge et al.'s \
share SS/SS_total is biased up: a seed with no effect at all still takes about df/df_total of the total (17% on a \
5 x 5 grid). The unbiased columns: ω² = (SS - df MS_res) / (SS_total + MS_res), the share corrected for chance \
(at or below 0: no effect beyond chance), and σ, the square root of the seed's variance component \
(MS - MS_res) / k, k the runs at each level of the seed, clipped at 0: the spread of the metric this seed alone \
causes, in the metric's units. The p-values in brackets (the ANOVA's F tests and Spearman's) are unadjusted: each \
grid is its own analysis, not one of a family of comparisons.";

/// The section as blocks, rendered alike by the HTML and Markdown writers: heading, caption, one
/// row per analysed grid, and the grids left out with the cells that keep them out.
pub(crate) fn blocks(grids: &[DodgeGrid]) -> Vec<crate::render::Block> {
    use crate::render::Block;
    use crate::verdicts::p_text;
    if grids.is_empty() {
        return Vec::new();
    }
    let share = |e: &Effect| format!("{:.1}% ({})", 100.0 * e.share, p_text(e.p));
    let omega = |e: &Effect| format!("{:.1}%", 100.0 * e.omega_squared);
    let sigma = |e: &Effect| format!("{:.4}", e.variance_component.sqrt());
    let or_dash = |e: &Option<Effect>, f: &dyn Fn(&Effect) -> String| e.as_ref().map_or("-".into(), f);
    let head = [
        "task",
        "configuration",
        "grid (init x data x runs)",
        "init SS/SS_total (unadjusted p)",
        "init ω²",
        "init σ",
        "data SS/SS_total (unadjusted p)",
        "data ω²",
        "data σ",
        "interaction SS/SS_total (unadjusted p), ω², σ",
        "residual SS/SS_total",
        "early step",
        "Spearman (unadjusted p)",
    ];
    let rows = grids
        .iter()
        .filter(|d| d.left_out.is_none())
        .map(|d| {
            let residual = match (d.residual_share, &d.undefined) {
                (Some(s), _) if d.replicates == 1 => format!("{:.1}% (interaction + noise)", 100.0 * s),
                (Some(s), _) => format!("{:.1}% (noise)", 100.0 * s),
                (None, reason) => reason.clone().unwrap_or_else(|| "-".into()),
            };
            let interaction = match &d.interaction {
                Some(e) => format!("{}, {}, {}", share(e), omega(e), sigma(e)),
                None if d.replicates == 1 => "in the residual".into(),
                None => "-".into(),
            };
            vec![
                d.task.clone(),
                d.configuration.clone(),
                format!("{} x {} x {}", d.init_seeds, d.data_seeds, d.replicates),
                or_dash(&d.init, &share),
                or_dash(&d.init, &omega),
                or_dash(&d.init, &sigma),
                or_dash(&d.data, &share),
                or_dash(&d.data, &omega),
                or_dash(&d.data, &sigma),
                interaction,
                residual,
                match (d.early_step, d.early_fraction) {
                    (Some(s), Some(f)) => format!("{s} ({:.0}%)", 100.0 * f),
                    (Some(s), None) => s.to_string(),
                    _ => "-".into(),
                },
                match (d.spearman, d.spearman_p) {
                    (Some(s), Some(p)) => format!("{s:.3} ({})", p_text(p)),
                    _ => d.spearman_undefined.clone().unwrap_or_else(|| "-".into()),
                },
            ]
        })
        .collect::<Vec<_>>();
    let mut out = vec![
        Block::Heading("Init seed against data seed (Dodge et al.)".into()),
        Block::Paragraph(CAPTION.into()),
    ];
    if !rows.is_empty() {
        out.push(Block::Table(head.map(String::from).to_vec(), rows));
    }
    let left_out: Vec<String> = grids
        .iter()
        .filter_map(|d| {
            let why = d.left_out.as_ref()?;
            Some(format!(
                "{}, {} ({} init x {} data seeds): {why}",
                d.task, d.configuration, d.init_seeds, d.data_seeds
            ))
        })
        .collect();
    if !left_out.is_empty() {
        out.push(Block::List(left_out));
    }
    out
}

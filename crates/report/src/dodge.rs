//! Dodge et al.'s analysis of a grid of init seeds x data seeds: how much of the variance of the
//! final dev metric each seed explains (two-way ANOVA), and whether an early evaluation predicts the
//! final one (Spearman).

use crate::groups::Group;
use crate::load::RunData;
use serde::Serialize;
use stabletune_stats::{early_final_correlation, two_way_anova_replicated, AnovaEffect};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize)]
pub struct Effect {
    pub sum_sq: f64,
    pub df: f64,
    pub f: f64,
    pub p: f64,
    /// `sum_sq / total sum of squares`.
    pub share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DodgeGrid {
    pub task: String,
    pub configuration: String,
    pub init_seeds: usize,
    pub data_seeds: usize,
    pub replicates: usize,
    /// None when the ANOVA is undefined; `undefined` says why.
    pub init: Option<Effect>,
    pub data: Option<Effect>,
    pub interaction: Option<Effect>,
    pub residual_share: Option<f64>,
    pub undefined: Option<String>,
    /// Spearman's rho of the first evaluation after step 0 against the final metric, over the runs.
    pub early_step: Option<u64>,
    pub early_fraction: Option<f64>,
    pub spearman: Option<f64>,
    pub spearman_p: Option<f64>,
    pub spearman_undefined: Option<String>,
}

/// The analysis of every group whose runs form a complete grid of two or more init seeds by two or
/// more data seeds (the same number of runs in every cell), with a final metric for each.
pub fn dodge_grids(groups: &[Group], runs: &[RunData]) -> Vec<DodgeGrid> {
    groups.iter().filter_map(|g| grid(g, runs)).collect()
}

fn grid(g: &Group, runs: &[RunData]) -> Option<DodgeGrid> {
    let members: Vec<&RunData> = g.runs.iter().map(|&i| &runs[i]).filter(|r| r.ended()).collect();
    let mut cells: BTreeMap<(u64, u64), Vec<f64>> = BTreeMap::new();
    for r in &members {
        let v = *r.final_metrics.get(&g.metric)?;
        cells.entry((r.init_seed?, r.data_seed?)).or_default().push(v);
    }
    let inits: Vec<u64> =
        cells.keys().map(|k| k.0).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let datas: Vec<u64> =
        cells.keys().map(|k| k.1).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let replicates = cells.values().next()?.len();
    if inits.len() < 2 || datas.len() < 2 || cells.len() != inits.len() * datas.len() {
        return None;
    }
    if cells.values().any(|c| c.len() != replicates) {
        return None;
    }
    let table: Vec<Vec<Vec<f64>>> =
        inits.iter().map(|i| datas.iter().map(|d| cells[&(*i, *d)].clone()).collect()).collect();
    let mut out = DodgeGrid {
        task: g.task.clone(),
        configuration: g.configuration.clone(),
        init_seeds: inits.len(),
        data_seeds: datas.len(),
        replicates,
        init: None,
        data: None,
        interaction: None,
        residual_share: None,
        undefined: None,
        early_step: None,
        early_fraction: None,
        spearman: None,
        spearman_p: None,
        spearman_undefined: None,
    };
    match two_way_anova_replicated(&table) {
        Ok(a) => {
            let effect = |e: &AnovaEffect| Effect {
                sum_sq: e.sum_sq,
                df: e.df,
                f: e.f,
                p: e.p_value,
                share: e.sum_sq / a.total_sum_sq,
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

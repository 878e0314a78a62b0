//! # stabletune-report: the stability report of a study
//!
//! Turns run directories (a study's, or any set of them) into Table 1 of Mosbach et al. with the tests
//! that say what the runs support, Dodge et al.'s seed analysis, the paper's figures as SVG, and
//! the report files: `report.html` (self-contained), `report.md` (with the SVGs beside it), `runs.csv`
//! and `report.json`. It reads only the run store's files (`config.toml`, `summary.json`,
//! `metrics.jsonl`), so studies run anywhere can be reported anywhere. TensorBoard export is in
//! [`tensorboard`].

mod dodge;
pub mod early_stopping;
mod error;
mod evp;
pub mod figures;
mod groups;
pub mod load;
pub mod paper;
mod recommend;
mod render;
mod schedule;
mod table;
pub mod tensorboard;
mod verdicts;

pub use dodge::{dodge_grids, DodgeGrid, Effect};
pub use error::{ReportError, Result};
pub use evp::{evp_values, EvpValue};
pub use figures::Figure;
pub use groups::{group_keys, label, make_groups, paper_metric, Group};
pub use load::{load_run, load_runs, short_number, EvalRecord, RunData, StepRecord};
pub use recommend::MIN_RUNS as MIN_RUNS_TO_RECOMMEND;
pub use render::{runs_csv_of, write_report, Format};
pub use schedule::{load_schedules, KeptRun, ScheduleSummary};
pub use table::{
    caption as table_caption, row, text as table_text, IntervalMethod, Row, BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED, MIN_BOOTSTRAP_RUNS,
};
pub use verdicts::{Comparison, Recommendation, TaskVerdict, TestResult, ALPHA, TESTS};

use std::path::PathBuf;

/// Everything a report shows, computed from the runs.
#[derive(Debug)]
pub struct Report {
    /// The folders the runs were read from, as given.
    pub sources: Vec<PathBuf>,
    pub runs: Vec<RunData>,
    /// The settings whose values name the configurations.
    pub group_keys: Vec<String>,
    pub groups: Vec<Group>,
    /// Table 1, one row per group, in the same order.
    pub rows: Vec<Row>,
    /// The paper's Table 1 for the tasks the study has, on the report's scale.
    pub paper: Vec<paper::PaperRow>,
    pub tasks: Vec<TaskVerdict>,
    pub dodge: Vec<DodgeGrid>,
    /// What the study's live early stopping did, per group (from its decision files).
    pub schedules: Vec<ScheduleSummary>,
    /// The offline early-stopping simulation, when asked for ([`Report::simulate_early_stopping`]).
    pub simulations: Vec<early_stopping::Simulation>,
    /// Groups the simulation could not use, and why.
    pub simulation_skipped: Vec<String>,
    pub figures: Vec<Figure>,
}

impl Report {
    /// Adds Dodge et al.'s offline early-stopping simulation of every group (runs trained to the end and
    /// evaluated often), with its figure.
    pub fn simulate_early_stopping(&mut self) -> Result<()> {
        let (sims, skipped) = early_stopping::simulate_groups(&self.groups, &self.runs);
        for s in &sims {
            let mut fig = figures::early_stopping_figure(s)?;
            // What the figure's own words leave out: where curves start, and runs that ended early.
            fig.caption
                .push_str(" Each curve starts with the run's step-0 evaluation, Dodge et al.'s batch 0.");
            if s.ended_early > 0 {
                fig.caption.push_str(&format!(
                    " {} of the runs ended before the last evaluation (diverged, or stopped by patience); their later \
                     evaluations count as no better than their best so far.",
                    s.ended_early
                ));
            }
            self.figures.push(fig);
        }
        self.simulations = sims;
        self.simulation_skipped = skipped;
        Ok(())
    }
}

/// Choices of how the report computes what it shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The value of each run the expected-validation-performance curves use.
    pub evp: EvpValue,
}

/// Reads the runs under `sources` and computes the report (`group_by`: the settings that name
/// configurations; by default those that tell runs apart other than by seed), with the default options.
pub fn build(sources: &[PathBuf], group_by: Option<&[String]>) -> Result<Report> {
    build_with(sources, group_by, &Options::default())
}

/// [`build`] with `options`.
pub fn build_with(sources: &[PathBuf], group_by: Option<&[String]>, options: &Options) -> Result<Report> {
    let runs = load_runs(sources)?;
    analyse_with(sources.to_vec(), runs, group_by, options)
}

/// Table 1 of runs already read, with the configurations named as the report names them (one table
/// model for the report, `study run`'s printout and `results.json`).
pub fn table_of(runs: &[RunData]) -> Result<Vec<Row>> {
    let keys = group_keys(runs, None)?;
    let groups = make_groups(runs, &keys);
    Ok(groups.iter().map(|g| row(g, runs)).collect())
}

/// The report of runs already read, with the default options.
pub fn analyse(sources: Vec<PathBuf>, runs: Vec<RunData>, group_by: Option<&[String]>) -> Result<Report> {
    analyse_with(sources, runs, group_by, &Options::default())
}

/// [`analyse`] with `options`.
pub fn analyse_with(
    sources: Vec<PathBuf>,
    runs: Vec<RunData>,
    group_by: Option<&[String]>,
    options: &Options,
) -> Result<Report> {
    if runs.is_empty() {
        return Err(ReportError::Input("no runs to report".into()));
    }
    let group_keys = group_keys(&runs, group_by)?;
    let groups = make_groups(&runs, &group_keys);
    let rows: Vec<Row> = groups.iter().map(|g| row(g, &runs)).collect();
    let tasks = verdicts::verdicts(&groups, &rows, &runs);
    let paper = paper::rows_for(&groups::tasks(&groups));
    let dodge = dodge_grids(&groups, &runs);
    let mut figures = make_figures(&groups, &group_keys, &rows, &runs, options)?;
    // Fig. 2 and 7/13 from the study's stored analyses (`study analyze`), or how to produce them.
    figures.extend(figures::analyses::analysis_figures(&sources, &runs)?);
    let schedules = load_schedules(&sources, &runs)?;
    Ok(Report {
        sources,
        runs,
        group_keys,
        groups,
        paper,
        rows,
        tasks,
        dodge,
        schedules,
        simulations: Vec::new(),
        simulation_skipped: Vec::new(),
        figures,
    })
}

fn make_figures(
    groups: &[Group],
    keys: &[String],
    rows: &[Row],
    runs: &[RunData],
    options: &Options,
) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    for task in &groups::tasks(groups) {
        let gs: Vec<&Group> = groups.iter().filter(|g| g.task == *task).collect();
        let rs: Vec<&Row> = rows.iter().filter(|r| r.task == *task).collect();
        if rs.iter().all(|r| r.n == 0) {
            continue;
        }
        out.push(figures::box_plots(task, &gs, &rs, runs)?);
        // Fig. 9 or Fig. 3 when the configurations are one of the paper's ablations.
        out.extend(figures::ablation_boxes(task, &gs, &rs, runs, keys)?);
        for g in &gs {
            out.extend(figures::training_curves(g, runs)?);
        }
        out.extend(figures::grad_norm_figures(task, &gs, runs)?);
        out.extend(figures::metric_vs_loss(task, &gs, runs)?);
        out.extend(evp::evp_figure(task, &gs, runs, options.evp)?);
    }
    // Fig. 6 when the study has runs with and without bias correction.
    let corrected = |r: &RunData| r.settings.get("bias_correction").map(|v| v == "true");
    if runs.iter().any(|r| corrected(r) == Some(true)) && runs.iter().any(|r| corrected(r) == Some(false)) {
        let mut betas: Vec<(f64, f64)> = Vec::new();
        for r in runs.iter().filter(|r| corrected(r) == Some(true)) {
            let get = |k: &str| r.settings.get(k).and_then(|v| v.parse::<f64>().ok());
            if let (Some(b1), Some(b2)) = (get("adam_beta1"), get("adam_beta2")) {
                if !betas.contains(&(b1, b2)) {
                    betas.push((b1, b2));
                }
            }
        }
        let t_max = runs.iter().filter_map(|r| r.total_steps).max().unwrap_or(1000);
        if !betas.is_empty() {
            out.push(figures::bias_correction(&betas, t_max)?);
        }
    }
    Ok(out)
}

//! The study's table: Table 1 of Mosbach et al. over the study's runs, computed by the report crate's one
//! table model, so `study run`'s printout, `results.json` and the report can never disagree.

use crate::plan::PlannedRun;
use crate::store::Store;
use stabletune_report::{load_run, Row, RunData};

/// Every planned run that has a folder, read once (for the table and the report alike); and how many
/// planned runs have none yet (not started).
pub fn read_runs(store: &Store, runs: &[PlannedRun]) -> Result<(Vec<RunData>, usize), String> {
    let mut read = Vec::new();
    let mut not_started = 0;
    for run in runs {
        if crate::restarts::dormant(store, run) {
            continue;
        }
        let dir = store.run_dir(&run.id);
        if !dir.join("config.toml").is_file() {
            not_started += 1;
            continue;
        }
        read.push(load_run(&dir).map_err(|e| e.to_string())?);
    }
    stabletune_report::load::apply_restarts(&store.root, &mut read);
    Ok((read, not_started))
}

/// The study's table as the report computes it, from runs already read.
pub fn table_of(read: &[RunData]) -> Result<Vec<Row>, String> {
    if read.is_empty() {
        return Ok(Vec::new());
    }
    stabletune_report::table_of(read).map_err(|e| e.to_string())
}

/// The study's table from its folders, and the planned runs not started.
pub fn table(store: &Store, runs: &[PlannedRun]) -> Result<(Vec<Row>, usize), String> {
    let (read, not_started) = read_runs(store, runs)?;
    Ok((table_of(&read)?, not_started))
}

/// The table as aligned text, with a line for the runs not started.
pub fn render(rows: &[Row], not_started: usize) -> String {
    let mut out = stabletune_report::table_text(rows);
    if not_started > 0 {
        out += &format!("{not_started} planned run(s) not started yet\n");
    }
    out
}

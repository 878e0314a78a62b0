//! The study's table: Table 1 of Mosbach et al. over the study's runs, computed by the report crate's one
//! table model, so `study run`'s printout, `results.json` and the report can never disagree.

use crate::plan::PlannedRun;
use crate::store::Store;
use stabletune_report::{load_run, Row};

/// The study's table as the report computes it, from every planned run that has a folder; and how many
/// planned runs have none yet (not started).
pub fn table(store: &Store, runs: &[PlannedRun]) -> Result<(Vec<Row>, usize), String> {
    let mut read = Vec::new();
    let mut not_started = 0;
    for run in runs {
        let dir = store.run_dir(&run.id);
        if !dir.join("config.toml").is_file() {
            not_started += 1;
            continue;
        }
        read.push(load_run(&dir).map_err(|e| e.to_string())?);
    }
    if read.is_empty() {
        return Ok((Vec::new(), not_started));
    }
    let rows = stabletune_report::table_of(&read).map_err(|e| e.to_string())?;
    Ok((rows, not_started))
}

/// The table as aligned text, with a line for the runs not started.
pub fn render(rows: &[Row], not_started: usize) -> String {
    let mut out = stabletune_report::table_text(rows);
    if not_started > 0 {
        out += &format!("{not_started} planned run(s) not started yet\n");
    }
    out
}

//! One study per folder. Running an edited study into the folder of another would mix two studies' runs
//! under one report and reuse decisions taken over other runs; so a folder that holds a study refuses a
//! different one, with the difference shown. A study that only adds runs (more seeds, another grid value)
//! under the same early-stopping plan is the old one extended: allowed, its new runs trained, and each
//! group whose run set changed decided anew (decisions are named by the runs they were taken over).

use crate::early_stop::EarlyStopping;
use crate::error::{Result, StudyError};
use crate::plan::{plan, PlannedRun};
use crate::spec::StudySpec;
use std::collections::BTreeSet;
use std::path::Path;

/// Checks `dir` against the study about to run in it: `Ok(None)` for a new folder or the same study,
/// `Ok(Some(note))` for an extension, an error showing the difference otherwise.
pub fn check_folder(dir: &Path, spec: &StudySpec, runs: &[PlannedRun]) -> Result<Option<String>> {
    let file = dir.join("study.toml");
    let Ok(old_text) = std::fs::read_to_string(&file) else { return Ok(None) };
    if old_text == spec.text {
        return Ok(None);
    }
    let old = StudySpec::parse(&file, &old_text).and_then(|s| plan(&s).map(|r| (s, r))).map_err(|e| {
        StudyError::Other(format!(
            "{}: the study already in this folder cannot be read ({e}); run the new study into another folder (--out)",
            file.display()
        ))
    })?;
    let (old_spec, old_runs) = old;
    if old_spec.restart.is_some() && !crate::restarts::all_slots(&crate::store::Store::at(dir)).is_empty() {
        // Replacement runs took the seeds after the study's largest: more seeds would make them originals.
        return Err(StudyError::Other(format!(
            "{} holds a study with sentinel = \"restart\" that has replaced runs with the next seeds; it cannot be \
             changed or extended in place. Run the new study into another folder with --out.\nThe difference (- in \
             the folder, + given):\n{}",
            dir.display(),
            line_difference(&old_text, &spec.text)
        )));
    }
    let new_ids: BTreeSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    let removed: Vec<&PlannedRun> = old_runs.iter().filter(|r| !new_ids.contains(r.id.as_str())).collect();
    let plan_change = plan_difference(old_spec.early_stopping.as_ref(), spec.early_stopping.as_ref());
    if removed.is_empty() && plan_change.is_none() {
        let added = runs.len() - old_runs.len();
        return Ok((added > 0).then(|| {
            format!(
                "the study in {} is extended: {added} run(s) added to its {} (the folder's study.toml is replaced; \
                 groups whose runs changed are decided anew)",
                dir.display(),
                old_runs.len()
            )
        }));
    }
    let mut why = Vec::new();
    if !removed.is_empty() {
        let shown: Vec<String> =
            removed.iter().take(8).map(|r| format!("{} ({}, {})", r.id, r.task, r.configuration)).collect();
        why.push(format!(
            "{} of its {} runs are not in the new study: {}{}",
            removed.len(),
            old_runs.len(),
            shown.join(", "),
            if removed.len() > shown.len() { ", ..." } else { "" }
        ));
    }
    if let Some(p) = plan_change {
        why.push(p);
    }
    Err(StudyError::Other(format!(
        "{} holds another study: {}.\nThe difference (- in the folder, + given):\n{}\nA study may only be \
         extended in place (more seeds or grid values, same early-stopping plan); run this one into another \
         folder with --out, or restore the folder's study.toml.",
        dir.display(),
        why.join("; "),
        line_difference(&old_text, &spec.text)
    )))
}

/// What changed in the early-stopping plan, other than `start` following the seeds.
fn plan_difference(old: Option<&EarlyStopping>, new: Option<&EarlyStopping>) -> Option<String> {
    match (old, new) {
        (None, None) => None,
        (Some(_), None) => Some("the new study has no [early_stopping]".into()),
        (None, Some(_)) => Some("the new study adds [early_stopping]".into()),
        (Some(a), Some(b)) if (a.keep, a.at, a.evals_per_epoch) != (b.keep, b.at, b.evals_per_epoch) => {
            Some(format!(
                "the early-stopping plan changed (keep {} -> {}, at {} -> {}, evals_per_epoch {} -> {})",
                a.keep, b.keep, a.at, b.at, a.evals_per_epoch, b.evals_per_epoch
            ))
        }
        _ => None,
    }
}

/// The lines only in one of the two texts, marked `-` (old) and `+` (new), in order.
fn line_difference(old: &str, new: &str) -> String {
    let old_lines: BTreeSet<&str> = old.lines().map(str::trim_end).collect();
    let new_lines: BTreeSet<&str> = new.lines().map(str::trim_end).collect();
    let mut out = Vec::new();
    out.extend(old.lines().map(str::trim_end).filter(|l| !new_lines.contains(l)).map(|l| format!("  - {l}")));
    out.extend(new.lines().map(str::trim_end).filter(|l| !old_lines.contains(l)).map(|l| format!("  + {l}")));
    out.join("\n")
}

//! Dodge et al.'s grid table on synthetic run folders: the unbiased columns beside SS/SS_total, the
//! residual named as interaction + noise, and grids left out for a missing cell saying which one.

mod common;

use common::{write_run, FakeRun};
use stabletune_report::{build, write_report, Format};
use stabletune_stats::two_way_anova;
use std::path::{Path, PathBuf};

/// Init seeds 1..=3 against data seeds 11..=13; init moves the score by 0.05 per level, data by
/// 0.01, plus noise. `skip` leaves a cell without a run; `diverged` gives one cell a diverged run.
fn grid_runs(
    skip: Option<(u64, u64)>,
    diverged: Option<(u64, u64)>,
) -> (Vec<FakeRun<'static>>, Vec<Vec<f64>>) {
    let noise = [[0.004, -0.006, 0.001], [0.0, 0.005, -0.003], [-0.002, 0.0, 0.004]];
    let mut runs = Vec::new();
    let mut grid = vec![vec![0.0; 3]; 3];
    for i in 0..3u64 {
        for j in 0..3u64 {
            let v = 0.6 + 0.05 * i as f64 + 0.01 * j as f64 + noise[i as usize][j as usize];
            grid[i as usize][j as usize] = v;
            let cell = (i + 1, j + 11);
            if skip == Some(cell) {
                continue;
            }
            let mut r = FakeRun::new("rte", "devlin2019", 0, v);
            (r.init_seed, r.data_seed) = cell;
            if diverged == Some(cell) {
                r.value = None;
            }
            runs.push(r);
        }
    }
    (runs, grid)
}

fn study(runs: &[FakeRun]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("study");
    for r in runs {
        write_run(&root, r);
    }
    (tmp, root)
}

/// The Markdown and HTML reports of the study, as text.
fn rendered(root: &Path) -> (String, String) {
    let r = build(&[root.to_path_buf()], None).unwrap();
    let out = root.join("report");
    write_report(&r, &out, &[Format::Markdown, Format::Html]).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    (md, html)
}

#[test]
fn grid_shows_omega_squared_and_variance_components() {
    let (runs, grid) = grid_runs(None, None);
    let (_tmp, root) = study(&runs);
    let r = build(std::slice::from_ref(&root), None).unwrap();
    assert_eq!(r.dodge.len(), 1);
    let d = &r.dodge[0];
    assert!(d.left_out.is_none() && d.missing_cells.is_empty(), "{d:?}");
    let expected = two_way_anova(&grid).unwrap();
    for (got, want) in
        [(d.init.as_ref().unwrap(), &expected.rows), (d.data.as_ref().unwrap(), &expected.columns)]
    {
        assert!((got.omega_squared - want.omega_squared).abs() < 1e-12, "{got:?}");
        assert!((got.variance_component - want.variance_component).abs() < 1e-15, "{got:?}");
        // Below the biased share, as omega squared always is with a positive residual.
        assert!(got.omega_squared < got.share, "{got:?}");
    }
    // By hand: the init seed's component is (MS_init - MS_res) / 3, three data seeds per init seed.
    let ms_res = expected.residual.mean_sq;
    let init = d.init.as_ref().unwrap();
    assert!((init.variance_component - (expected.rows.sum_sq / 2.0 - ms_res) / 3.0).abs() < 1e-15);
    let omega = (expected.rows.sum_sq - 2.0 * ms_res) / (expected.total_sum_sq + ms_res);
    assert!((init.omega_squared - omega).abs() < 1e-12);
    // The init seed spreads the score by 0.05 per level: sd of (0, 0.05, 0.1) is 0.05.
    assert!((init.variance_component.sqrt() - 0.05).abs() < 0.01, "{init:?}");

    let (md, html) = rendered(&root);
    for text in [&md, &html] {
        assert!(text.contains("residual = interaction + noise"), "caption");
        assert!(text.contains("SS/SS_total is biased up"), "caption");
        assert!(text.contains("(interaction + noise)"), "residual column");
        assert!(text.contains("init ω²") && text.contains("data σ"), "columns");
        assert!(text.contains(&format!("{:.1}%", 100.0 * init.omega_squared)), "init omega squared");
        assert!(text.contains(&format!("{:.4}", init.variance_component.sqrt())), "init sigma");
    }
}

#[test]
fn a_grid_with_a_missing_cell_names_it() {
    let (runs, _) = grid_runs(Some((2, 13)), None);
    let (_tmp, root) = study(&runs);
    let r = build(std::slice::from_ref(&root), None).unwrap();
    assert_eq!(r.dodge.len(), 1, "an incomplete grid is listed, not dropped");
    let d = &r.dodge[0];
    assert_eq!(d.missing_cells, vec![(2, 13)]);
    let why = d.left_out.as_deref().unwrap();
    assert!(why.contains("1 of the 3 x 3 cells has no ended run with a final acc"), "{why}");
    assert!(why.contains("(init seed 2, data seed 13)"), "{why}");
    assert!(d.init.is_none() && d.data.is_none());
    let (md, html) = rendered(&root);
    assert!(md.contains("(init seed 2, data seed 13)"), "{md}");
    assert!(html.contains("(init seed 2, data seed 13)"));
}

#[test]
fn a_diverged_run_leaves_its_cell_missing() {
    let (runs, _) = grid_runs(None, Some((3, 11)));
    let (_tmp, root) = study(&runs);
    let d = &build(&[root], None).unwrap().dodge[0];
    assert_eq!(d.missing_cells, vec![(3, 11)]);
    assert!(d.left_out.as_deref().unwrap().contains("(init seed 3, data seed 11)"));
}

#[test]
fn cells_with_different_numbers_of_runs_are_named() {
    let (mut runs, _) = grid_runs(None, None);
    let (_tmp, root) = study(&runs);
    // A second run in cell (1, 12) and in cell (3, 13): move the first ones aside, write again.
    for cell in [(1, 12), (3, 13)] {
        let r = runs.iter_mut().find(|r| (r.init_seed, r.data_seed) == cell).unwrap();
        let dir = write_run(&root, r);
        std::fs::rename(&dir, dir.with_extension("first")).unwrap();
        r.value = Some(r.value.unwrap() + 0.002);
        write_run(&root, r);
    }
    let d = &build(&[root], None).unwrap().dodge[0];
    let why = d.left_out.as_deref().unwrap();
    assert!(why.contains("differ in their number of runs (1 to 2)"), "{why}");
    assert!(why.contains("(init seed 1, data seed 11)") && why.contains("and 4 more"), "{why}");
}

#[test]
fn a_diagonal_of_seeds_is_no_grid() {
    // seeds = 1..4 gives init seed = data seed: no crossing, no table, no complaint.
    let runs: Vec<FakeRun> =
        (1..=4).map(|s| FakeRun::new("rte", "devlin2019", s, 0.6 + 0.01 * s as f64)).collect();
    let (_tmp, root) = study(&runs);
    assert!(build(&[root], None).unwrap().dodge.is_empty());
}

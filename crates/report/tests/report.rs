//! The report on synthetic run directories with known values: the table, the tests' verdicts, the
//! recommendation, Dodge et al.'s grid, the grouping, the readers' errors and the files written.

mod common;

use common::{write_run, FakeRun};
use stabletune_report::{build, write_report, Format, ReportError};
use stabletune_stats::{
    holm, levene, mann_whitney_u, two_way_anova, welch_t_test, Center, MannWhitneyMethod,
};
use std::path::PathBuf;

fn study(runs: &[FakeRun]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("study");
    for r in runs {
        write_run(&root, r);
    }
    (tmp, root)
}

const TIGHT: [f64; 8] = [0.700, 0.702, 0.698, 0.701, 0.699, 0.7005, 0.6995, 0.700];
const WIDE: [f64; 8] = [0.48, 0.85, 0.74, 0.80, 0.45, 0.78, 0.76, 0.74];

fn two_recipes() -> Vec<FakeRun<'static>> {
    let mut runs = Vec::new();
    for (k, &v) in WIDE.iter().enumerate() {
        runs.push(FakeRun::new("rte", "devlin2019", k as u64 + 1, v));
    }
    for (k, &v) in TIGHT.iter().enumerate() {
        runs.push(FakeRun::new("rte", "mosbach2021", k as u64 + 1, v));
    }
    runs
}

#[test]
fn table_one_is_computed_from_the_runs() {
    let (_tmp, root) = study(&two_recipes());
    let r = build(&[root], None).unwrap();
    assert_eq!(
        r.group_keys,
        vec!["recipe".to_string()],
        "a recipe's own epochs and bias correction add nothing"
    );
    assert_eq!(r.rows.len(), 2);
    let devlin = &r.rows[0];
    assert_eq!((devlin.configuration.as_str(), devlin.metric.as_str(), devlin.n), ("devlin2019", "acc", 8));
    let mean = WIDE.iter().sum::<f64>() / 8.0;
    let std = (WIDE.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 7.0).sqrt();
    assert!((devlin.mean.unwrap() - mean).abs() < 1e-12);
    assert!((devlin.std.unwrap() - std).abs() < 1e-12);
    assert_eq!(devlin.min, Some(0.45));
    assert_eq!(devlin.max, Some(0.85));
    assert!((devlin.median.unwrap() - (0.74 + 0.76) / 2.0).abs() < 1e-12);
    // 0.48 and 0.45 are at or below the 0.5 baseline.
    assert_eq!((devlin.failed, devlin.judged, devlin.ended), (Some(2), 8, 8));
    // n = 8 < 10: Student's t-interval of the mean, and no interval of the std.
    let t = stabletune_stats::t_interval_mean(&WIDE, 0.95).unwrap();
    assert_eq!(devlin.mean_ci, Some([t.low, t.high]));
    assert_eq!(devlin.mean_ci_method, Some(stabletune_report::IntervalMethod::T));
    assert_eq!(devlin.std_ci, None);
    assert_eq!(r.rows[1].failed, Some(0));
}

#[test]
fn the_tests_say_which_difference_is_real() {
    let (_tmp, root) = study(&two_recipes());
    let r = build(&[root], None).unwrap();
    let task = &r.tasks[0];
    // The paper's comparison: mosbach2021 (smallest std) against devlin2019 (second smallest).
    let c = task.headline.as_ref().unwrap();
    assert_eq!((c.configuration.as_str(), c.other.as_str()), ("mosbach2021", "devlin2019"));
    assert!(task.additional.is_empty());
    let lev = levene(&[&TIGHT[..], &WIDE[..]], Center::Mean).unwrap().p_value;
    let bf = levene(&[&TIGHT[..], &WIDE[..]], Center::Median).unwrap().p_value;
    let welch = welch_t_test(&TIGHT, &WIDE).unwrap().p_value;
    let mw = mann_whitney_u(&TIGHT, &WIDE, MannWhitneyMethod::Auto).unwrap().p_value;
    assert_eq!(c.levene.p, Some(lev));
    assert_eq!(c.brown_forsythe.p, Some(bf));
    assert_eq!(c.welch.p, Some(welch));
    assert_eq!(c.mann_whitney.p, Some(mw));
    // One comparison in the task's family: Holm changes nothing.
    assert_eq!(c.levene.p_holm, Some(lev));
    assert!(lev < 0.05 && bf < 0.05, "a 20x smaller spread over 8 seeds is detected: {lev}, {bf}");
    assert!(
        c.sentences[0].starts_with("The paper's comparison: mosbach2021 has the smallest std"),
        "{}",
        c.sentences[0]
    );
    assert!(
        c.sentences[1].starts_with("mosbach2021 has a smaller spread than devlin2019")
            && c.sentences[1]
                .contains("statistically significant at Holm-adjusted p < 0.05 by both Levene p = "),
        "{}",
        c.sentences[1]
    );
    assert!(
        c.sentences[2].starts_with("No statistically significant difference in mean"),
        "{}",
        c.sentences[2]
    );
    assert!(c.sentences[4].contains("failed in 0 of 8 runs, devlin2019 in 2 of 8"), "{}", c.sentences[4]);
    assert!(c.sentences[5].starts_with("These are small samples (n = 8 and 8"), "{}", c.sentences[5]);
}

#[test]
fn holm_families_are_per_task_so_tasks_do_not_change_each_other() {
    let mut runs = two_recipes();
    for (k, &v) in WIDE.iter().enumerate() {
        runs.push(FakeRun::new("mrpc", "devlin2019", k as u64 + 1, v + 0.1));
    }
    for (k, &v) in TIGHT.iter().enumerate() {
        runs.push(FakeRun::new("mrpc", "mosbach2021", k as u64 + 1, v + 0.05));
    }
    let (_tmp, root) = study(&runs);
    let r = build(&[root], None).unwrap();
    assert_eq!(r.tasks.len(), 2);
    // One pair per task: each family holds one p-value, which Holm leaves as it is.
    for t in &r.tasks {
        let c = t.headline.as_ref().unwrap();
        assert_eq!(c.levene.p_holm, Some(holm(&[c.levene.p.unwrap()]).unwrap()[0]));
        assert_eq!(c.levene.p_holm, c.levene.p);
        assert_eq!(t.families[0], ("Levene".to_string(), 1));
    }
}

#[test]
fn collapsed_runs_are_said_in_words_not_as_a_p_value() {
    let mut runs = Vec::new();
    for seed in 1..=4 {
        runs.push(FakeRun::new("cola", "devlin2019", seed, 0.0));
        runs.push(FakeRun::new("cola", "mosbach2021", seed, 0.0));
    }
    let (_tmp, root) = study(&runs);
    let r = build(&[root], None).unwrap();
    let c = r.tasks[0].headline.as_ref().unwrap();
    assert_eq!(c.levene.p, None);
    assert!(c.levene.undefined.is_some());
    assert_eq!(c.welch.p, None);
    let text = c.sentences.join(" ");
    assert!(text.contains("cannot be compared"), "{text}");
    assert!(
        text.contains("Every run of mosbach2021 with a final value ended at the same acc (0.0000)"),
        "{text}"
    );
    assert!(!r.tasks[0].recommendation.clearly_better);
    let html = tempfile::tempdir().unwrap();
    write_report(&r, html.path(), &[Format::Html]).unwrap();
    let page = std::fs::read_to_string(html.path().join("report.html")).unwrap();
    assert!(page.contains("undefined"));
    assert!(!page.contains("NaN") && !page.contains("nan "));
}

#[test]
fn a_clearly_better_configuration_is_recommended_and_a_tie_is_not() {
    let mut runs = Vec::new();
    for seed in 1..=8 {
        runs.push(FakeRun::new("rte", "devlin2019", seed, 0.60 + 0.001 * seed as f64));
        runs.push(FakeRun::new("rte", "mosbach2021", seed, 0.70 + 0.001 * seed as f64));
    }
    let (_tmp, root) = study(&runs);
    let r = build(&[root], None).unwrap();
    let rec = &r.tasks[0].recommendation;
    assert_eq!(rec.configuration.as_deref(), Some("mosbach2021"));
    assert!(rec.clearly_better, "{}", rec.text);
    assert!(rec.text.starts_with("Use mosbach2021"), "{}", rec.text);

    let mut runs = Vec::new();
    for seed in 1..=6 {
        runs.push(FakeRun::new("rte", "devlin2019", seed, 0.60 + 0.01 * seed as f64));
        runs.push(FakeRun::new("rte", "mosbach2021", seed, 0.605 + 0.01 * seed as f64));
    }
    let (_tmp, root) = study(&runs);
    let r = build(&[root], None).unwrap();
    let rec = &r.tasks[0].recommendation;
    assert!(!rec.clearly_better);
    assert!(
        rec.text.starts_with(
            "No configuration is clearly better at Holm-adjusted p < 0.05. mosbach2021 is the rule's choice"
        ),
        "{}",
        rec.text
    );
}

#[test]
fn fewer_failures_outweigh_a_higher_median() {
    // devlin2019: higher median, but 4 of 8 runs failed; mosbach2021 none.
    let devlin = [0.80, 0.81, 0.82, 0.83, 0.40, 0.41, 0.42, 0.43];
    let mosbach = [0.70, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77];
    let mut runs = Vec::new();
    for k in 0..8 {
        runs.push(FakeRun::new("rte", "devlin2019", k + 1, devlin[k as usize]));
        runs.push(FakeRun::new("rte", "mosbach2021", k + 1, mosbach[k as usize]));
    }
    let (_tmp, root) = study(&runs);
    let r = build(&[root], None).unwrap();
    assert_eq!(r.rows[0].failed, Some(4));
    // Fisher's 4/8 against 0/8 (p = 0.077) is not significant, so failures do not decide; the spread
    // does (Levene and Brown-Forsythe agree that devlin2019's bimodal runs spread more), whatever its
    // higher median.
    let rec = &r.tasks[0].recommendation;
    assert_eq!(rec.configuration.as_deref(), Some("mosbach2021"), "{}", rec.text);
    assert!(rec.clearly_better, "{}", rec.text);
    assert!(rec.text.contains("a smaller spread than devlin2019"), "{}", rec.text);

    let mut runs = Vec::new();
    for k in 1..=5 {
        runs.push(FakeRun::new("cola", "devlin2019", k, 0.4 + 0.01 * k as f64));
        runs.push(FakeRun::new("cola", "mosbach2021", k, 0.3));
    }
    let (_tmp, root) = study(&runs);
    let r = build(&[root], None).unwrap();
    let rec = &r.tasks[0].recommendation;
    assert_eq!(rec.configuration, None);
    assert!(rec.text.starts_with("Every run of every configuration failed"), "{}", rec.text);
}

#[test]
fn diverged_runs_count_as_failed_without_a_value() {
    let mut runs = two_recipes();
    let mut d = FakeRun::new("rte", "devlin2019", 99, 0.0);
    d.value = None;
    runs.push(d);
    let (_tmp, root) = study(&runs);
    let r = build(&[root], None).unwrap();
    let row = &r.rows[0];
    assert_eq!((row.n, row.ended, row.failed, row.diverged), (8, 9, Some(3), 1));
}

#[test]
fn dodge_grid_splits_the_variance_between_init_and_data_seeds() {
    // 3 init x 3 data seeds; the init seed moves the score by 0.05 per level, the data seed by 0.01.
    let noise = [[0.001, -0.002, 0.0], [0.0, 0.002, -0.001], [-0.001, 0.0, 0.001]];
    let mut runs = Vec::new();
    let mut grid = vec![vec![0.0; 3]; 3];
    for i in 0..3u64 {
        for j in 0..3u64 {
            let v = 0.6 + 0.05 * i as f64 + 0.01 * j as f64 + noise[i as usize][j as usize];
            grid[i as usize][j as usize] = v;
            let mut r = FakeRun::new("mrpc", "devlin2019", 0, v);
            r.init_seed = i + 1;
            r.data_seed = j + 11;
            r.metric = "f1";
            runs.push(r);
        }
    }
    let (_tmp, root) = study(&runs);
    let r = build(&[root], None).unwrap();
    assert_eq!(r.rows[0].metric, "f1", "MRPC is reported by F1, as Table 1");
    assert_eq!(r.dodge.len(), 1);
    let d = &r.dodge[0];
    assert_eq!((d.init_seeds, d.data_seeds, d.replicates), (3, 3, 1));
    let expected = two_way_anova(&grid).unwrap();
    let init = d.init.as_ref().unwrap();
    assert!((init.share - expected.rows.sum_sq / expected.total_sum_sq).abs() < 1e-12);
    assert_eq!(init.p, expected.rows.p_value);
    assert!(init.share > 0.9 && d.data.as_ref().unwrap().share < 0.1);
    // The early evaluation is 0.5 + 0.8 (final - 0.5): a monotone function of the final value.
    assert_eq!(d.spearman, Some(1.0));
    assert_eq!(d.early_step, Some(10));
}

#[test]
fn configurations_are_named_by_the_fewest_settings_that_tell_them_apart() {
    let mut runs = Vec::new();
    for seed in 1..=2 {
        for lr in [1e-5, 2e-5] {
            let mut r = FakeRun::new("rte", "mosbach2021", seed, 0.6 + seed as f64 * 0.01);
            r.lr = lr;
            runs.push(r);
        }
        runs.push(FakeRun::new("rte", "devlin2019", seed, 0.6));
    }
    let (_tmp, root) = study(&runs);
    let r = build(std::slice::from_ref(&root), None).unwrap();
    assert_eq!(r.group_keys, vec!["recipe".to_string(), "lr".to_string()]);
    let names: Vec<&str> = r.rows.iter().map(|r| r.configuration.as_str()).collect();
    assert_eq!(names, vec!["devlin2019, lr=2e-5", "mosbach2021, lr=1e-5", "mosbach2021, lr=2e-5"]);
    let by_recipe = build(std::slice::from_ref(&root), Some(&["recipe".to_string()])).unwrap();
    assert_eq!(by_recipe.rows.len(), 2);
    assert_eq!(by_recipe.rows[1].n, 4);
    match build(&[root], Some(&["learning_rate".to_string()])) {
        Err(ReportError::Input(m)) => {
            assert!(m.contains("--group-by learning_rate") && m.contains("lr"), "{m}")
        }
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn a_cut_last_line_is_skipped_and_a_bad_line_named() {
    let (_tmp, root) = study(&two_recipes());
    let run = root.join("runs").read_dir().unwrap().next().unwrap().unwrap().path();
    let log = run.join("metrics.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, format!("{text}{{\"step\": 31, \"loss\": 0.")).unwrap();
    let r = build(std::slice::from_ref(&root), None).unwrap();
    let loaded = r.runs.iter().find(|x| x.dir == run).unwrap();
    assert_eq!(loaded.skipped_lines, 1);
    let lines: Vec<&str> = text.lines().collect();
    let broken = format!("{}\nnot json\n{}\n", lines[..3].join("\n"), lines[3..].join("\n"));
    std::fs::write(&log, broken).unwrap();
    let err = build(std::slice::from_ref(&root), None).unwrap_err().to_string();
    assert!(err.contains("metrics.jsonl:4:"), "{err}");
    std::fs::write(run.join("config.toml"), "task = \"rte\"\nlr = = 1\n").unwrap();
    let err = build(&[root], None).unwrap_err().to_string();
    assert!(err.contains("config.toml:2"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = build(&[empty.path().to_path_buf()], None).unwrap_err().to_string();
    assert!(err.contains("no run directories"), "{err}");
}

#[test]
fn the_report_files_are_written_and_self_contained() {
    let (tmp, root) = study(&two_recipes());
    let r = build(&[root], None).unwrap();
    let out = tmp.path().join("report");
    let files = write_report(&r, &out, &Format::ALL).unwrap();
    assert!(files.iter().any(|f| f.ends_with("report.html")));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for forbidden in ["<script", "<link", "src=\"http", "@import", "url("] {
        assert!(!html.contains(forbidden), "report.html holds {forbidden}");
    }
    assert_eq!(html.matches("<svg").count(), r.figures.len());
    // Fig. 1, two training-curve figures, Fig. 4, Fig. 8b, EVP, and Fig. 6 (both optimizers present).
    let ids: Vec<&str> = r.figures.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "fig1-box-rte",
            "fig14-curves-rte-devlin2019",
            "fig14-curves-rte-mosbach2021",
            "fig4-grad-norms-rte",
            "fig8b-metric-vs-loss-rte",
            "evp-rte",
            "fig6-bias-correction",
            // The paper's analyses (Fig. 2, 7/13) are not computed yet: the report says how to produce them.
            "fig2-fig7-not-computed"
        ]
    );
    for f in &r.figures {
        assert!(!f.caption.is_empty() && !f.title.is_empty());
        let svg = std::fs::read_to_string(out.join("figures").join(format!("{}.svg", f.id))).unwrap();
        assert_eq!(svg, f.svg);
        assert!(svg.contains("font-family=\"sans-serif\""), "{}: text is in a generic family", f.id);
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| rte | devlin2019 | acc | 8 |"), "{md}");
    assert!(md.contains("![Final dev acc on rte per configuration (Fig. 1)](figures/fig1-box-rte.svg)"));
    let csv = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 17);
    let header: Vec<&str> = lines[0].split(',').collect();
    for col in [
        "run",
        "task",
        "configuration",
        "recipe",
        "init_seed",
        "data_seed",
        "status",
        "failed",
        "final_acc",
        "wall_seconds",
    ] {
        assert!(header.contains(&col), "runs.csv lacks {col}: {header:?}");
    }
    assert!(!header.contains(&"threads"), "settings that do not vary are left out");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["table"].as_array().unwrap().len(), 2);
    assert_eq!(json["runs"].as_array().unwrap().len(), 16);
    assert_eq!(
        json["tasks"][0]["headline"]["levene"]["p"].as_f64(),
        r.tasks[0].headline.as_ref().unwrap().levene.p
    );
}

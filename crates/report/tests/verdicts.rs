//! The report's verdicts on synthetic studies with known values, one rule at a time: every run
//! counted or its absence said, intervals fit for the sample size, the paper's comparison first,
//! wording that says what each test supports, and each branch of the recommendation.

mod common;

use common::{write_run, FakeRun};
use stabletune_report::{build, write_report, Format, IntervalMethod, Report};
use stabletune_stats::{bootstrap_bca_ci, levene, t_interval_mean, BootstrapStatistic, Center, Ddof};

fn report(runs: &[FakeRun]) -> (tempfile::TempDir, Report) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("study");
    for r in runs {
        write_run(&root, r);
    }
    let r = build(&[root], None).unwrap();
    (tmp, r)
}

fn runs_of(task: &'static str, recipe: &'static str, values: &[f64]) -> Vec<FakeRun<'static>> {
    values.iter().enumerate().map(|(k, &v)| FakeRun::new(task, recipe, k as u64 + 1, v)).collect()
}

/// `n` values spread evenly around `centre` by `step`.
fn spread(n: usize, centre: f64, step: f64) -> Vec<f64> {
    (0..n).map(|k| centre + step * (k as f64 - (n - 1) as f64 / 2.0)).collect()
}

fn files(r: &Report) -> (String, String, serde_json::Value, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    write_report(r, out.path(), &Format::ALL).unwrap();
    let read = |f: &str| std::fs::read_to_string(out.path().join(f)).unwrap();
    let json = serde_json::from_str(&read("report.json")).unwrap();
    (read("report.html"), read("report.md"), json, out)
}

#[test]
fn diverged_runs_are_counted_and_named_and_never_make_a_configuration_look_stable() {
    // devlin2019: 6 tight runs and 4 diverged; mosbach2021: 10 wider runs, none failed.
    let mut runs = runs_of("rte", "devlin2019", &spread(6, 0.70, 0.001));
    for seed in 20..24 {
        let mut d = FakeRun::new("rte", "devlin2019", seed, 0.0);
        d.value = None;
        runs.push(d);
    }
    runs.extend(runs_of("rte", "mosbach2021", &spread(10, 0.69, 0.01)));
    let (_tmp, r) = report(&runs);
    let devlin = &r.rows[0];
    assert_eq!((devlin.n, devlin.diverged, devlin.failed, devlin.judged), (6, 4, Some(4), 10));
    let task = &r.tasks[0];
    let headline = task.headline.as_ref().unwrap();
    assert_eq!(headline.configuration, "devlin2019", "smallest std among the runs that finished");
    let text = headline.sentences.join(" ");
    assert!(text.contains("devlin2019's std leaves out its 4 diverged run(s) (of 10 ended)"), "{text}");
    assert!(
        task.notes.iter().any(|n| n.starts_with("devlin2019: 4 of its 10 ended runs diverged")),
        "{:?}",
        task.notes
    );
    // The recommendation: 4/10 against 0/10 failed (Fisher p = 0.087) decides nothing; devlin2019's
    // spread is smaller (both tests agree), so it is the rule's choice, and its diverged runs are named.
    let rec = &task.recommendation;
    assert_eq!(rec.configuration.as_deref(), Some("devlin2019"), "{}", rec.text);
    assert!(rec.text.contains("of which 4 diverged"), "{}", rec.text);
    let (html, md, json, _out) = files(&r);
    assert!(
        html.contains("<th>diverged</th>") && html.contains("<td class=\"failed\">4</td>"),
        "diverged column in HTML"
    );
    assert!(md.contains("| diverged | stopped | failed |") && md.contains("| 4 | 0 | 4/10 |"), "{md}");
    assert_eq!(json["table"][0]["diverged"], 4);
    assert!(json["table_caption"].as_str().unwrap().contains("Diverged runs have no final model"));
}

#[test]
fn runs_stopped_by_the_schedule_are_neither_successes_nor_failures() {
    let mut runs = runs_of("rte", "devlin2019", &spread(6, 0.70, 0.01));
    for seed in 30..34 {
        let mut s = FakeRun::new("rte", "devlin2019", seed, 0.45);
        s.status = Some("stopped_by_schedule");
        runs.push(s);
    }
    runs.extend(runs_of("rte", "mosbach2021", &[0.4, 0.4, 0.7, 0.71, 0.72, 0.73]));
    let (_tmp, r) = report(&runs);
    let row = &r.rows[0];
    assert_eq!((row.n, row.stopped, row.failed, row.judged, row.ended), (6, 4, Some(0), 6, 10));
    // Fisher's table is 0 of 6 against 2 of 6: the stopped runs are in neither column.
    let c = r.tasks[0].comparisons().find(|c| c.is_pair("devlin2019", "mosbach2021")).unwrap();
    let expected = stabletune_stats::fisher_exact([[0, 6], [2, 4]]).unwrap().p_value;
    assert_eq!(c.fisher.p, Some(expected));
    let fig = r.figures.iter().find(|f| f.id == "fig14-curves-rte-devlin2019").unwrap();
    assert!(fig.caption.contains("4 without a known outcome"), "{}", fig.caption);
    let box_plot = r.figures.iter().find(|f| f.id == "fig1-box-rte").unwrap();
    assert!(
        box_plot.caption.contains("4 run(s) stopped by the early-stopping schedule"),
        "{}",
        box_plot.caption
    );
}

#[test]
fn a_task_without_a_majority_baseline_has_no_failures_and_no_fisher_test() {
    let mut runs = Vec::new();
    for (recipe, centre) in [("devlin2019", 0.85), ("mosbach2021", 0.88)] {
        for (k, v) in spread(5, centre, 0.01).into_iter().enumerate() {
            let mut run = FakeRun::new("sts-b", recipe, k as u64 + 1, v);
            run.metric = "pearson";
            run.has_baseline = false;
            runs.push(run);
        }
    }
    let (_tmp, r) = report(&runs);
    assert_eq!(r.rows[0].failed, None);
    assert_eq!(r.rows[0].failed_text(), "n/a");
    let c = r.tasks[0].headline.as_ref().unwrap();
    assert_eq!(c.fisher.p, None);
    assert!(
        c.sentences.iter().any(|s| s.contains("Failed runs are not defined for sts-b")),
        "{:?}",
        c.sentences
    );
    assert_eq!(r.tasks[0].families[4], ("Fisher".to_string(), 0));
    let (html, md, _json, _out) = files(&r);
    assert!(!html.contains("0/5") && md.contains("| n/a |"), "{md}");
}

#[test]
fn intervals_fit_the_sample_size() {
    for n in [2usize, 3, 9, 10] {
        let a = spread(n, 0.70, 0.01);
        let b = spread(n, 0.60, 0.03);
        let mut runs = runs_of("rte", "devlin2019", &a);
        runs.extend(runs_of("rte", "mosbach2021", &b));
        let (_tmp, r) = report(&runs);
        let row = &r.rows[0];
        if n < 10 {
            let t = t_interval_mean(&a, 0.95).unwrap();
            assert_eq!(row.mean_ci, Some([t.low, t.high]), "n = {n}");
            assert_eq!(row.mean_ci_method, Some(IntervalMethod::T));
            assert_eq!(row.std_ci, None, "n = {n}: no interval on the spread");
            let (html, md, _json, _out) = files(&r);
            assert!(html.contains("too few runs for an interval on the spread"), "n = {n}");
            assert!(md.contains("too few runs for an interval on the spread"), "n = {n}");
        } else {
            // The interval resamples the runs in the report's order (by folder name).
            let a: Vec<f64> = r.groups[0].runs.iter().map(|&i| r.runs[i].final_metrics["acc"]).collect();
            let m =
                bootstrap_bca_ci(&a, BootstrapStatistic::Mean, 0.95, 9999, stabletune_report::BOOTSTRAP_SEED)
                    .unwrap();
            let s = bootstrap_bca_ci(
                &a,
                BootstrapStatistic::StdDev(Ddof::Sample),
                0.95,
                9999,
                stabletune_report::BOOTSTRAP_SEED,
            )
            .unwrap();
            assert_eq!(row.mean_ci, Some([m.low, m.high]));
            assert_eq!(row.mean_ci_method, Some(IntervalMethod::Bca));
            assert_eq!(row.std_ci, Some([s.low, s.high]));
            assert!(stabletune_report::table_caption(&r.rows)
                .contains("a bootstrap interval of a std is approximate"));
        }
    }
}

#[test]
fn the_paper_comparison_comes_first_and_the_rest_are_adjusted_within_the_task() {
    let mut runs = runs_of("rte", "a", &spread(6, 0.70, 0.002));
    runs.extend(runs_of("rte", "b", &spread(6, 0.70, 0.004)));
    runs.extend(runs_of("rte", "c", &spread(6, 0.60, 0.03)));
    let (_tmp, r) = report(&runs);
    let t = &r.tasks[0];
    let h = t.headline.as_ref().unwrap();
    assert_eq!((h.configuration.as_str(), h.other.as_str()), ("a", "b"));
    assert_eq!(t.additional.len(), 2);
    assert_eq!(t.families[0], ("Levene".to_string(), 3));
    let raw: Vec<f64> = t.comparisons().map(|c| c.levene.p.unwrap()).collect();
    let adjusted = stabletune_stats::holm(&raw).unwrap();
    for (c, a) in t.comparisons().zip(adjusted) {
        assert_eq!(c.levene.p_holm, Some(a));
    }
    let (html, md, _json, _out) = files(&r);
    for page in [&html, &md] {
        assert!(page.contains("The paper's comparison:") && page.contains("Additional comparisons (2):"));
        assert!(page.contains("Levene 3 comparisons"), "the family sizes are said");
        assert!(!page.contains(" real"), "no difference is called real");
    }
}

#[test]
fn smaller_spread_needs_both_tests_and_a_disagreement_is_said() {
    // One outlying run: Levene (mean-centred) p = 0.044, Brown-Forsythe (median-centred) p = 0.35.
    let a = [0.70, 0.701, 0.699, 0.700, 0.702, 0.698, 0.700, 0.701, 0.699, 0.0];
    let b = [0.70, 0.705, 0.695, 0.71, 0.69, 0.70, 0.704, 0.696, 0.703, 0.697];
    let mut runs = runs_of("rte", "devlin2019", &a);
    for r in &mut runs {
        r.baseline = -1.0;
    }
    let mut other = runs_of("rte", "mosbach2021", &b);
    for r in &mut other {
        r.baseline = -1.0;
    }
    runs.extend(other);
    let (_tmp, r) = report(&runs);
    assert!(levene(&[&a[..], &b[..]], Center::Mean).unwrap().p_value < 0.05);
    let c = r.tasks[0].comparisons().next().unwrap();
    assert!(c.levene.significant() && !c.brown_forsythe.significant());
    let text = c.sentences.join(" ");
    assert!(text.contains("rests on a few outlying runs"), "{text}");
    assert!(!text.contains("has a smaller spread") && !text.contains("has a larger spread"), "{text}");
}

#[test]
fn welch_decides_the_mean_and_mann_whitney_is_worded_as_what_it_tests() {
    let mut runs = runs_of("rte", "devlin2019", &spread(8, 0.80, 0.004));
    runs.extend(runs_of("rte", "mosbach2021", &spread(8, 0.70, 0.004)));
    let (_tmp, r) = report(&runs);
    let c = r.tasks[0].headline.as_ref().unwrap();
    let text = c.sentences.join(" ");
    let (hi, lo) = ("devlin2019", "mosbach2021");
    assert!(
        text.contains(&format!("{hi} has a higher mean than {lo}"))
            || text.contains(&format!("{lo} has a lower mean than {hi}")),
        "{text}"
    );
    assert!(text.contains("by Welch's t-test: Welch p = "), "{text}");
    assert!(text.contains(&format!("{hi}'s runs tend to score higher than {lo}'s")), "{text}");
    assert!(text.contains("statistically significant at Holm-adjusted p < 0.05"), "{text}");
}

#[test]
fn the_recommendation_needs_five_runs_each() {
    // 0 of 2 failed against 1 of 25: raw rates would pick the first; too few runs decide nothing.
    let mut runs = runs_of("rte", "devlin2019", &[0.80, 0.81]);
    let mut stable = spread(24, 0.75, 0.001);
    stable.push(0.3);
    runs.extend(runs_of("rte", "mosbach2021", &stable));
    let (_tmp, r) = report(&runs);
    let rec = &r.tasks[0].recommendation;
    assert_eq!(rec.configuration, None);
    assert_eq!(rec.text, "Too few runs to recommend (n = 2 and 25; at least 5 each are needed). The table above still shows every run.");
    let (html, _md, _json, _out) = files(&r);
    assert!(html.contains("<td class=\"text\">devlin2019</td>"), "the table is still shown");

    let mut runs = runs_of("rte", "devlin2019", &[0.70, 0.72]);
    runs.extend(runs_of("rte", "mosbach2021", &[0.60, 0.61]));
    let (_tmp, r) = report(&runs);
    assert!(r.tasks[0].recommendation.text.starts_with("Too few runs to recommend (n = 2 and 2;"));
}

#[test]
fn a_stable_configuration_beats_a_high_median_unstable_one() {
    // devlin2019: higher median, wide spread, no failures; mosbach2021: tight, a little lower.
    let wide = [0.60, 0.95, 0.62, 0.93, 0.65, 0.91, 0.63, 0.92, 0.61, 0.94, 0.64, 0.90];
    let mut runs = runs_of("rte", "devlin2019", &wide);
    runs.extend(runs_of("rte", "mosbach2021", &spread(12, 0.76, 0.002)));
    let (_tmp, r) = report(&runs);
    let rec = &r.tasks[0].recommendation;
    assert_eq!(rec.configuration.as_deref(), Some("mosbach2021"), "{}", rec.text);
    assert!(rec.clearly_better && rec.text.starts_with("Use mosbach2021"), "{}", rec.text);
    assert!(rec.text.contains("a smaller spread than devlin2019"), "{}", rec.text);
}

#[test]
fn one_diverged_run_against_none_is_not_evidence_and_the_median_decides_only_the_choice() {
    // The study: 12 + 12 runs, one of devlin2019's diverged (median 0.8001 over the rest),
    // mosbach2021 none failed (median 0.7697).
    let mut devlin = spread(11, 0.8001, 0.004);
    devlin[0] -= 0.0005;
    let mut runs = runs_of("rte", "devlin2019", &devlin);
    let mut d = FakeRun::new("rte", "devlin2019", 40, 0.0);
    d.value = None;
    runs.push(d);
    runs.extend(runs_of("rte", "mosbach2021", &spread(12, 0.7697, 0.004)));
    let (_tmp, r) = report(&runs);
    let rec = &r.tasks[0].recommendation;
    assert_eq!(rec.configuration.as_deref(), Some("devlin2019"), "{}", rec.text);
    assert!(rec.text.contains("of which 1 diverged"), "{}", rec.text);
    // Its higher mean is significant by Welch, and 1 of 12 failed against 0 of 12 is not by Fisher.
    assert!(rec.clearly_better, "{}", rec.text);
    assert!(rec.text.contains("a higher mean than mosbach2021"), "{}", rec.text);
}

#[test]
fn every_run_collapsed_is_said_and_nothing_is_recommended() {
    let mut runs = runs_of("cola", "devlin2019", &[0.0; 6]);
    runs.extend(runs_of("cola", "mosbach2021", &[0.0; 6]));
    let (_tmp, r) = report(&runs);
    let rec = &r.tasks[0].recommendation;
    assert_eq!(rec.configuration, None);
    assert!(rec.text.starts_with("Every run of every configuration failed"), "{}", rec.text);
    let (html, _md, _json, _out) = files(&r);
    assert!(!html.contains("Welch p = 1.000"), "an undefined test is never printed as p = 1");
    assert!(html.contains("Welch's test is undefined"));
}

#[test]
fn the_paper_numbers_are_printed_beside_the_table_on_its_scale() {
    let mut runs = runs_of("rte", "devlin2019", &spread(5, 0.6, 0.01));
    runs.extend(runs_of("sst-2", "devlin2019", &spread(5, 0.9, 0.01)));
    let (_tmp, r) = report(&runs);
    assert_eq!(r.paper.len(), 3, "RTE's three rows, none for SST-2");
    let (html, md, json, _out) = files(&r);
    assert!(
        html.contains("BERT-large-uncased") && html.contains("0.673"),
        "Mosbach et al.'s RTE mean 67.3 as 0.673"
    );
    assert!(md.contains("| rte | Mosbach et al. 2021 | acc | 0.027 | 0.673 | 0.711 |"), "{md}");
    assert_eq!(json["paper"]["rows"].as_array().unwrap().len(), 3);
}

#[test]
fn study_printout_results_and_report_share_one_table() {
    let mut runs = Vec::new();
    for (k, v) in spread(5, 0.85, 0.01).into_iter().enumerate() {
        let mut run = FakeRun::new("mrpc", "devlin2019", k as u64 + 1, v);
        run.metric = "f1";
        runs.push(run);
    }
    let (_tmp, r) = report(&runs);
    let rows = stabletune_report::table_of(&r.runs).unwrap();
    assert_eq!(serde_json::to_value(&rows).unwrap(), serde_json::to_value(&r.rows).unwrap());
    let text = stabletune_report::table_text(&rows);
    assert!(text.starts_with("task  configuration  metric  n"), "{text}");
    assert!(text.contains("mrpc  all runs") && text.contains(" f1 "), "{text}");
}

#[test]
fn a_baseline_judged_on_another_metric_is_shown_in_the_tables_metric() {
    // MRPC: runs are judged on acc_and_f1; Table 1 shows F1. The majority class's F1 comes from the runs'
    // recorded majority_metrics, so a run at F1 0.8122 that failed on acc_and_f1 can be seen to.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("study");
    for (k, f1) in [0.8122, 0.85, 0.86, 0.87, 0.88].iter().enumerate() {
        let mut run = FakeRun::new("mrpc", "devlin2019", k as u64 + 1, *f1);
        run.metric = "acc_and_f1";
        run.baseline = 0.7479;
        let dir = write_run(&root, &run);
        let path = dir.join("summary.json");
        let mut s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        s["final_metrics"]["f1"] = serde_json::json!(f1);
        s["majority_metrics"] = serde_json::json!({"acc": 0.6838, "f1": 0.8122, "acc_and_f1": 0.7479});
        std::fs::write(&path, s.to_string()).unwrap();
    }
    let r = build(&[root], None).unwrap();
    let row = &r.rows[0];
    assert_eq!((row.metric.as_str(), row.baseline_metric.as_deref()), ("f1", Some("acc_and_f1")));
    assert_eq!(row.baseline_in_metric, Some(0.8122));
    let (html, _md, _json, _out) = files(&r);
    assert!(html.contains("0.8122 (0.7479 acc_and_f1)"), "the table shows both baselines");
    let fig = r.figures.iter().find(|f| f.id == "fig1-box-mrpc").unwrap();
    assert!(fig.caption.contains("majority-class prediction's f1 (0.8122)"), "{}", fig.caption);
}

//! The paper's own numbers, printed beside a study's Table 1 for the tasks it has, so a reader compares
//! like with like. Mosbach et al. print metrics x 100; the report keeps fractions, so these are divided
//! by 100 here and shown on the report's scale.

use serde::Serialize;

/// One row of the paper's Table 1 (BERT-large-uncased, 25 seeds): std, mean and max of the dev metric.
#[derive(Clone, Debug, Serialize)]
pub struct PaperRow {
    pub task: &'static str,
    pub metric: &'static str,
    pub configuration: &'static str,
    pub std: f64,
    pub mean: f64,
    pub max: f64,
}

/// Where the numbers come from, said with them.
pub const SOURCE: &str =
    "Mosbach et al. (ICLR 2021), Table 1: BERT-large-uncased, 25 random seeds per row; the paper \
                          prints x 100, shown here as fractions like the table above";

/// (task, metric, configuration, std, mean, max) as the paper prints them (x 100).
const TABLE_1: [(&str, &str, &str, f64, f64, f64); 9] = [
    ("rte", "acc", "Devlin et al. 2019", 4.5, 50.9, 67.5),
    ("rte", "acc", "Lee et al. 2020 (Mixout)", 7.9, 65.3, 74.4),
    ("rte", "acc", "Mosbach et al. 2021", 2.7, 67.3, 71.1),
    ("mrpc", "f1", "Devlin et al. 2019", 3.9, 84.0, 91.2),
    ("mrpc", "f1", "Lee et al. 2020 (Mixout)", 3.8, 87.8, 91.8),
    ("mrpc", "f1", "Mosbach et al. 2021", 0.8, 90.3, 91.7),
    ("cola", "mcc", "Devlin et al. 2019", 25.6, 45.6, 64.6),
    ("cola", "mcc", "Lee et al. 2020 (Mixout)", 20.9, 51.9, 64.0),
    ("cola", "mcc", "Mosbach et al. 2021", 1.8, 62.1, 65.3),
];

/// The paper's rows for the tasks among `tasks` (in the paper's order), on the report's scale.
pub fn rows_for(tasks: &[&str]) -> Vec<PaperRow> {
    TABLE_1
        .iter()
        .filter(|(t, ..)| tasks.contains(t))
        .map(|&(task, metric, configuration, std, mean, max)| PaperRow {
            task,
            metric,
            configuration,
            std: std / 100.0,
            mean: mean / 100.0,
            max: max / 100.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_the_report_scale_for_the_tasks_present() {
        let rows = rows_for(&["rte", "sst-2"]);
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.task == "rte" && r.metric == "acc"));
        assert!((rows[2].mean - 0.673).abs() < 1e-12 && (rows[0].std - 0.045).abs() < 1e-12);
        assert!(rows_for(&["sst-2"]).is_empty());
    }
}

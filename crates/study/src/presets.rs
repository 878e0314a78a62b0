//! Built-in studies, usable by name (`stabletune study run demo`) and printable as a starting point
//! (`stabletune study show table1 > my.toml`).

/// (name, what it is, the study file).
pub const PRESETS: [(&str, &str, &str); 6] = [
    ("demo", "the paper's question on the shipped MiniLM and SST-2 at lr 3e-4, in minutes on a laptop", DEMO),
    (
        "recipes",
        "the four recipes (Devlin, Mixout, Mosbach, re-init) on the shipped MiniLM, SST-2 1k",
        RECIPES,
    ),
    (
        "table1",
        "Table 1 of Mosbach et al.: three large models x RTE, MRPC, CoLA x recipes x 25 seeds",
        TABLE1,
    ),
    (
        "fig3-downsampling",
        "1k subsamples for 3 epochs against as many updates as 3 epochs of the full set",
        FIG3,
    ),
    ("fig9-ablation", "learning rate x epochs x bias correction on RTE (Fig. 5 and 9)", FIG9),
    ("dodge-grid", "Dodge et al.'s grid of 10 init seeds x 10 data seeds on one task", DODGE),
];

pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _, _)| *n == name).map(|(_, _, text)| *text)
}

const DEMO: &str = r#"# The README's main job: the paper's question on real data. Devlin et al.'s recipe (Adam without bias
# correction) against Mosbach et al.'s (with it) at a high learning rate, 3e-4, where the missing correction
# makes the first updates several times larger than asked for (Fig. 5/9 of the paper): the shipped MiniLM
# (all-MiniLM-L6-v2) on one 500-example sample of SST-2, seeds 1 to 8. Shortened so that it runs in under
# 10 minutes on two cores: 3 epochs for both recipes (mosbach2021 here is its bias-corrected optimizer
# without its 20 epochs, which would take about 7 times as long), 500 examples rather than the paper's 1000.
name = "demo"
tasks = ["sst-2"]
recipes = ["devlin2019", "mosbach2021"]
seeds = "1..8"
train_limit = 500
epochs = 3
evals_per_epoch = 1
lr = 3e-4
"#;

const RECIPES: &str = r#"# Every recipe on the shipped MiniLM and one 1000-example sample of SST-2, 3 epochs each (mosbach2021 is
# shortened from its 20 epochs to compare the optimizers at equal updates), seeds 1 to 4: 16 runs, a few
# minutes on two cores.
name = "recipes"
tasks = ["sst-2"]
recipes = ["devlin2019", "lee2020-mixout", "mosbach2021", "zhang2021-reinit"]
seeds = "1..4"
train_limit = 1000
epochs = 3
evals_per_epoch = 1
"#;

const TABLE1: &str = r#"# Table 1 of Mosbach et al. (2021): std / mean / max of the dev metric over 25 seeds. For a cluster:
# 3 models x 3 tasks x 3 recipes x 25 seeds = 675 runs.
name = "table1"
models = ["bert-large-uncased", "roberta-large", "albert-large-v2"]
tasks = ["rte", "mrpc", "cola"]
recipes = ["devlin2019", "lee2020-mixout", "mosbach2021"]
seeds = "1..25"
"#;

const FIG3: &str = r#"# Fig. 3 / Table 4 of Mosbach et al.: fine-tuning on 1000 sampled examples for 3 epochs, against the same
# sample trained for as many updates as 3 epochs of the full training set (max_steps per task below:
# RTE 2490, MRPC 3668, CoLA 8551 examples, batch 16). Run one study per task, or keep the task list and
# set max_steps per task in separate files.
name = "fig3-downsampling"
models = ["bert-large-uncased"]
tasks = ["rte"]
recipes = ["devlin2019", "mosbach2021"]
seeds = "1..10"
train_limit = 1000
epochs = 3
# 0: 3 epochs of the sample (189 updates); 468: 3 epochs of RTE's full set.
max_steps = [0, 468]
"#;

const FIG9: &str = r#"# Fig. 5 and 9 of Mosbach et al.: learning rate x epochs x bias correction, on RTE.
name = "fig9-ablation"
models = ["bert-large-uncased"]
tasks = ["rte"]
recipes = ["devlin2019"]
seeds = "1..10"
[grid]
lr = [1e-5, 2e-5, 3e-5]
epochs = [3, 10, 20]
bias_correction = [false, true]
"#;

const DODGE: &str = r#"# Dodge et al. (2020): every init seed (new head, dropout) with every data seed (training order), to
# separate the two sources of variance (two-way ANOVA in the report).
name = "dodge-grid"
models = ["bert-base-uncased"]
tasks = ["rte"]
recipes = ["devlin2019"]
init_seeds = "1..10"
data_seeds = "1..10"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::StudySpec;

    #[test]
    fn every_preset_parses() {
        for (name, _, text) in PRESETS {
            let spec =
                StudySpec::parse(std::path::Path::new(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(spec.name, name);
        }
        assert!(preset("demo").is_some() && preset("nope").is_none());
    }
}

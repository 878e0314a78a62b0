//! Run configuration: a recipe's defaults, overridden by a TOML file, overridden by command-line flags,
//! resolved once into a frozen [`TrainConfig`] that is written into the run directory (and can be read
//! back as a config file to repeat the run).

use crate::metrics::Metric;
use crate::schedule::ScheduleKind;
use crate::sentinel::SentinelMode;
use serde::{Deserialize, Serialize};
use stabletune_model::Architecture;
use std::path::{Path, PathBuf};

/// The fine-tuning recipes of REFERENCE.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// Devlin et al. 2019: no Adam bias correction, 3 epochs, keep the last model.
    #[serde(rename = "devlin2019")]
    Devlin2019,
    /// Mosbach et al. 2021: bias correction, 20 epochs, evaluate 3 times an epoch, keep the best too.
    #[serde(rename = "mosbach2021")]
    Mosbach2021,
    /// Mixout (Lee et al. 2020) on Devlin's recipe. Mosbach et al. give no Mixout settings and their code
    /// has none, so each default is inferred (README, "Recipes"): p = 0.9 and every dropout replaced by
    /// Mixout of the linear layers after it (Lee et al.'s paper and example.py), the reference's
    /// gradient (bloodwass/mixout), dropout off elsewhere (the revisit code).
    #[serde(rename = "lee2020-mixout")]
    Lee2020Mixout,
    /// Zhang et al. 2021 as the revisit code's re-init command: bias correction, the pooler and the top 5
    /// layers re-initialised, no weight decay; batch, lr and the rest from Table 3, 3 epochs.
    #[serde(rename = "zhang2021-reinit")]
    Zhang2021Reinit,
}

impl Recipe {
    pub fn parse(name: &str) -> Option<Recipe> {
        match name {
            "devlin2019" => Some(Recipe::Devlin2019),
            "mosbach2021" => Some(Recipe::Mosbach2021),
            "lee2020-mixout" => Some(Recipe::Lee2020Mixout),
            "zhang2021-reinit" => Some(Recipe::Zhang2021Reinit),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Recipe::Devlin2019 => "devlin2019",
            Recipe::Mosbach2021 => "mosbach2021",
            Recipe::Lee2020Mixout => "lee2020-mixout",
            Recipe::Zhang2021Reinit => "zhang2021-reinit",
        }
    }
}

/// How gradients are clipped before the update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClipMode {
    /// The L2 norm of all gradients together (`clip_grad_norm_`).
    Global,
    /// Each parameter tensor's gradient separately.
    PerParameter,
}

/// Which linear layers Mixout mixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MixoutLayers {
    /// Every linear layer on the forward path, heads included (the revisit code's `--mixout`).
    All,
    /// Only those whose input comes out of a dropout, as Lee et al. replace each dropout by Mixout of
    /// the layer after it (see `mixout::follows_dropout` for the list).
    AfterDropout,
}

/// Parses a setting's value as its TOML/JSON spelling (`devlin2019`, `acc_and_f1`, `warmup-linear`), so
/// a flag takes exactly the words a config file does.
pub fn parse_by_name<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.into())).map_err(|e| format!("{what} {s:?}: {e}"))
}

macro_rules! from_str_by_name {
    ($($t:ty => $what:literal),*) => {$(
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                parse_by_name($what, s)
            }
        }
    )*};
}
from_str_by_name!(
    Recipe => "recipe",
    ClipMode => "clip mode",
    Metric => "metric",
    ScheduleKind => "schedule",
    MixoutLayers => "mixout layers",
    SentinelMode => "sentinel"
);

/// Every setting of a run, all optional: what a TOML file or the command line gives. Unknown keys are
/// errors. Field names are the TOML keys; with the `clap` feature each is also a `--flag` (underscores
/// become dashes) whose help is the field's comment, so the file and the command line never drift apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Model folder or Hugging Face Hub id (default: the MiniLM model in the assets folder).
    #[cfg_attr(feature = "clap", arg(long))]
    pub model: Option<String>,
    /// A GLUE task (rte, sst-2, mrpc, cola, qnli, qqp, mnli, sts-b, wnli, scitail), or the name of your
    /// own data given by train_file and dev_file.
    #[cfg_attr(feature = "clap", arg(long))]
    pub task: Option<String>,
    /// Folder with the task's TSV files (default: $GLUE_DIR/<TASK>, else the assets folder).
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_dir: Option<PathBuf>,
    /// Your own training data: a .csv, .tsv or .jsonl file with a header naming its columns, a .parquet
    /// or Arrow (.arrow, .feather) file, or a `datasets` save_to_disk folder.
    #[cfg_attr(feature = "clap", arg(long))]
    pub train_file: Option<PathBuf>,
    /// Your own dev data, in the layout of train_file.
    #[cfg_attr(feature = "clap", arg(long))]
    pub dev_file: Option<PathBuf>,
    /// Column of the first text in your own data (default text_a).
    #[cfg_attr(feature = "clap", arg(long))]
    pub text_a_column: Option<String>,
    /// Column of the second text, for sentence pairs.
    #[cfg_attr(feature = "clap", arg(long))]
    pub text_b_column: Option<String>,
    /// Column of the label (default label).
    #[cfg_attr(feature = "clap", arg(long))]
    pub label_column: Option<String>,
    /// The label set of your own data, comma-separated (default: the training labels, sorted).
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ','))]
    pub labels: Option<Vec<String>>,
    /// A Hugging Face Hub dataset (org/name), read from the Hub cache (downloaded unless
    /// HF_HUB_OFFLINE=1): nyu-mll/glue with a GLUE task, or any dataset with the column options.
    #[cfg_attr(feature = "clap", arg(long))]
    pub dataset: Option<String>,
    /// The Hub dataset's config (default: the GLUE task's, or the dataset's only or default one).
    #[cfg_attr(feature = "clap", arg(long))]
    pub dataset_config: Option<String>,
    /// The Hub dataset's revision: a branch, tag or commit (default main).
    #[cfg_attr(feature = "clap", arg(long))]
    pub dataset_revision: Option<String>,
    /// Headline metric: acc, f1, mcc, acc_and_f1, or pearson (regression). Default: the task's.
    #[cfg_attr(feature = "clap", arg(long))]
    pub metric: Option<Metric>,
    /// devlin2019 or mosbach2021 (default mosbach2021).
    #[cfg_attr(feature = "clap", arg(long))]
    pub recipe: Option<Recipe>,
    /// Sets both the init seed and the data seed.
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
    /// Seed of new weights (the task head) and of dropout masks.
    #[cfg_attr(feature = "clap", arg(long))]
    pub init_seed: Option<u64>,
    /// Seed of the training order.
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_seed: Option<u64>,
    /// Seed of train_limit's subsample (default 0): one sample shared by every seed of a study, as the
    /// authors' fixed train-sampled-1k.tsv.
    #[cfg_attr(feature = "clap", arg(long))]
    pub sample_seed: Option<u64>,
    /// Train on N training examples sampled with the sample seed.
    #[cfg_attr(feature = "clap", arg(long))]
    pub train_limit: Option<usize>,
    /// Tokens per example; longer pairs are truncated longest-first (default 128).
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_seq_length: Option<usize>,
    /// Passes over the training data (default: 3 for devlin2019, 20 for mosbach2021).
    #[cfg_attr(feature = "clap", arg(long))]
    pub epochs: Option<usize>,
    /// Train for exactly N updates (0: epochs decide): the schedule spans N updates, and the data is
    /// passed over as many times as that takes, as the authors' max_steps.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_steps: Option<u64>,
    /// Training examples per update (default 16).
    #[cfg_attr(feature = "clap", arg(long))]
    pub batch_size: Option<usize>,
    /// Examples per evaluation batch (default 64); never changes a result.
    #[cfg_attr(feature = "clap", arg(long))]
    pub eval_batch_size: Option<usize>,
    /// Peak learning rate (default 2e-5).
    #[cfg_attr(feature = "clap", arg(long))]
    pub lr: Option<f64>,
    /// warmup-linear (default), warmup-constant or warmup-cosine.
    #[cfg_attr(feature = "clap", arg(long))]
    pub schedule: Option<ScheduleKind>,
    /// Warmup as a share of the updates, rounded down as the authors' int(t_total * ratio) (default 0.1).
    #[cfg_attr(feature = "clap", arg(long))]
    pub warmup_ratio: Option<f64>,
    /// Warmup updates (overrides warmup_ratio).
    #[cfg_attr(feature = "clap", arg(long))]
    pub warmup_steps: Option<u64>,
    /// Adam's beta1 (default 0.9).
    #[cfg_attr(feature = "clap", arg(long))]
    pub adam_beta1: Option<f64>,
    /// Adam's beta2 (default 0.999; RoBERTa 0.98).
    #[cfg_attr(feature = "clap", arg(long))]
    pub adam_beta2: Option<f64>,
    /// Adam's epsilon, added outside the bias correction as the original (default 1e-6).
    #[cfg_attr(feature = "clap", arg(long))]
    pub adam_eps: Option<f64>,
    /// Adam's bias correction (default: off for devlin2019, on for mosbach2021).
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub bias_correction: Option<bool>,
    /// Decoupled weight decay, not on biases and LayerNorm (default 0.01; RoBERTa 0.1; ALBERT 0).
    #[cfg_attr(feature = "clap", arg(long))]
    pub weight_decay: Option<f64>,
    /// Gradient-norm clipping threshold (default 1.0; RoBERTa 0: off).
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_grad_norm: Option<f64>,
    /// global (all gradients together, default) or per-parameter.
    #[cfg_attr(feature = "clap", arg(long))]
    pub clip: Option<ClipMode>,
    /// Layer-wise learning-rate decay, as the revisit code: the top layer trains at lr * decay, each
    /// layer below at one more factor, the embeddings at lr * decay^(L+1); pooler and head at lr with
    /// no weight decay. 1 (or unset): off.
    #[cfg_attr(feature = "clap", arg(long))]
    pub layerwise_lr_decay: Option<f64>,
    /// Dropout after the embeddings and every sublayer (default 0.1; ALBERT 0).
    #[cfg_attr(feature = "clap", arg(long))]
    pub hidden_dropout: Option<f32>,
    /// Dropout on the attention probabilities (default 0.1; ALBERT 0).
    #[cfg_attr(feature = "clap", arg(long))]
    pub attention_dropout: Option<f32>,
    /// Dropout before the classifier's output layer (default 0.1; ALBERT 0).
    #[cfg_attr(feature = "clap", arg(long))]
    pub classifier_dropout: Option<f32>,
    /// RoBERTa only: dropout on the head's input, before its dense layer. Off (0) in both recipes, as
    /// the authors' pooler-roberta; transformers' RobertaClassificationHead uses classifier_dropout.
    #[cfg_attr(feature = "clap", arg(long))]
    pub head_input_dropout: Option<f32>,
    /// Mixout probability p of every linear layer, the classifier included (Lee et al.; 0: off, the
    /// default but for lee2020-mixout's 0.9). Also turns every dropout off unless one is given.
    #[cfg_attr(feature = "clap", arg(long))]
    pub mixout: Option<f64>,
    /// Which linear layers Mixout mixes: all, or after-dropout (those whose input comes out of a dropout,
    /// Lee et al.'s protocol). Default: after-dropout for lee2020-mixout, all with --mixout elsewhere.
    #[cfg_attr(feature = "clap", arg(long))]
    pub mixout_layers: Option<MixoutLayers>,
    /// Mixout's exact gradient M / (1 - p) rather than the reference implementation's M.
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub mixout_exact_gradient: Option<bool>,
    /// Re-initialise the top K encoder layers before training (Zhang et al.; default 0, zhang2021-reinit 5).
    #[cfg_attr(feature = "clap", arg(long))]
    pub reinit_layers: Option<usize>,
    /// Re-initialise the pooler's dense layer before training (default false, zhang2021-reinit true).
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub reinit_pooler: Option<bool>,
    /// Keep a classifier found in the checkpoint instead of drawing a new one from the init seed.
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub keep_head: Option<bool>,
    /// Evaluations per epoch: every floor(batches per epoch / N) updates, and at each epoch's end
    /// (default: 1 for devlin2019, 3 for mosbach2021).
    #[cfg_attr(feature = "clap", arg(long))]
    pub evals_per_epoch: Option<usize>,
    /// Stop after this many evaluations without improvement of the task metric (0: never).
    #[cfg_attr(feature = "clap", arg(long))]
    pub early_stopping_patience: Option<usize>,
    /// Log loss, lr and gradient norm every N updates (default 1).
    #[cfg_attr(feature = "clap", arg(long))]
    pub log_every: Option<u64>,
    /// Log every weight matrix's gradient norm every N updates, at updates 1, N+1, 2N+1, ... as the
    /// authors (default 10).
    #[cfg_attr(feature = "clap", arg(long))]
    pub grad_norms_every: Option<u64>,
    /// Also write the resume checkpoint every N updates (0, the default: at each epoch's end only).
    #[cfg_attr(feature = "clap", arg(long))]
    pub checkpoint_every: Option<u64>,
    /// Worker threads (0: one per core); never changes a result.
    #[cfg_attr(feature = "clap", arg(long))]
    pub threads: Option<usize>,
    /// The failure sentinel: off, flag (log and record a run that shows the failed-run signature), or stop
    /// (end it as failed); restart is a study setting.
    #[cfg_attr(feature = "clap", arg(long))]
    pub sentinel: Option<SentinelMode>,
}

impl Overrides {
    /// Reads a TOML config file; unknown keys and wrong types are errors naming the file and line.
    pub fn from_toml_file(path: &Path) -> Result<Overrides, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        parse_toml(path, &text)
    }

    /// `self` where set, else `base`. Done field by field through serde, so a new setting needs no
    /// change here.
    pub fn over(self, base: Overrides) -> Overrides {
        let (serde_json::Value::Object(mut merged), serde_json::Value::Object(top)) = (
            serde_json::to_value(base).expect("serialisable"),
            serde_json::to_value(self).expect("serialisable"),
        ) else {
            unreachable!("a struct serialises to a map")
        };
        for (key, value) in top {
            if !value.is_null() {
                merged.insert(key, value);
            }
        }
        serde_json::from_value(serde_json::Value::Object(merged)).expect("the same fields read back")
    }
}

/// Deserialises TOML text, reporting an error as `file:line: message` (the toml crate's own message
/// carries a rendering of the line, which reads badly in a log).
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let message = e.message().trim_end();
        match line {
            Some(l) => format!("{}:{l}: {message}", path.display()),
            None => format!("{}: {message}", path.display()),
        }
    })
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero_count(x: &usize) -> bool {
    *x == 0
}

fn is_off(mode: &SentinelMode) -> bool {
    *mode == SentinelMode::Off
}

fn is_false(x: &bool) -> bool {
    !*x
}

/// A run's complete, resolved configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: String,
    pub task: String,
    pub data_dir: Option<PathBuf>,
    pub train_file: Option<PathBuf>,
    pub dev_file: Option<PathBuf>,
    pub text_a_column: Option<String>,
    pub text_b_column: Option<String>,
    pub label_column: Option<String>,
    pub labels: Option<Vec<String>>,
    // Left out of config.toml when unset, so runs on local data keep their files and study names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_revision: Option<String>,
    pub metric: Option<Metric>,
    pub recipe: Recipe,
    pub init_seed: u64,
    pub data_seed: u64,
    pub sample_seed: u64,
    pub train_limit: Option<usize>,
    pub max_seq_length: usize,
    pub epochs: usize,
    pub max_steps: u64,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub lr: f64,
    pub schedule: ScheduleKind,
    pub warmup_ratio: f64,
    pub warmup_steps: Option<u64>,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_eps: f64,
    pub bias_correction: bool,
    pub weight_decay: f64,
    pub max_grad_norm: f64,
    pub clip: ClipMode,
    pub layerwise_lr_decay: Option<f64>,
    pub hidden_dropout: f32,
    pub attention_dropout: f32,
    pub classifier_dropout: f32,
    pub head_input_dropout: f32,
    // Settings that are off by default are left out of config.toml when off, so the files (and the
    // study run names hashed from them) of runs without them stay as they were.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mixout: f64,
    /// Set exactly when `mixout` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixout_layers: Option<MixoutLayers>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mixout_exact_gradient: bool,
    #[serde(default, skip_serializing_if = "is_zero_count")]
    pub reinit_layers: usize,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reinit_pooler: bool,
    pub keep_head: bool,
    pub evals_per_epoch: usize,
    pub early_stopping_patience: usize,
    pub log_every: u64,
    pub grad_norms_every: u64,
    pub checkpoint_every: u64,
    pub threads: usize,
    /// Left out when off, so the files and study names of runs without it stay as they were.
    #[serde(default, skip_serializing_if = "is_off")]
    pub sentinel: SentinelMode,
}

impl TrainConfig {
    /// Resolves `o` over the defaults of its recipe for the model family `arch` (Table 3 of Mosbach et
    /// al.). `model` and `task` must be set.
    pub fn resolve(o: Overrides, arch: Architecture) -> Result<TrainConfig, String> {
        let recipe = o.recipe.unwrap_or(Recipe::Mosbach2021);
        // Table 3: BERT | RoBERTa | ALBERT.
        let (beta2, dropout, weight_decay, clip) = match arch {
            Architecture::Bert => (0.999, 0.1, 0.01, 1.0),
            Architecture::Roberta => (0.98, 0.1, 0.1, 0.0),
            Architecture::Albert => (0.999, 0.0, 0.0, 1.0),
        };
        // The revisit code's re-init command runs with weight decay 0, whatever the family.
        let weight_decay = if recipe == Recipe::Zhang2021Reinit { 0.0 } else { weight_decay };
        let (bias_correction, epochs, evals) = match recipe {
            Recipe::Devlin2019 | Recipe::Lee2020Mixout => (false, 3, 1),
            Recipe::Mosbach2021 => (true, 20, 3),
            Recipe::Zhang2021Reinit => (true, 3, 1),
        };
        let mixout = o.mixout.unwrap_or(if recipe == Recipe::Lee2020Mixout { 0.9 } else { 0.0 });
        // Under Mixout every dropout is off, as the revisit code sets them (a given one still counts).
        let dropout = if mixout > 0.0 { 0.0 } else { dropout };
        // Lee et al. replace dropout by Mixout; --mixout on another recipe is the revisit code's, on all.
        let lee = recipe == Recipe::Lee2020Mixout;
        let layers = if lee { MixoutLayers::AfterDropout } else { MixoutLayers::All };
        let mixout_layers = match (mixout > 0.0, o.mixout_layers) {
            (true, given) => Some(given.unwrap_or(layers)),
            (false, None) => None,
            (false, Some(_)) => return Err("mixout_layers needs mixout > 0".into()),
        };
        let reinit = recipe == Recipe::Zhang2021Reinit;
        let cfg = TrainConfig {
            model: o.model.ok_or("no model given")?,
            task: o.task.ok_or("no task given")?,
            data_dir: o.data_dir,
            train_file: o.train_file,
            dev_file: o.dev_file,
            text_a_column: o.text_a_column,
            text_b_column: o.text_b_column,
            label_column: o.label_column,
            labels: o.labels,
            dataset: o.dataset,
            dataset_config: o.dataset_config,
            dataset_revision: o.dataset_revision,
            metric: o.metric,
            recipe,
            init_seed: o.init_seed.or(o.seed).unwrap_or(0),
            data_seed: o.data_seed.or(o.seed).unwrap_or(0),
            sample_seed: o.sample_seed.unwrap_or(0),
            train_limit: o.train_limit,
            max_seq_length: o.max_seq_length.unwrap_or(128),
            epochs: o.epochs.unwrap_or(epochs),
            max_steps: o.max_steps.unwrap_or(0),
            batch_size: o.batch_size.unwrap_or(16),
            eval_batch_size: o.eval_batch_size.unwrap_or(64),
            lr: o.lr.unwrap_or(2e-5),
            schedule: o.schedule.unwrap_or(ScheduleKind::WarmupLinear),
            warmup_ratio: o.warmup_ratio.unwrap_or(0.1),
            warmup_steps: o.warmup_steps,
            adam_beta1: o.adam_beta1.unwrap_or(0.9),
            adam_beta2: o.adam_beta2.unwrap_or(beta2),
            adam_eps: o.adam_eps.unwrap_or(1e-6),
            bias_correction: o.bias_correction.unwrap_or(bias_correction),
            weight_decay: o.weight_decay.unwrap_or(weight_decay),
            max_grad_norm: o.max_grad_norm.unwrap_or(clip),
            clip: o.clip.unwrap_or(ClipMode::Global),
            layerwise_lr_decay: o.layerwise_lr_decay,
            hidden_dropout: o.hidden_dropout.unwrap_or(dropout),
            attention_dropout: o.attention_dropout.unwrap_or(dropout),
            classifier_dropout: o.classifier_dropout.unwrap_or(dropout),
            head_input_dropout: o.head_input_dropout.unwrap_or(0.0),
            mixout,
            mixout_layers,
            mixout_exact_gradient: o.mixout_exact_gradient.unwrap_or(false),
            reinit_layers: o.reinit_layers.unwrap_or(if reinit { 5 } else { 0 }),
            reinit_pooler: o.reinit_pooler.unwrap_or(reinit),
            keep_head: o.keep_head.unwrap_or(false),
            evals_per_epoch: o.evals_per_epoch.unwrap_or(evals),
            early_stopping_patience: o.early_stopping_patience.unwrap_or(0),
            log_every: o.log_every.unwrap_or(1),
            grad_norms_every: o.grad_norms_every.unwrap_or(10),
            checkpoint_every: o.checkpoint_every.unwrap_or(0),
            threads: o.threads.unwrap_or(0),
            sentinel: o.sentinel.unwrap_or_default(),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if self.train_file.is_some() != self.dev_file.is_some() {
            return Err("give both train_file and dev_file for your own data".into());
        }
        if self.dataset.is_some() && self.train_file.is_some() {
            return Err("give either a Hub dataset or train_file and dev_file, not both".into());
        }
        let positive = [
            ("epochs", self.epochs as f64),
            ("batch_size", self.batch_size as f64),
            ("eval_batch_size", self.eval_batch_size as f64),
            ("evals_per_epoch", self.evals_per_epoch as f64),
            ("lr", self.lr),
            ("log_every", self.log_every as f64),
            ("grad_norms_every", self.grad_norms_every as f64),
        ];
        for (name, v) in positive {
            if !(v > 0.0 && v.is_finite()) {
                return Err(format!("{name} must be positive, got {v}"));
            }
        }
        for (name, v) in [("adam_beta1", self.adam_beta1), ("adam_beta2", self.adam_beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(format!("{name} must be in [0, 1), got {v}"));
            }
        }
        for (name, v) in [
            ("hidden_dropout", self.hidden_dropout),
            ("attention_dropout", self.attention_dropout),
            ("classifier_dropout", self.classifier_dropout),
            ("head_input_dropout", self.head_input_dropout),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(format!("{name} must be in [0, 1), got {v}"));
            }
        }
        if !(0.0..1.0).contains(&self.mixout) {
            return Err(format!("mixout must be in [0, 1) (0: off), got {}", self.mixout));
        }
        if self.mixout_exact_gradient && self.mixout == 0.0 {
            return Err("mixout_exact_gradient needs mixout > 0".into());
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return Err(format!("warmup_ratio must be in [0, 1], got {}", self.warmup_ratio));
        }
        if self.adam_eps < 0.0 || self.weight_decay < 0.0 || self.max_grad_norm < 0.0 {
            return Err("adam_eps, weight_decay and max_grad_norm must not be negative".into());
        }
        if let Some(d) = self.layerwise_lr_decay {
            if !(d > 0.0 && d <= 1.0) {
                return Err(format!("layerwise_lr_decay must be in (0, 1], got {d}"));
            }
        }
        if self.train_limit == Some(0) {
            return Err("train_limit must be positive (leave it out to train on all examples)".into());
        }
        if self.sentinel == SentinelMode::Restart {
            return Err(
                "sentinel = \"restart\" is a study setting (a run alone has no next seed to restart \
                        with); use \"stop\" for one run"
                    .into(),
            );
        }
        if self.max_seq_length < 4 {
            return Err(format!("max_seq_length {} is too short", self.max_seq_length));
        }
        Ok(())
    }

    /// The frozen config as TOML (readable back with [`Overrides::from_toml_file`]).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the config serialises")
    }
}

#[cfg(test)]
mod tests;

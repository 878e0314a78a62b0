//! Data from where Hugging Face users keep it, against the GLUE TSV readers on the same rows: the Hub
//! cache (card `configs:` globs, the refs/convert/parquet fallback), Parquet in the Hub's schema,
//! `save_to_disk` folders, the `datasets` cache's Arrow stream files, Arrow IPC files, large_string and
//! dictionary columns; and clear errors for bad input. Fixtures: tools/make_hub_data_fixtures.py (the
//! first rows of the shipped TSVs; the TSV side takes the same rows at test time).

use stabletune_train::dataset::Labels;
use stabletune_train::hub_data::resolve_in;
use stabletune_train::metrics::{majority_baseline, Metric};
use stabletune_train::source::{read, read_hub_data, DataSpec, Splits};
use stabletune_train::Example;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub-data")
}

fn snapshot() -> PathBuf {
    fixtures().join("hub/datasets--nyu-mll--glue/snapshots/958bd6e8abb417576d0a8e97d9b70366798d0e8f")
}

/// Every test reads the fixture cache offline; all set the same values, so setting them from several
/// test threads is harmless.
fn offline_cache() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("HF_HUB_CACHE", fixtures().join("hub"));
        std::env::set_var("HF_HUB_OFFLINE", "1");
    });
}

/// The first `train` and `dev` rows of a shipped GLUE task, as the fixtures were made from.
fn tsv_subset(task: &str, train: usize, dev: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/assets/glue").join(task);
    for (file, rows) in [("train.tsv", train), ("dev.tsv", dev)] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let head: String = text.lines().take(rows + 1).map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.path().join(file), head).unwrap();
    }
    dir
}

fn spec(task: &str) -> DataSpec {
    DataSpec { task: task.into(), ..DataSpec::default() }
}

fn class_ids(set: &[String], examples: &[Example]) -> Labels {
    Labels::Classes(
        examples
            .iter()
            .map(|e| set.iter().position(|s| Some(s) == e.label.as_ref()).unwrap() as i64)
            .collect(),
    )
}

/// Same examples in the same order, the same label ids and the same majority baseline.
fn assert_same_data(tsv: &Splits, other: &Splits) {
    for i in 0..2 {
        let (a, b) = (&tsv.splits[i].examples, &other.splits[i].examples);
        assert_eq!(a.len(), b.len(), "{}", other.splits[i].name);
        for (x, y) in a.iter().zip(b) {
            assert_eq!((&x.text_a, &x.text_b), (&y.text_a, &y.text_b));
        }
        let ids = |s: &Splits| class_ids(s.label_set.as_deref().unwrap(), &s.splits[i].examples);
        assert_eq!(ids(tsv), ids(other), "label ids of {}", other.splits[i].name);
    }
    assert_eq!(tsv.metric, other.metric);
    let baseline = |s: &Splits| {
        let set = s.label_set.as_deref().unwrap();
        majority_baseline(
            s.metric,
            &class_ids(set, &s.splits[0].examples),
            &class_ids(set, &s.splits[1].examples),
        )
    };
    assert_eq!(baseline(tsv), baseline(other));
}

#[test]
fn glue_from_the_hub_cache_is_the_tsv_data() {
    offline_cache();
    for (task, hub_task, train, dev) in [("RTE", "rte", 96, 64), ("SST-2", "sst-2", 128, 64)] {
        let dir = tsv_subset(task, train, dev);
        let tsv = read(&DataSpec { data_dir: Some(dir.path().into()), ..spec(hub_task) }, false).unwrap();
        let hub = read(&DataSpec { dataset: Some("nyu-mll/glue".into()), ..spec(hub_task) }, false).unwrap();
        assert_same_data(&tsv, &hub);
        assert_eq!((hub.name.as_str(), hub.label_set.clone()), (task, tsv.label_set.clone()));
        assert_eq!(hub.splits[0].examples, tsv.splits[0].examples, "the TSV's own label strings");
        let data = hub.hub.unwrap();
        assert_eq!(data.commit, "958bd6e8abb417576d0a8e97d9b70366798d0e8f");
        // Every split the card declares, the test split unlabelled (GLUE's label -1).
        let all = read(&DataSpec { dataset: Some("nyu-mll/glue".into()), ..spec(hub_task) }, true).unwrap();
        let names: Vec<_> = all.splits.iter().map(|s| (s.name.as_str(), s.labelled)).collect();
        assert_eq!(names, [("train", true), ("validation", true), ("test", false)]);
        assert!(all.splits[2].examples.iter().all(|e| e.label.is_none()));
    }
}

#[test]
fn parquet_arrow_and_save_to_disk_files_are_the_tsv_data() {
    let rte = tsv_subset("RTE", 96, 64);
    let tsv = read(&DataSpec { data_dir: Some(rte.path().into()), ..spec("rte") }, false).unwrap();
    let pair = |train: PathBuf, dev: PathBuf| DataSpec {
        train_file: Some(train),
        dev_file: Some(dev),
        text_a_column: Some("sentence1".into()),
        text_b_column: Some("sentence2".into()),
        ..spec("rte-own")
    };
    // Hub Parquet files given as files: ClassLabel names from the schema's `huggingface` key.
    let parquet = read(
        &pair(
            snapshot().join("rte/train-00000-of-00001.parquet"),
            snapshot().join("rte/validation-00000-of-00001.parquet"),
        ),
        false,
    )
    .unwrap();
    assert_eq!(parquet.label_set.as_deref(), Some(&["entailment".to_string(), "not_entailment".into()][..]));
    assert_same_data(&tsv, &parquet);
    // A save_to_disk folder, and an Arrow IPC file (feather v2).
    let saved = read(
        &pair(fixtures().join("save-to-disk/rte-train"), fixtures().join("edge/rte-validation.feather")),
        false,
    )
    .unwrap();
    assert_same_data(&tsv, &saved);
    // large_string and dictionary-encoded columns (string labels, no metadata), zstd-compressed.
    let edge = fixtures().join("edge/large-and-dictionary.parquet");
    let dict = read(
        &DataSpec {
            text_a_column: Some("premise".into()),
            text_b_column: Some("hypothesis".into()),
            ..pair(edge.clone(), edge)
        },
        false,
    )
    .unwrap();
    assert_eq!(dict.splits[1].examples, tsv.splits[1].examples);

    // SST-2 from the `datasets` cache's Arrow stream file: names negative/positive, ids as TSV's 0/1.
    let sst = tsv_subset("SST-2", 128, 64);
    let tsv = read(&DataSpec { data_dir: Some(sst.path().into()), ..spec("sst-2") }, false).unwrap();
    let cached = read(
        &DataSpec {
            train_file: Some(fixtures().join("cache-arrow/sst2-train.arrow")),
            dev_file: Some(snapshot().join("sst2/validation-00000-of-00001.parquet")),
            text_a_column: Some("sentence".into()),
            ..spec("sst2-own")
        },
        false,
    )
    .unwrap();
    assert_eq!(cached.label_set.as_deref(), Some(&["negative".to_string(), "positive".into()][..]));
    assert_same_data(&tsv, &cached);
}

#[test]
fn the_parquet_branch_serves_datasets_without_configs() {
    offline_cache();
    let rte = tsv_subset("RTE", 96, 64);
    let tsv = read(&DataSpec { data_dir: Some(rte.path().into()), ..spec("rte") }, false).unwrap();
    let hub = read(
        &DataSpec {
            dataset: Some("stabletune/no-configs".into()),
            text_a_column: Some("sentence1".into()),
            text_b_column: Some("sentence2".into()),
            ..spec("mine")
        },
        false,
    )
    .unwrap();
    assert_same_data(&tsv, &hub);
    let data = hub.hub.unwrap();
    assert_eq!((data.config.as_str(), data.revision.as_str()), ("default", "refs/convert/parquet"));
    assert_eq!(data.commit, "4c2e922b8fc558a4aa86db6e2236528846c011d4");
}

#[test]
fn an_empty_cache_offline_fails_fast_with_the_fetch_command() {
    let empty = tempfile::tempdir().unwrap();
    let err = resolve_in("nyu-mll/glue", Some("rte"), "v1.0", empty.path(), false).unwrap_err().to_string();
    for needle in ["nyu-mll/glue", "v1.0", "HF_HUB_OFFLINE", "hf download nyu-mll/glue --repo-type dataset"] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let cache = fixtures().join("hub");
    let ok = resolve_in("nyu-mll/glue", Some("sst2"), "main", &cache, false).unwrap();
    assert_eq!(ok.split("train").unwrap()[0].0, "sst2/train-00000-of-00001.parquet");
    // A commit hash is its own revision.
    let pinned = resolve_in("nyu-mll/glue", Some("rte"), &ok.commit, &cache, false).unwrap();
    assert_eq!(pinned.splits, resolve_in("nyu-mll/glue", Some("rte"), "main", &cache, false).unwrap().splits);
    let err = resolve_in("nyu-mll/glue", Some("qnli"), "main", &cache, false).unwrap_err().to_string();
    assert!(err.contains("no config \"qnli\"") && err.contains("rte, sst2"), "{err}");
    assert!(resolve_in("../etc", None, "main", &cache, false).is_err());
}

fn error_of(spec: &DataSpec) -> String {
    match read(spec, false) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_input_names_the_file_and_the_column_or_split() {
    offline_cache();
    let train = snapshot().join("rte/train-00000-of-00001.parquet");
    let own = |train: &Path, text_a: &str| DataSpec {
        train_file: Some(train.into()),
        dev_file: Some(train.into()),
        text_a_column: Some(text_a.into()),
        ..spec("own")
    };
    let err = error_of(&own(&train, "premise"));
    assert!(err.contains("train-00000-of-00001.parquet") && err.contains("no column \"premise\""), "{err}");
    assert!(err.contains("sentence1, sentence2, label, idx"), "the columns there: {err}");
    let floats = fixtures().join("edge/float-labels.parquet");
    let err = error_of(&own(&floats, "sentence"));
    assert!(err.contains("float-labels.parquet") && err.contains("\"label\" is Float64"), "{err}");
    // The same file is a regression task's data.
    let reg = read(&DataSpec { metric: Some(Metric::Pearson), ..own(&floats, "sentence") }, false).unwrap();
    assert_eq!(reg.splits[0].examples[2].label.as_deref(), Some("0.5"));
    let err = error_of(&own(&fixtures().join("edge/nested.parquet"), "sentence"));
    assert!(err.contains("nested.parquet") && err.contains("\"sentence\" is List("), "{err}");
    // GLUE's test split (label -1) refused for training.
    let test = snapshot().join("rte/test-00000-of-00001.parquet");
    let err = error_of(&DataSpec {
        text_b_column: Some("sentence2".into()),
        dev_file: Some(snapshot().join("rte/validation-00000-of-00001.parquet")),
        ..own(&test, "sentence1")
    });
    assert!(
        err.contains("test-00000-of-00001.parquet") && err.contains("label -1") && err.contains("no labels"),
        "{err}"
    );
    let err = error_of(&DataSpec {
        dataset: Some("nyu-mll/glue".into()),
        dataset_config: Some("mnli".into()),
        ..spec("rte")
    });
    assert!(err.contains("no config \"mnli\""), "{err}");
    // A GLUE task with no local files says how to get them either way.
    let empty = tempfile::tempdir().unwrap();
    let err = error_of(&DataSpec { data_dir: Some(empty.path().into()), ..spec("rte") });
    assert!(
        err.contains("train.tsv") && err.contains("GLUE_DIR") && err.contains("--dataset nyu-mll/glue"),
        "{err}"
    );
    let err = error_of(&own(&fixtures().join("save-to-disk"), "sentence1"));
    assert!(err.contains("save-to-disk") && err.contains("state.json"), "{err}");
}

/// Rewrites a Parquet file without its schema metadata (no `huggingface` key), with arrow-rs's writer.
fn strip_metadata(from: &Path, to: &Path) {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(from).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(batches[0].schema().fields().clone()));
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(to).unwrap(), schema.clone(), None)
            .unwrap();
    for b in batches {
        writer
            .write(&arrow_array::RecordBatch::try_new(schema.clone(), b.columns().to_vec()).unwrap())
            .unwrap();
    }
    writer.close().unwrap();
}

#[test]
fn class_names_come_from_the_card_when_the_files_lack_them() {
    let cache = tempfile::tempdir().unwrap();
    let commit = "958bd6e8abb417576d0a8e97d9b70366798d0e8f";
    let repo = cache.path().join("datasets--nyu-mll--glue");
    let snap = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(snap.join("rte")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    std::fs::copy(snapshot().join("README.md"), snap.join("README.md")).unwrap();
    for split in ["train", "validation"] {
        let file = format!("rte/{split}-00000-of-00001.parquet");
        strip_metadata(&snapshot().join(&file), &snap.join(&file));
    }
    let data = resolve_in("nyu-mll/glue", Some("rte"), "main", cache.path(), false).unwrap();
    assert_eq!(data.card_class_names["label"], ["entailment", "not_entailment"]);
    let hub = read_hub_data(&DataSpec { dataset: Some("nyu-mll/glue".into()), ..spec("rte") }, data, false)
        .unwrap();
    let rte = tsv_subset("RTE", 96, 64);
    let tsv = read(&DataSpec { data_dir: Some(rte.path().into()), ..spec("rte") }, false).unwrap();
    assert_same_data(&tsv, &hub);
    // Without names anywhere the ids cannot be checked against GLUE's labels: refused.
    std::fs::write(snap.join("README.md"), "---\nconfigs:\n- config_name: rte\n  data_files:\n  - split: train\n    path: rte/train-*\n  - split: validation\n    path: rte/validation-*\n---\n").unwrap();
    let data = resolve_in("nyu-mll/glue", Some("rte"), "main", cache.path(), false).unwrap();
    let err =
        match read_hub_data(&DataSpec { dataset: Some("nyu-mll/glue".into()), ..spec("rte") }, data, false) {
            Ok(_) => panic!("no class names: expected an error"),
            Err(e) => e.to_string(),
        };
    assert!(err.contains("train-00000-of-00001.parquet") && err.contains("no ClassLabel names"), "{err}");
}

#[test]
fn a_null_text_is_an_error_naming_the_row_and_column() {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nulls.parquet");
    let batch = RecordBatch::try_from_iter([
        ("sentence", std::sync::Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef),
        ("label", std::sync::Arc::new(Int64Array::from(vec![0, 1])) as ArrayRef),
    ])
    .unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let err = error_of(&DataSpec {
        train_file: Some(path.clone()),
        dev_file: Some(path),
        text_a_column: Some("sentence".into()),
        ..spec("own")
    });
    assert!(err.contains("nulls.parquet") && err.contains("row 2: column \"sentence\" is null"), "{err}");
}

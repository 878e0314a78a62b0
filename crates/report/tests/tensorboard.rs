//! TensorBoard event files against ones written by Python's `tensorboard` package
//! (`tests/goldens/tensorboard/`, from `tools/make_tensorboard_goldens.py`), and the export of runs.

mod common;

use common::{write_run, FakeRun};
use serde_json::Value;
use stabletune_report::tensorboard::{event_file, export, read_events, scalar, What};
use std::path::Path;

fn golden_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/goldens/tensorboard"))
}

fn expected() -> (f64, Vec<(f64, u64, String, f64)>) {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(golden_dir().join("expected.json")).unwrap()).unwrap();
    let events = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["wall_time"].as_f64().unwrap(),
                e["step"].as_u64().unwrap(),
                e["tag"].as_str().unwrap().to_string(),
                e["value"].as_f64().unwrap(),
            )
        })
        .collect();
    (v["start"].as_f64().unwrap(), events)
}

#[test]
fn our_event_file_is_byte_identical_to_tensorboards() {
    let (start, events) = expected();
    let ours =
        event_file(start, &events.iter().map(|(w, s, t, v)| scalar(*w, *s, t, *v)).collect::<Vec<_>>());
    let theirs = std::fs::read(golden_dir().join("python.tfevents")).unwrap();
    assert_eq!(ours, theirs);
}

#[test]
fn tensorboards_event_file_reads_back() {
    let (start, expected) = expected();
    let events = read_events(&golden_dir().join("python.tfevents")).unwrap();
    assert_eq!(events.len(), expected.len() + 1);
    assert_eq!(events[0].wall_time, start);
    assert_eq!(events[0].what, Some(What::FileVersion("brain.Event:2".into())));
    for (e, (wall, step, tag, value)) in events[1..].iter().zip(&expected) {
        assert_eq!((e.wall_time, e.step as u64), (*wall, *step));
        let Some(What::Summary(s)) = &e.what else { panic!("a summary") };
        assert_eq!(s.value[0].tag, *tag);
        assert_eq!(s.value[0].simple_value, Some(*value as f32));
    }
}

#[test]
fn a_corrupt_record_is_an_error_naming_the_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(golden_dir().join("python.tfevents")).unwrap();
    let n = bytes.len();
    bytes[n - 7] ^= 0x40;
    let path = tmp.path().join("bad.tfevents");
    std::fs::write(&path, bytes).unwrap();
    let err = read_events(&path).unwrap_err().to_string();
    assert!(err.contains("bad.tfevents") && err.contains("checksum"), "{err}");
}

#[test]
fn runs_export_one_folder_each_with_their_scalars() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("study");
    write_run(&root, &FakeRun::new("rte", "devlin2019", 1, 0.7));
    write_run(&root, &FakeRun::new("rte", "mosbach2021", 1, 0.72));
    let runs = stabletune_report::load_runs(&[root]).unwrap();
    let out = tmp.path().join("tb");
    assert_eq!(export(&runs, &out).unwrap(), 2);
    for run in &runs {
        let dir = out.join(&run.name);
        let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
        assert!(file.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."));
        let events = read_events(&file).unwrap();
        let tags = |t: &str| {
            events
                .iter()
                .filter_map(|e| match &e.what {
                    Some(What::Summary(s)) if s.value[0].tag == t => {
                        Some((e.step, s.value[0].simple_value.unwrap()))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(tags("train/loss").len(), 30);
        assert_eq!(tags("train/lr").len(), 30);
        let dev = tags("dev/acc");
        assert_eq!(dev.first().map(|d| d.0), Some(0));
        assert_eq!(dev.last().unwrap().1, run.final_metrics["acc"] as f32);
        // Layer 1 holds two matrices (0.3 and 0.4): its norm is 0.5.
        let layer = tags("grad_norm/layer_01");
        assert_eq!(layer.len(), 3);
        assert_eq!(layer[0], (1, 0.5));
        // Wall times do not go backwards.
        assert!(events.windows(2).all(|w| w[0].wall_time <= w[1].wall_time));
    }
}

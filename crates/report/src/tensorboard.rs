//! TensorBoard event files, so TensorBoard (and Aim, which reads them) can open a study: one folder
//! per run with its loss, learning rate, gradient norm, dev metrics and per-layer gradient norms.
//!
//! The format (TensorFlow's `record_writer` and `event.proto`): each record is the data's length as a
//! little-endian u64, the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the
//! data; the data is a protobuf `Event` (wall_time = 1, step = 2, file_version = 3, summary = 5), the
//! first one carrying `file_version = "brain.Event:2"`, the others a `Summary` of scalar values
//! (`tag` = 1, `simple_value` = 2). Checked byte for byte against files written by Python's
//! `tensorboard` package (`tests/goldens/tensorboard/`, from `tools/make_tensorboard_goldens.py`).

use crate::error::{format_error, io, Result};
use crate::load::{layer_grad_norms, RunData};
use prost::Message;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
}

/// The checksum TensorFlow stores: CRC-32C rotated right by 15 bits plus a constant, so that a CRC of
/// data that itself holds CRCs does not degenerate.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends one record holding `data`.
pub fn push_record(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

/// The bytes of an event file: the version event, then `events` in order.
pub fn event_file(start_wall_time: f64, events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    let version =
        Event { wall_time: start_wall_time, step: 0, what: Some(What::FileVersion("brain.Event:2".into())) };
    push_record(&mut out, &version.encode_to_vec());
    for e in events {
        push_record(&mut out, &e.encode_to_vec());
    }
    out
}

/// A scalar event.
pub fn scalar(wall_time: f64, step: u64, tag: &str, value: f64) -> Event {
    Event {
        wall_time,
        step: step as i64,
        what: Some(What::Summary(Summary {
            value: vec![SummaryValue { tag: tag.to_string(), simple_value: Some(value as f32) }],
        })),
    }
}

/// Reads an event file back, checking every checksum (for tests, and for files from other writers).
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let mut events = Vec::new();
    let mut at = 0usize;
    let bad = |at: usize, what: &str| format_error(path, None, format!("record at byte {at}: {what}"));
    while at < bytes.len() {
        let header = bytes.get(at..at + 12).ok_or_else(|| bad(at, "truncated header"))?;
        let len_bytes = &header[..8];
        if u32::from_le_bytes(header[8..12].try_into().unwrap()) != masked_crc(len_bytes) {
            return Err(bad(at, "length checksum does not match"));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        let data = bytes.get(at + 12..at + 12 + len).ok_or_else(|| bad(at, "truncated data"))?;
        let crc =
            bytes.get(at + 12 + len..at + 16 + len).ok_or_else(|| bad(at, "truncated data checksum"))?;
        if u32::from_le_bytes(crc.try_into().unwrap()) != masked_crc(data) {
            return Err(bad(at, "data checksum does not match"));
        }
        events.push(Event::decode(data).map_err(|e| bad(at, &format!("not an Event: {e}")))?);
        at += 16 + len;
    }
    Ok(events)
}

/// The events of one run: `train/loss`, `train/lr`, `train/grad_norm` per update, `dev/<metric>`
/// per evaluation, `grad_norm/layer_<n>` (the L2 norm of layer n's weight-matrix gradients, from 1)
/// where the run logged per-matrix norms. The log has no clock, so wall times are spread evenly over
/// the run's recorded training time from `start`.
pub fn run_events(run: &RunData, start: f64) -> Vec<Event> {
    let last = run.train.last().map(|s| s.step).unwrap_or(1).max(1) as f64;
    let per_step = run.wall_seconds.unwrap_or(0.0) / last;
    let at = |step: u64| start + step as f64 * per_step;
    let mut events = Vec::new();
    // Order by step, evaluations after the update of the same step (as they happen).
    let mut by_step: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    for s in &run.train {
        let e = by_step.entry(s.step).or_default();
        e.push(scalar(at(s.step), s.step, "train/loss", s.loss));
        if let Some(lr) = s.lr {
            e.push(scalar(at(s.step), s.step, "train/lr", lr));
        }
        if let Some(g) = s.grad_norm {
            e.push(scalar(at(s.step), s.step, "train/grad_norm", g));
        }
    }
    for (step, norms) in &run.grad_norms {
        let e = by_step.entry(*step).or_default();
        for (l, norm) in layer_grad_norms(norms) {
            e.push(scalar(at(*step), *step, &format!("grad_norm/layer_{:02}", l + 1), norm));
        }
    }
    for ev in &run.evals {
        let e = by_step.entry(ev.step).or_default();
        for (m, v) in &ev.metrics {
            e.push(scalar(at(ev.step), ev.step, &format!("dev/{m}"), *v));
        }
    }
    for (_, mut e) in by_step {
        events.append(&mut e);
    }
    events
}

/// Writes `<out>/<run name>/events.out.tfevents.<start>.stabletune` for every run; returns how many.
pub fn export(runs: &[RunData], out: &Path) -> Result<usize> {
    for run in runs {
        let dir = out.join(&run.name);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let config = run.dir.join("config.toml");
        let start = std::fs::metadata(&config)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64().floor())
            .unwrap_or(0.0);
        let bytes = event_file(start, &run_events(run, start));
        let path = dir.join(format!("events.out.tfevents.{}.stabletune", start as u64));
        crate::render::write_atomic(&path, &bytes)?;
    }
    Ok(runs.len())
}

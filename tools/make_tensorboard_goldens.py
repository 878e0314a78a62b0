#!/usr/bin/env python3
"""Golden TensorBoard event files for `crates/report/src/tensorboard.rs`, written by Python's
`tensorboard` package, and a check that TensorBoard reads what stabletune writes.

Run by hand, not in CI:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tensorboard
    /tmp/venv/bin/python tools/make_tensorboard_goldens.py [EXPORTED_LOGDIR]

Writes `crates/report/tests/goldens/tensorboard/python.tfevents` (a version event and scalar events
with fixed wall times, through tensorboard's own RecordWriter and Event/Summary protos) and
`expected.json` (the same events as numbers). The Rust test writes the same events and compares the
bytes, and reads Python's file back. With EXPORTED_LOGDIR (the output of `stabletune export
tensorboard`), also loads every run in it with TensorBoard's EventAccumulator and prints its tags and
counts, which is how the export was checked against TensorBoard itself.
"""

import json
import pathlib
import sys

from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.record_writer import RecordWriter

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "report" / "tests" / "goldens" / "tensorboard"

EVENTS = [
    # wall_time, step, tag, value: values chosen to exercise float32 rounding and odd tags
    (1700000000.25, 1, "train/loss", 0.6931471805599453),
    (1700000000.25, 1, "train/lr", 0.0),
    (1700000000.25, 1, "train/grad_norm", 3.5),
    (1700000001.5, 2, "train/loss", 0.5123),
    (1700000001.5, 2, "train/lr", 2e-5),
    (1700000001.5, 10, "grad_norm/layer_01", 1.25e-3),
    (1700000002.0, 32, "dev/acc", 0.7729357798165137),
    (1700000002.0, 32, "dev/mcc", -0.0412),
    (1700000099.0, 123456789, "train/loss", 1e30),
]
START = 1700000000.0


def write():
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "python.tfevents"
    with open(path, "wb") as f:
        w = RecordWriter(f)
        w.write(Event(wall_time=START, step=0, file_version="brain.Event:2").SerializeToString())
        for wall, step, tag, value in EVENTS:
            ev = Event(wall_time=wall, step=step, summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)]))
            w.write(ev.SerializeToString())
        w.flush()
    (OUT / "expected.json").write_text(json.dumps(
        {"start": START, "events": [{"wall_time": a, "step": b, "tag": c, "value": d} for a, b, c, d in EVENTS]},
        indent=1) + "\n")
    print(f"wrote {path}")


def check(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    for run in sorted(pathlib.Path(logdir).iterdir()):
        acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
        acc.Reload()
        tags = acc.Tags()["scalars"]
        counts = {t: len(acc.Scalars(t)) for t in tags}
        print(run.name, json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    write()
    if len(sys.argv) > 1:
        check(sys.argv[1])

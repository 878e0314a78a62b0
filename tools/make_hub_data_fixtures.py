"""Writes tests/fixtures/hub-data/: GLUE data as Hugging Face keeps it, made by `datasets` and `pyarrow`
from the first rows of the shipped GLUE TSVs (../shared/assets/glue), so the Rust readers meet the real
formats and can be checked against the TSV readers on the same rows.

- hub/: a Hugging Face Hub cache (as HF_HUB_CACHE) with
  - datasets--nyu-mll--glue: refs/main, blobs, snapshots/<commit>/ with a dataset card whose YAML
    `configs:` maps splits to files by glob (as the real nyu-mll/glue card does) and Parquet files in the
    Hub's schema for rte and sst2 (ClassLabel names in the schema's `huggingface` metadata, idx int32),
    train, validation and a test split with label -1 (its rows are dev rows: GLUE's test TSVs are not
    shipped);
  - datasets--stabletune--no-configs: a card without `configs:` and the Hub's generated
    refs/convert/parquet branch (<config>/<split>/0000.parquet), as `hf download --revision
    refs/convert/parquet` caches it.
- cache-arrow/sst2-train.arrow: the Arrow stream file that `load_dataset` writes into its cache.
- save-to-disk/rte-train/: `Dataset.save_to_disk` (data-00000-of-00001.arrow, dataset_info.json,
  state.json).
- edge/: Arrow IPC file format (feather v2), large_string and dictionary-encoded text columns, float
  labels, a nested column.

Run (not needed by the tests or CI):
    python3 -m venv ../venv-data && ../venv-data/bin/pip install pyarrow datasets pandas
    ../venv-data/bin/python tools/make_hub_data_fixtures.py
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

import datasets  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.feather as feather  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from datasets import ClassLabel, Dataset, Features, Value  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GLUE = ROOT.parent / "shared" / "assets" / "glue"
OUT = ROOT / "tests" / "fixtures" / "hub-data"

# Rows taken from the top of each shipped file (the Rust tests take the same rows from the TSVs).
ROWS = {("RTE", "train"): 96, ("RTE", "dev"): 64, ("SST-2", "train"): 128, ("SST-2", "dev"): 64}
TEST_ROWS = 8

# The Hub's features for each config (nyu-mll/glue's dataset card and Parquet metadata).
FEATURES = {
    "rte": Features(
        {
            "sentence1": Value("string"),
            "sentence2": Value("string"),
            "label": ClassLabel(names=["entailment", "not_entailment"]),
            "idx": Value("int32"),
        }
    ),
    "sst2": Features(
        {
            "sentence": Value("string"),
            "label": ClassLabel(names=["negative", "positive"]),
            "idx": Value("int32"),
        }
    ),
}


def read_tsv(task, split):
    """The first rows of a shipped TSV, read with quoting off as GLUE's processors do."""
    lines = (GLUE / task / f"{split}.tsv").read_text(encoding="utf-8").split("\n")
    header, rows = lines[0].split("\t"), [l.split("\t") for l in lines[1:] if l.strip()]
    return header, rows


def glue_split(config, split):
    """One split in the Hub's schema; the test split is dev rows with label -1, as GLUE's hidden labels."""
    task = {"rte": "RTE", "sst2": "SST-2"}[config]
    _, rows = read_tsv(task, "train" if split == "train" else "dev")
    n = ROWS[(task, "train" if split == "train" else "dev")] if split != "test" else TEST_ROWS
    rows = rows[:n]
    names = FEATURES[config]["label"].names
    if config == "rte":
        cols = {
            "sentence1": [r[1] for r in rows],
            "sentence2": [r[2] for r in rows],
            "label": [names.index(r[3]) for r in rows],
            "idx": [int(r[0]) for r in rows],
        }
    else:
        cols = {"sentence": [r[0] for r in rows], "label": [int(r[1]) for r in rows], "idx": list(range(n))}
    if split == "test":
        cols["label"] = [-1] * n
    return Dataset.from_dict(cols, features=FEATURES[config])


def commit(name):
    return hashlib.sha1(f"stabletune fixture {name}".encode()).hexdigest()


def hub_repo(cache, repo_id, files_by_ref, refs):
    """Writes one repository into a Hub cache the way huggingface_hub does: content in blobs/ named by
    etag, snapshots/<commit>/<path> as relative symlinks to it, refs/<name> holding the commit."""
    folder = cache / ("datasets--" + repo_id.replace("/", "--"))
    for ref, sha in refs.items():
        (folder / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (folder / "refs" / ref).write_text(sha)
    for sha, files in files_by_ref.items():
        for path, data in files.items():
            # LFS files (Parquet) are named by their sha256, small text files by their git blob sha1.
            if path.endswith(".parquet"):
                etag = hashlib.sha256(data).hexdigest()
            else:
                etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            blob = folder / "blobs" / etag
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = folder / "snapshots" / sha / path
            link.parent.mkdir(parents=True, exist_ok=True)
            depth = len(Path(path).parts) + 1
            os.symlink("/".join([".."] * depth) + "/blobs/" + etag, link)


def parquet_bytes(ds):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.parquet"
        ds.to_parquet(str(path))
        return path.read_bytes()


GLUE_CARD = """---
language:
- en
license: other
pretty_name: GLUE (General Language Understanding Evaluation benchmark)
dataset_info:
- config_name: rte
  features:
  - name: sentence1
    dtype: string
  - name: sentence2
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': entailment
          '1': not_entailment
  - name: idx
    dtype: int32
- config_name: sst2
  features:
  - name: sentence
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': negative
          '1': positive
  - name: idx
    dtype: int32
configs:
- config_name: rte
  data_files:
  - split: train
    path: rte/train-*
  - split: validation
    path: rte/validation-*
  - split: test
    path: rte/test-*
- config_name: sst2
  data_files:
  - split: train
    path: sst2/train-*
  - split: validation
    path: sst2/validation-*
  - split: test
    path: sst2/test-*
---

# GLUE (test fixture)

The first rows of RTE and SST-2 in nyu-mll/glue's layout and schema, made by stabletune's
tools/make_hub_data_fixtures.py from the GLUE TSV files.
"""

NO_CONFIGS_CARD = """---
license: other
---

# A dataset without `configs:`: readers fall back to the Hub's refs/convert/parquet branch.
"""


def main():
    print("datasets", datasets.__version__, "pyarrow", pa.__version__)
    if OUT.exists():
        shutil.rmtree(OUT)
    cache = OUT / "hub"
    splits = {(c, s): glue_split(c, s) for c in FEATURES for s in ["train", "validation", "test"]}

    files = {"README.md": GLUE_CARD.encode()}
    for (config, split), ds in splits.items():
        files[f"{config}/{split}-00000-of-00001.parquet"] = parquet_bytes(ds)
    glue_commit = commit("nyu-mll/glue")
    hub_repo(cache, "nyu-mll/glue", {glue_commit: files}, {"main": glue_commit})

    main_commit, convert_commit = commit("no-configs main"), commit("no-configs parquet")
    converted = {
        f"default/{split}/0000.parquet": parquet_bytes(splits[("rte", split)])
        for split in ["train", "validation"]
    }
    hub_repo(
        cache,
        "stabletune/no-configs",
        {main_commit: {"README.md": NO_CONFIGS_CARD.encode()}, convert_commit: converted},
        # huggingface_hub keeps the ref of revision "refs/convert/parquet" at refs/refs/convert/parquet.
        {"main": main_commit, "refs/convert/parquet": convert_commit},
    )

    # What load_dataset keeps in its cache: an Arrow stream file per split.
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "train.parquet"
        src.write_bytes(files["sst2/train-00000-of-00001.parquet"])
        ds = datasets.load_dataset(
            "parquet", data_files={"train": str(src)}, split="train", cache_dir=str(Path(tmp) / "cache")
        )
        arrow = Path(ds.cache_files[0]["filename"])
        (OUT / "cache-arrow").mkdir(parents=True)
        shutil.copy(arrow, OUT / "cache-arrow" / "sst2-train.arrow")

    splits[("rte", "train")].save_to_disk(str(OUT / "save-to-disk" / "rte-train"))

    edge = OUT / "edge"
    edge.mkdir()
    dev = splits[("rte", "validation")].data.table
    # Arrow IPC file format (feather v2), as pyarrow and pandas write .arrow/.feather files.
    feather.write_feather(dev, str(edge / "rte-validation.feather"), compression="uncompressed")
    # large_string and dictionary-encoded text columns, written without the huggingface metadata.
    table = pa.table(
        {
            "premise": pa.array(dev.column("sentence1").to_pylist(), pa.large_string()),
            "hypothesis": pa.array(dev.column("sentence2").to_pylist(), pa.string()).dictionary_encode(),
            "label": pa.array(
                ["entailment" if v == 0 else "not_entailment" for v in dev.column("label").to_pylist()],
                pa.large_string(),
            ).dictionary_encode(),
        }
    )
    pq.write_table(table, str(edge / "large-and-dictionary.parquet"), compression="zstd")
    pq.write_table(
        pa.table({"sentence": ["a", "b", "c"], "label": pa.array([0.0, 1.0, 0.5], pa.float64())}),
        str(edge / "float-labels.parquet"),
    )
    pq.write_table(
        pa.table({"sentence": [["a", "b"], ["c"]], "label": [0, 1]}),
        str(edge / "nested.parquet"),
    )
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file() and not f.is_symlink())
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Small RoBERTa (byte-level BPE) and ALBERT (SentencePiece unigram) tokenizers, and what transformers makes
of real RTE and SST-2 text with them: the fixtures of `crates/model/tests/tokenizer_families.rs`.

Run from the repository root, in a virtual environment outside the repository:

    python3 -m venv ../venv-tok && ../venv-tok/bin/pip install transformers tokenizers sentencepiece protobuf
    ../venv-tok/bin/python tools/make_tokenizer_fixtures.py

Writes tests/fixtures/tok-roberta/ and tests/fixtures/tok-albert/ (the tokenizer files as
`save_pretrained` writes them, plus `golden.json`: input ids and token type ids from transformers for each
example, pairs truncated longest-first to 128 tokens). The tokenizers are trained here on RTE's training
text, so they are small but real: the same algorithms and special-token layouts as roberta-base and
albert-base-v2. Needs no torch.
"""

import json
import os
import shutil
import tempfile

import sentencepiece as spm
import tokenizers
import transformers
from tokenizers import ByteLevelBPETokenizer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ASSETS = os.path.abspath(os.path.join(REPO, "..", "shared", "assets", "glue"))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
MAX_LEN = 128


def read_tsv(path):
    # GLUE files have raw quotes: split on tabs, no quoting.
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    return rows[0], rows[1:]


def examples():
    _, rte = read_tsv(os.path.join(ASSETS, "RTE", "dev.tsv"))
    _, sst = read_tsv(os.path.join(ASSETS, "SST-2", "dev.tsv"))
    # The first 12 RTE pairs, and the 4 longest (they need truncation at 128), then 8 SST-2 sentences.
    longest = sorted(rte, key=lambda r: -(len(r[1]) + len(r[2])))[:4]
    pairs = [(r[1], r[2]) for r in rte[:12] + longest]
    singles = [(r[0], None) for r in sst[:8]]
    return pairs + singles


def training_text():
    _, rte = read_tsv(os.path.join(ASSETS, "RTE", "train.tsv"))
    return [t for r in rte for t in (r[1], r[2])]


def goldens(tok, out_dir, family):
    rows = []
    for a, b in examples():
        enc = tok(a, b, truncation=True, max_length=MAX_LEN, return_token_type_ids=True)
        # What the model receives in the authors' pipeline (run_finetuning.py passes token_type_ids for
        # bert/xlnet/albert and None, i.e. zeros, for roberta): ALBERT sees the post-processor's 0/1 segment
        # ids, RoBERTa zeros whatever the post-processor assigns.
        types = enc["token_type_ids"] if family == "albert" else [0] * len(enc["input_ids"])
        rows.append({"text_a": a, "text_b": b, "input_ids": enc["input_ids"], "token_type_ids": types,
                     "post_processor_type_ids": enc["token_type_ids"]})
    meta = {"family": family, "max_length": MAX_LEN, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "sentencepiece": spm.__version__, "tokenizer_class": type(tok).__name__}
    with open(os.path.join(out_dir, "golden.json"), "w") as f:
        json.dump({"meta": meta, "examples": rows}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return rows


def roberta():
    out = os.path.join(FIXTURES, "tok-roberta")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(training_text(), vocab_size=1000, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump({"model_type": "roberta"}, f)
        tok = transformers.AutoTokenizer.from_pretrained(tmp)
    tok.save_pretrained(out)
    goldens(tok, out, "roberta")


def albert():
    out = os.path.join(FIXTURES, "tok-albert")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "spiece")
        # ALBERT's special pieces: <pad> 0, <unk> 1, [CLS] 2, [SEP] 3, [MASK] 4; no BOS/EOS.
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(training_text()), model_prefix=prefix, vocab_size=800,
            model_type="unigram", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, pad_piece="<pad>",
            unk_piece="<unk>", control_symbols=["[CLS]", "[SEP]", "[MASK]"], character_coverage=1.0)
        # As albert-base-v2 ships: spiece.model (written above under that name), which transformers
        # converts when loading.
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump({"model_type": "albert"}, f)
        tok = transformers.AutoTokenizer.from_pretrained(tmp)
    tok.save_pretrained(out)
    for extra in ("spiece.model",):
        if os.path.exists(os.path.join(out, extra)):
            os.remove(os.path.join(out, extra))
    goldens(tok, out, "albert")


if __name__ == "__main__":
    roberta()
    albert()
    for d in ("tok-roberta", "tok-albert"):
        path = os.path.join(FIXTURES, d)
        print(d, sorted(os.listdir(path)), sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)), "bytes")

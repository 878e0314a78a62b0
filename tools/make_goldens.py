#!/usr/bin/env python3
"""Generate the golden files that the Rust tests compare against.

Run from the repository root:

    /work/venv/bin/python tools/make_goldens.py

Needs torch, transformers, safetensors (CPU only, a few seconds).  Everything is
deterministic (fixed seeds, float32, eval mode so dropout is off, eager attention).

Part (a): tiny random checkpoints, one per architecture, written to
``tests/fixtures/tiny-{bert,roberta,albert}/``:

    config.json                    Hugging Face config (num_labels=3)
    model.safetensors              union of XForSequenceClassification and XForMaskedLM
                                   weights (same base encoder), HF names; the MLM decoder
                                   weight is tied to the word embeddings and not stored,
                                   the MLM output bias is stored once
                                   (cls.predictions.bias / lm_head.bias / predictions.bias)
    regression_head.safetensors    num_labels=1 head (bert/albert: classifier.*,
                                   roberta: classifier.out_proj.*); all else shared
    golden.json                    inputs, labels, outputs and losses
    grads_{cls,reg,mlm}.safetensors  gradient of every parameter that gets one from
                                   the respective loss, under the model.safetensors names

Part (b): the real all-MiniLM-L6-v2 model (../shared/assets/models/all-MiniLM-L6-v2) on
the first 8 dev rows of GLUE RTE (pairs) and SST-2 (singles), written to
``tests/goldens/minilm_encode.json`` (one example at a time, no padding) and
``tests/goldens/minilm_encode_batched.json`` (first 4 RTE rows as one padded batch).
"""

import copy
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.path.abspath(os.path.join(REPO, "..", "shared", "assets"))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
GOLDENS = os.path.join(REPO, "tests", "goldens")

SEQ_LENS = [12, 9, 5]  # real lengths of the 3 rows; rows are right-padded to 12
MAX_LEN = 12
MLM_POSITIONS_PER_ROW = 4

written = []  # paths of everything written, for the summary


def log_write(path):
    written.append(path)


# --------------------------------------------------------------------------------------
# Part (a): tiny random checkpoints
# --------------------------------------------------------------------------------------

ARCHS = {
    "bert": dict(
        prefix="bert",
        config_cls=transformers.BertConfig,
        cls_cls=transformers.BertForSequenceClassification,
        mlm_cls=transformers.BertForMaskedLM,
        config=dict(layer_norm_eps=1e-12, type_vocab_size=2, hidden_act="gelu", pad_token_id=0),
        # parameters that are specific to the num_labels-sized output layer
        head_keys=["classifier.weight", "classifier.bias"],
        has_pooler=True,
    ),
    "roberta": dict(
        prefix="roberta",
        config_cls=transformers.RobertaConfig,
        cls_cls=transformers.RobertaForSequenceClassification,
        mlm_cls=transformers.RobertaForMaskedLM,
        config=dict(
            layer_norm_eps=1e-5,
            type_vocab_size=1,
            hidden_act="gelu",
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
        ),
        head_keys=["classifier.out_proj.weight", "classifier.out_proj.bias"],
        has_pooler=False,
    ),
    "albert": dict(
        prefix="albert",
        config_cls=transformers.AlbertConfig,
        cls_cls=transformers.AlbertForSequenceClassification,
        mlm_cls=transformers.AlbertForMaskedLM,
        config=dict(
            layer_norm_eps=1e-12,
            type_vocab_size=2,
            hidden_act="gelu_new",
            pad_token_id=0,
            embedding_size=16,
            num_hidden_groups=1,
            inner_group_num=1,
        ),
        head_keys=["classifier.weight", "classifier.bias"],
        has_pooler=True,
    ),
}

COMMON_CONFIG = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    num_labels=3,
    initializer_range=0.02,
)


def redraw_(model, gen):
    """Re-draw all parameters in place so gradients are not tiny and biases non-zero.

    LayerNorm: weight ~ 1 + N(0, 0.1), bias ~ N(0, 0.1).
    Everything else (linear weights/biases, embeddings incl. padding rows): N(0, 0.2).
    Tied parameters are visited once (named_parameters de-duplicates them).
    """
    layer_norm_params = set()
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            layer_norm_params.add(id(module.weight))
            layer_norm_params.add(id(module.bias))
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if id(p) in layer_norm_params:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.1 * noise)
                else:
                    p.copy_(0.1 * noise)
            else:
                p.copy_(0.2 * noise)


def make_inputs(arch, spec, gen):
    """input_ids / attention_mask / token_type_ids / labels as int64/float32 tensors."""
    pad = spec["config"]["pad_token_id"]
    n = len(SEQ_LENS)
    input_ids = torch.full((n, MAX_LEN), pad, dtype=torch.long)
    attention_mask = torch.zeros((n, MAX_LEN), dtype=torch.long)
    token_type_ids = torch.zeros((n, MAX_LEN), dtype=torch.long)
    for i, length in enumerate(SEQ_LENS):
        input_ids[i, :length] = torch.randint(3, 99, (length,), generator=gen)
        attention_mask[i, :length] = 1
        if arch != "roberta":
            input_ids[i, 0] = 2  # pretend [CLS]
            first = (length + 1) // 2  # sentence pair: first part type 0, second part type 1
            token_type_ids[i, first:length] = 1
    cls_labels = torch.randint(0, 3, (n,), generator=gen)
    reg_labels = torch.randn((n,), generator=gen, dtype=torch.float32)
    mlm_labels = torch.full((n, MAX_LEN), -100, dtype=torch.long)
    for i, length in enumerate(SEQ_LENS):
        positions = torch.randperm(length, generator=gen)[:MLM_POSITIONS_PER_ROW]
        mlm_labels[i, positions] = torch.randint(3, 99, (len(positions),), generator=gen)
    return dict(
        input_ids=input_ids,
        attention_mask=attention_mask,
        token_type_ids=token_type_ids,
        cls_labels=cls_labels,
        reg_labels=reg_labels,
        mlm_labels=mlm_labels,
    )


def param_dict(model):
    """name -> cloned contiguous tensor, for every (de-duplicated) parameter."""
    return {n: p.detach().clone().contiguous() for n, p in model.named_parameters()}


def grads_of(model, loss):
    """Backward from a fresh zero grad; name -> grad for parameters that received one."""
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {
        n: p.grad.detach().clone().contiguous()
        for n, p in model.named_parameters()
        if p.grad is not None
    }


def build_tiny(arch, spec, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    prefix = spec["prefix"]

    cfg = spec["config_cls"](**COMMON_CONFIG, **spec["config"])
    cfg._attn_implementation = "eager"

    # Classification model (defines the shared base encoder, incl. pooler for bert/albert).
    cls_model = spec["cls_cls"](cfg)
    redraw_(cls_model, gen)

    # MLM model: own head, base encoder copied from the classification model.
    mlm_model = spec["mlm_cls"](cfg)
    redraw_(mlm_model, gen)
    base_state = getattr(cls_model, prefix).state_dict()
    res = getattr(mlm_model, prefix).load_state_dict(base_state, strict=False)
    assert not res.missing_keys, res.missing_keys
    assert all(k.startswith("pooler") for k in res.unexpected_keys), res.unexpected_keys
    emb = getattr(mlm_model, prefix).embeddings.word_embeddings.weight
    assert mlm_model.get_output_embeddings().weight is emb, "decoder not tied to embeddings"

    # Regression model: num_labels=1, everything but the final output layer shared.
    reg_cfg = copy.deepcopy(cfg)
    reg_cfg.num_labels = 1
    reg_cfg.id2label = {0: "LABEL_0"}
    reg_cfg.label2id = {"LABEL_0": 0}
    reg_model = spec["cls_cls"](reg_cfg)
    redraw_(reg_model, gen)
    shared = {k: v for k, v in cls_model.state_dict().items() if k not in spec["head_keys"]}
    res = reg_model.load_state_dict(shared, strict=False)
    assert sorted(res.missing_keys) == sorted(spec["head_keys"]), res.missing_keys
    assert not res.unexpected_keys, res.unexpected_keys

    for m in (cls_model, mlm_model, reg_model):
        m.float().eval()
    return cfg, cls_model, mlm_model, reg_model, gen


def tolist(t):
    """float32 tensor -> nested lists of Python floats (exact, repr round-trips)."""
    return t.detach().to(torch.float32).tolist()


def write_tiny(arch, spec, seed):
    out_dir = os.path.join(FIXTURES, f"tiny-{arch}")
    os.makedirs(out_dir, exist_ok=True)
    prefix = spec["prefix"]
    cfg, cls_model, mlm_model, reg_model, gen = build_tiny(arch, spec, seed)

    # config.json (written before any forward: HF records problem_type on first use)
    cfg.to_json_file(os.path.join(out_dir, "config.json"))
    log_write(os.path.join(out_dir, "config.json"))

    # model.safetensors: union of classification and MLM parameters.
    weights = param_dict(cls_model)
    for name, t in param_dict(mlm_model).items():
        if name in weights:
            assert torch.equal(weights[name], t), f"shared weight differs: {name}"
        weights[name] = t
    assert not any(".decoder." in n for n in weights), "tied decoder must not be stored"
    save_file(weights, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    log_write(os.path.join(out_dir, "model.safetensors"))

    reg_state = param_dict(reg_model)
    reg_head = {k: reg_state[k] for k in spec["head_keys"]}
    save_file(reg_head, os.path.join(out_dir, "regression_head.safetensors"), metadata={"format": "pt"})
    log_write(os.path.join(out_dir, "regression_head.safetensors"))

    inp = make_inputs(arch, spec, gen)
    model_in = dict(
        input_ids=inp["input_ids"],
        attention_mask=inp["attention_mask"],
        token_type_ids=inp["token_type_ids"],
    )

    with torch.no_grad():
        base_out = getattr(cls_model, prefix)(**model_in)

    cls_out = cls_model(**model_in, labels=inp["cls_labels"])
    reg_out = reg_model(**model_in, labels=inp["reg_labels"])
    mlm_out = mlm_model(**model_in, labels=inp["mlm_labels"])

    # Independent checks of the loss definitions.
    ce = torch.nn.functional.cross_entropy
    assert torch.allclose(cls_out.loss, ce(cls_out.logits, inp["cls_labels"]))
    mse = torch.nn.MSELoss()(reg_out.logits.squeeze(), inp["reg_labels"].squeeze())
    assert torch.allclose(reg_out.loss, mse)
    mlm_ref = ce(mlm_out.logits.reshape(-1, cfg.vocab_size), inp["mlm_labels"].reshape(-1), ignore_index=-100)
    assert torch.allclose(mlm_out.loss, mlm_ref)

    golden = {
        "input_ids": inp["input_ids"].tolist(),
        "attention_mask": inp["attention_mask"].tolist(),
        "token_type_ids": inp["token_type_ids"].tolist(),
        "cls_labels": inp["cls_labels"].tolist(),
        "reg_labels": tolist(inp["reg_labels"]),
        "mlm_labels": inp["mlm_labels"].tolist(),
        "last_hidden_state": tolist(base_out.last_hidden_state),
    }
    if spec["has_pooler"]:
        golden["pooled"] = tolist(base_out.pooler_output)
    golden.update(
        cls_logits=tolist(cls_out.logits),
        cls_loss=cls_out.loss.item(),
        reg_logits=tolist(reg_out.logits),
        reg_loss=reg_out.loss.item(),
        mlm_logits=tolist(mlm_out.logits),
        mlm_loss=mlm_out.loss.item(),
    )
    path = os.path.join(out_dir, "golden.json")
    with open(path, "w") as f:
        json.dump(golden, f)
        f.write("\n")
    log_write(path)

    # Gradients (eval mode => no dropout). Tied params share one .grad, so the word
    # embedding grad includes the decoder's contribution, and the output bias grad
    # (exposed by HF also as decoder.bias) is stored once under the head's bias name.
    for tag, model, out in (("cls", cls_model, cls_out), ("reg", reg_model, reg_out), ("mlm", mlm_model, mlm_out)):
        grads = grads_of(model, out.loss)
        ref_names = set(weights) | set(reg_head)
        assert set(grads) <= ref_names, set(grads) - ref_names
        gpath = os.path.join(out_dir, f"grads_{tag}.safetensors")
        save_file(grads, gpath, metadata={"format": "pt"})
        log_write(gpath)

    verify_reload(arch, spec, out_dir, model_in, cls_out, mlm_out, reg_out)
    print(
        f"tiny-{arch}: cls_loss={golden['cls_loss']:.6f} reg_loss={golden['reg_loss']:.6f} "
        f"mlm_loss={golden['mlm_loss']:.6f} ({len(weights)} tensors in model.safetensors)"
    )


def verify_reload(arch, spec, out_dir, model_in, cls_out, mlm_out, reg_out):
    """Reload the written files through Hugging Face and check the outputs reproduce."""
    kw = dict(attn_implementation="eager", dtype=torch.float32)
    with torch.no_grad():
        m = spec["cls_cls"].from_pretrained(out_dir, **kw).eval()
        assert torch.equal(m(**model_in).logits, cls_out.logits), f"{arch}: cls reload mismatch"
        m = spec["mlm_cls"].from_pretrained(out_dir, **kw).eval()
        assert torch.equal(m(**model_in).logits, mlm_out.logits), f"{arch}: mlm reload mismatch"
        m = spec["cls_cls"].from_pretrained(out_dir, num_labels=1, ignore_mismatched_sizes=True, **kw).eval()
        from safetensors.torch import load_file

        m.load_state_dict(load_file(os.path.join(out_dir, "regression_head.safetensors")), strict=False)
        assert torch.equal(m(**model_in).logits, reg_out.logits), f"{arch}: reg reload mismatch"


def part_a():
    for seed, (arch, spec) in enumerate(ARCHS.items()):
        write_tiny(arch, spec, seed=1234 + seed)


# --------------------------------------------------------------------------------------
# Part (b): the real all-MiniLM-L6-v2 model on GLUE dev rows
# --------------------------------------------------------------------------------------

MODEL_DIR = os.path.join(SHARED, "models", "all-MiniLM-L6-v2")
N_ROWS = 8


def read_tsv(path, n_rows):
    """Plain tab split (no quoting: raw '"' characters are data). Returns (header, rows)."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = []
        for line in f:
            if len(rows) == n_rows:
                break
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    return header, rows


def round7(values):
    return [float(f"{v:.7g}") for v in values]


def load_minilm():
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    model, info = AutoModel.from_pretrained(
        MODEL_DIR, attn_implementation="eager", dtype=torch.float32, output_loading_info=True
    )
    assert not info["missing_keys"], info["missing_keys"]
    model.eval()
    return tok, model


def glue_examples():
    _, rte = read_tsv(os.path.join(SHARED, "glue", "RTE", "dev.tsv"), N_ROWS)
    _, sst = read_tsv(os.path.join(SHARED, "glue", "SST-2", "dev.tsv"), N_ROWS)
    examples = [("rte", i, r["sentence1"], r["sentence2"]) for i, r in enumerate(rte)]
    examples += [("sst-2", i, r["sentence"], None) for i, r in enumerate(sst)]
    return examples


def encode(tok, text_a, text_b, **kw):
    if text_b is None:
        return tok(text_a, truncation=True, max_length=128, return_tensors="pt", **kw)
    return tok(text_a, text_b, truncation=True, max_length=128, return_tensors="pt", **kw)


def part_b():
    os.makedirs(GOLDENS, exist_ok=True)
    tok, model = load_minilm()
    examples = glue_examples()

    records = []
    with torch.no_grad():
        for task, row, text_a, text_b in examples:
            enc = encode(tok, text_a, text_b)
            out = model(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                token_type_ids=enc["token_type_ids"],
            )
            records.append(
                {
                    "task": task,
                    "row": row,
                    "text_a": text_a,
                    "text_b": text_b,
                    "input_ids": enc["input_ids"][0].tolist(),
                    "token_type_ids": enc["token_type_ids"][0].tolist(),
                    "cls": round7(out.last_hidden_state[0, 0].tolist()),
                    "pooled": round7(out.pooler_output[0].tolist()),
                    # unrounded, for the batched comparison below (not written)
                    "_cls": out.last_hidden_state[0, 0].clone(),
                    "_pooled": out.pooler_output[0].clone(),
                }
            )

    path = os.path.join(GOLDENS, "minilm_encode.json")
    with open(path, "w") as f:
        json.dump([{k: v for k, v in r.items() if not k.startswith("_")} for r in records], f)
        f.write("\n")
    log_write(path)
    lens = [len(r["input_ids"]) for r in records]
    print(f"minilm_encode: {len(records)} examples, token lengths {lens}")

    # Batched run: first 4 RTE rows as ONE padded batch.
    rte = [r for r in records if r["task"] == "rte"][:4]
    enc = tok(
        [r["text_a"] for r in rte],
        [r["text_b"] for r in rte],
        truncation=True,
        max_length=128,
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        out = model(**enc)
    batched = []
    max_diff = 0.0
    for i, r in enumerate(rte):
        n = int(enc["attention_mask"][i].sum())
        assert enc["input_ids"][i, :n].tolist() == r["input_ids"], "batched tokenization differs"
        cls = out.last_hidden_state[i, 0]
        pooled = out.pooler_output[i]
        max_diff = max(max_diff, (cls - r["_cls"]).abs().max().item(), (pooled - r["_pooled"]).abs().max().item())
        batched.append(
            {
                "task": r["task"],
                "row": r["row"],
                "text_a": r["text_a"],
                "text_b": r["text_b"],
                "input_ids": r["input_ids"],
                "token_type_ids": r["token_type_ids"],
                "cls": round7(cls.tolist()),
                "pooled": round7(pooled.tolist()),
            }
        )
    path = os.path.join(GOLDENS, "minilm_encode_batched.json")
    with open(path, "w") as f:
        json.dump(batched, f)
        f.write("\n")
    log_write(path)
    print(
        f"minilm_encode_batched: {len(batched)} examples padded to {enc['input_ids'].shape[1]}, "
        f"max |batched - unbatched| over cls/pooled = {max_diff:.3e}"
    )


# --------------------------------------------------------------------------------------


def main():
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    part_a()
    part_b()
    print("\nwritten:")
    total_by_dir = {}
    for p in written:
        size = os.path.getsize(p)
        d = os.path.relpath(os.path.dirname(p), REPO)
        total_by_dir[d] = total_by_dir.get(d, 0) + size
        print(f"  {os.path.relpath(p, REPO):<55} {size:>9,d} B")
    for d, size in total_by_dir.items():
        print(f"  total {d:<49} {size:>9,d} B")
        if d.startswith(os.path.join("tests", "fixtures")) and size >= 1 << 20:
            print(f"WARNING: {d} is over 1 MB", file=sys.stderr)


if __name__ == "__main__":
    main()

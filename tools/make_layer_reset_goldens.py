#!/usr/bin/env python3
"""Goldens of the layer-reset analysis (Fig. 2 of Mosbach et al.): masked-LM perplexity of a
"fine-tuned" encoder whose top k layers are put back to their pretrained weights, computed with
transformers' XForMaskedLM, and the perplexity of a real model on real text with the same masks.

Run from the repository root (CPU, under a minute):

    /work/venv-torch/bin/python tools/make_layer_reset_goldens.py

Masks are re-drawn here exactly as stabletune draws them (crates/analysis/src/text.rs): SplitMix64 in
counter mode keyed by (mask seed, stream, block), three draws per position: selected if
uniform < 0.15, then [MASK] if uniform < 0.8, a random id if < 0.9, else kept.

Part (a): for the tiny BERT, RoBERTa and ALBERT fixtures, a "fine-tuned" copy of the encoder (the
fixture plus N(0, 0.1) noise on every encoder tensor, no masked-LM head, as a run saves it) is written
to tests/fixtures/tiny-{arch}/finetuned/, and tests/fixtures/tiny-{arch}/layer_reset.json holds three
masked blocks of random ids and the perplexity for k = 0..L (top k depths with the pretrained layer,
embeddings fine-tuned, the pretrained checkpoint's masked-LM head tied to the fine-tuned word
embeddings) and of the pretrained model itself.

Part (b): tests/goldens/minilm_wikitext_perplexity.json: the shipped all-MiniLM-L6-v2 with a fixed head
(dense = identity, zero biases, LayerNorm (1, 0)) on the first 120 lines of WikiText-2 test, tokenised
whole, cut into blocks of 510 ids wrapped in [CLS] ... [SEP], masked with seed 42.
"""

import copy
import json
import math
import os

import numpy as np
import torch
import transformers
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.path.abspath(os.path.join(REPO, "..", "shared", "assets"))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
GOLDENS = os.path.join(REPO, "tests", "goldens")

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
ANALYSIS_FAMILY = 6
MASK_STREAM = (ANALYSIS_FAMILY << 56) | 1
SELECT, AS_MASK, AS_RANDOM = (float(np.float32(x)) for x in (0.15, 0.8, 0.9))


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Stream:
    """crates/engine/src/rng.rs: RandomStream."""

    def __init__(self, seed, stream, step):
        k = mix64((seed + GAMMA) & M64)
        k = mix64(k ^ ((stream * 0xD6E8FEB86659FD93 + GAMMA) & M64))
        self.key = mix64(k ^ ((step * 0xA0761D6478BD642F + GAMMA) & M64))

    def bits(self, i):
        return mix64((self.key + ((i + 1) * GAMMA)) & M64)

    def uniform(self, i):
        return (self.bits(i) >> 40) * 2.0**-24

    def below(self, i, n):
        return min(((self.bits(i) >> 32) * n) >> 32, n - 1)


def mask_block(content, index, seed, cls, sep, mask, vocab):
    s = Stream(seed, MASK_STREAM, index)
    ids, positions, labels = [cls], [], []
    for j, tok in enumerate(content):
        at = 3 * j
        out = tok
        if s.uniform(at) < SELECT:
            positions.append(j + 1)
            labels.append(tok)
            how = s.uniform(at + 1)
            if how < AS_MASK:
                out = mask
            elif how < AS_RANDOM:
                out = s.below(at + 2, vocab)
        ids.append(out)
    ids.append(sep)
    return dict(input_ids=ids, positions=positions, labels=labels)


def ce_sum(model, blocks):
    """Σ cross-entropy over the selected tokens, one block at a time (no padding), in float64."""
    total, count = 0.0, 0
    with torch.no_grad():
        for b in blocks:
            ids = torch.tensor([b["input_ids"]])
            logits = model(input_ids=ids, token_type_ids=torch.zeros_like(ids)).logits[0].double()
            logp = torch.log_softmax(logits, dim=-1)
            for p, l in zip(b["positions"], b["labels"]):
                total -= logp[p, l].item()
                count += 1
    return total, count


def perplexity(model, blocks):
    total, count = ce_sum(model, blocks)
    return math.exp(total / count)


SPECS = {
    "bert": (transformers.BertForMaskedLM, "bert"),
    "roberta": (transformers.RobertaForMaskedLM, "roberta"),
    "albert": (transformers.AlbertForMaskedLM, "albert"),
}


def part_a(arch):
    cls_, prefix = SPECS[arch]
    fixture = os.path.join(FIXTURES, f"tiny-{arch}")
    pre = cls_.from_pretrained(fixture, attn_implementation="eager").eval()
    cfg = pre.config
    rng = np.random.RandomState({"bert": 1, "roberta": 2, "albert": 3}[arch])
    base = getattr(pre, prefix)
    fine_base = {}
    for name, t in base.state_dict().items():
        if "position_ids" in name or "token_type_ids" in name:
            continue
        noise = rng.normal(0.0, 0.1, size=tuple(t.shape)).astype(np.float32)
        fine_base[name] = t + torch.from_numpy(noise)
    out_dir = os.path.join(fixture, "finetuned")
    os.makedirs(out_dir, exist_ok=True)
    save_file({f"{prefix}.{k}": v.contiguous() for k, v in fine_base.items()}, os.path.join(out_dir, "model.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(fixture, "config.json")) as f:
        config_json = json.load(f)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config_json, f, indent=2)

    vocab, L = cfg.vocab_size, cfg.num_hidden_layers
    cls, sep, mask, seed = 2, 3, 4, 7
    contents = [list(map(int, rng.randint(5, vocab, size=n))) for n in (20, 30, 15)]
    blocks = [mask_block(c, i, seed, cls, sep, mask, vocab) for i, c in enumerate(contents)]

    ppl = []
    for k in range(L + 1):
        if arch == "albert":
            # Depth d runs group d: a model with one group per depth, each the fine-tuned or the
            # pretrained shared layer.
            c2 = copy.deepcopy(cfg)
            c2.num_hidden_groups = L
            m = cls_(c2).eval()
            state = {f"{prefix}.{n}": v for n, v in fine_base.items() if "albert_layer_groups" not in n}
            pre_state = pre.state_dict()
            for n, v in pre_state.items():
                if n.startswith("predictions."):
                    state[n] = v
            for d in range(L):
                src = fine_base if d < L - k else {n[len(prefix) + 1:]: v for n, v in pre_state.items() if n.startswith(prefix + ".")}
                for n, v in src.items():
                    if n.startswith("encoder.albert_layer_groups.0."):
                        state[f"{prefix}.encoder.albert_layer_groups.{d}." + n[len("encoder.albert_layer_groups.0."):]] = v
        else:
            m = cls_(cfg).eval()
            state = dict(pre.state_dict())
            for n, v in fine_base.items():
                state[f"{prefix}.{n}"] = v
            for d in range(L - k, L):
                for n, v in pre.state_dict().items():
                    if n.startswith(f"{prefix}.encoder.layer.{d}."):
                        state[n] = v
        # The decoder is tied to the word embeddings: loading the pretrained decoder weight would
        # overwrite the fine-tuned embeddings through the shared tensor.
        state = {n: v for n, v in state.items() if not n.endswith("decoder.weight")}
        missing, unexpected = m.load_state_dict(state, strict=False)
        missing = [n for n in missing if "position_ids" not in n and "decoder" not in n]
        assert not missing and not unexpected, (missing, unexpected)
        emb = getattr(m, prefix).embeddings.word_embeddings.weight
        assert m.get_output_embeddings().weight is emb
        assert torch.equal(emb, fine_base["embeddings.word_embeddings.weight"])
        ppl.append(perplexity(m, blocks))
    golden = dict(
        mask_seed=seed, cls=cls, sep=sep, mask=mask, contents=contents, blocks=blocks,
        perplexity=ppl, pretrained_perplexity=perplexity(pre, blocks),
    )
    with open(os.path.join(fixture, "layer_reset.json"), "w") as f:
        json.dump(golden, f)
    print(arch, "k=0..L:", [round(p, 4) for p in ppl], "pretrained", round(golden["pretrained_perplexity"], 4))


def part_b():
    model_dir = os.path.join(SHARED, "models", "all-MiniLM-L6-v2")
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    with open(os.path.join(SHARED, "wikitext-2-raw", "wiki.test.raw"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    text = "\n".join(lines[:120])
    ids = tok(text, add_special_tokens=False, truncation=False)["input_ids"]
    block, seed = 510, 42
    contents = [ids[i:i + block] for i in range(0, len(ids) - block + 1, block)]
    cls, sep, mask = tok.cls_token_id, tok.sep_token_id, tok.mask_token_id
    model = transformers.BertForMaskedLM.from_pretrained(model_dir, attn_implementation="eager").eval()
    h = model.config.hidden_size
    with torch.no_grad():
        t = model.cls.predictions.transform
        t.dense.weight.copy_(torch.eye(h))
        t.dense.bias.zero_()
        t.LayerNorm.weight.fill_(1.0)
        t.LayerNorm.bias.zero_()
        model.cls.predictions.bias.zero_()
        if getattr(model.cls.predictions.decoder, "bias", None) is not None:
            model.cls.predictions.decoder.bias.zero_()
    assert torch.equal(model.cls.predictions.decoder.weight, model.bert.embeddings.word_embeddings.weight)
    blocks = [mask_block(c, i, seed, cls, sep, mask, model.config.vocab_size) for i, c in enumerate(contents)]
    total, count = ce_sum(model, blocks)
    golden = dict(
        lines=120, block=block, mask_seed=seed, tokens=len(ids), first_ids=ids[:40], blocks=len(blocks),
        masked_tokens=count, block0_input_ids=blocks[0]["input_ids"], block0_positions=blocks[0]["positions"],
        perplexity=math.exp(total / count),
    )
    with open(os.path.join(GOLDENS, "minilm_wikitext_perplexity.json"), "w") as f:
        json.dump(golden, f)
    print("MiniLM + identity head:", golden["tokens"], "tokens,", len(blocks), "blocks,", count, "masked, ppl",
          golden["perplexity"])


if __name__ == "__main__":
    torch.manual_seed(0)
    for arch in ("bert", "roberta", "albert"):
        part_a(arch)
    part_b()

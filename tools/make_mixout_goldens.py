#!/usr/bin/env python3
"""Goldens for Mixout (crates/train/src/mixout.rs), from a PyTorch port of the reference MixLinear.

Run from the repository root, after tools/make_goldens.py and tools/make_train_goldens.py:

    /work/venv/bin/python tools/make_mixout_goldens.py

The port is the reference's `Mixout` autograd function (bloodwass/mixout, as copied into
asappresearch/revisit-bert-finetuning/mixout.py) with the mask passed in instead of drawn, so that
PyTorch and stabletune use the same mask:

    noise  = mask_cols.repeat(out_features, 1)           # one draw per input column, as the reference
    W'     = ((1 - noise) * target + noise * W - p * target) / (1 - p)
    dW     = dW' * noise                                   # the reference's backward (no 1 / (1 - p))

and every nn.Linear of the model becomes such a layer (the revisit code's replacement), biases not mixed.

1. Per tiny fixture (bert, roberta, albert): the classification model of tests/fixtures/tiny-<arch>,
   dropout off, its weights W, targets u = W + N(0, 0.02) noise (so that W' differs from W), p = 0.9 and
   masks with about half the columns kept; the inputs and labels of the fixture's golden.json. Writes
   tests/fixtures/tiny-<arch>/mixout_golden.safetensors with "target/<name>", "mask/<name>" (float 0/1
   per input column), "grad/<name>" (every parameter), "logits" and "loss".
2. 30 updates of tiny BERT under lee2020-mixout: the data, schedule, clipping and AdamW of
   tools/make_train_goldens.py without bias correction and at lr 1e-4 (MIXOUT_LR), dropout off, Mixout p = 0.9 toward the starting
   weights with masks Bernoulli(0.1) per column drawn by numpy (seed MASK_SEED) for every step. Writes
   tests/fixtures/train-golden/mixout.json (masks per step, losses, lrs, grad norms) and
   final_lee2020-mixout.safetensors.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_train_goldens as tg  # noqa: E402

REPO = tg.REPO
FIXTURES = os.path.join(REPO, "tests", "fixtures")
P = 0.9
MASK_SEED = 1909


class MixoutFn(torch.autograd.Function):
    """The reference Mixout with a given per-column mask."""

    @staticmethod
    def forward(ctx, weight, target, mask_cols, p):
        noise = mask_cols.repeat(weight.size(0), 1)
        ctx.save_for_backward(noise)
        return ((1 - noise) * target + noise * weight - p * target) / (1 - p)

    @staticmethod
    def backward(ctx, grad_output):
        (noise,) = ctx.saved_tensors
        return grad_output * noise, None, None, None


class MixLinearPort(nn.Module):
    def __init__(self, linear, target, p):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.register_buffer("target", target.detach().clone(), persistent=False)
        self.p = p
        self.mask = None

    def forward(self, x):
        return F.linear(x, MixoutFn.apply(self.weight, self.target, self.mask, self.p), self.bias)


def mix_linears(model, p, targets=None):
    """Replaces every nn.Linear by a MixLinearPort (the revisit code's loop); returns name -> port,
    named by the weight's parameter name."""
    ports = {}
    for sup_name, sup in list(model.named_modules()):
        for name, module in list(sup.named_children()):
            if isinstance(module, nn.Dropout):
                module.p = 0.0
            if isinstance(module, nn.Linear):
                full = f"{sup_name}.{name}.weight" if sup_name else f"{name}.weight"
                target = targets[full] if targets is not None else module.weight
                port = MixLinearPort(module, target, p)
                setattr(sup, name, port)
                ports[full] = port
    return ports


ARCHS = {
    "bert": transformers.BertForSequenceClassification,
    "roberta": transformers.RobertaForSequenceClassification,
    "albert": transformers.AlbertForSequenceClassification,
}


def forward_goldens(arch):
    d = os.path.join(FIXTURES, f"tiny-{arch}")
    model = ARCHS[arch].from_pretrained(d, attn_implementation="eager", dtype=torch.float32)
    model.float().eval()
    g = json.load(open(os.path.join(d, "golden.json")))
    gen = torch.Generator().manual_seed(7)
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    targets = {}
    for n, p in model.named_parameters():
        if n.endswith(".weight") and p.dim() == 2 and "embeddings." not in n:
            targets[n] = p.detach() + 0.02 * torch.randn(p.shape, generator=gen)
    ports = mix_linears(model, P, targets)
    assert set(ports) <= set(targets), set(ports) - set(targets)
    out = {}
    for name, port in ports.items():
        port.mask = (torch.rand(port.weight.size(1), generator=gen) < 0.5).float()
        out[f"target/{name}"] = targets[name].contiguous()
        out[f"mask/{name}"] = port.mask.contiguous()
    inputs = dict(
        input_ids=torch.tensor(g["input_ids"]),
        attention_mask=torch.tensor(g["attention_mask"]),
        token_type_ids=torch.tensor(g["token_type_ids"]),
    )
    if arch == "roberta":
        inputs.pop("token_type_ids")
    labels = torch.tensor(g["cls_labels"])
    logits = model(**inputs).logits
    loss = F.cross_entropy(logits, labels)
    model.zero_grad(set_to_none=True)
    loss.backward()
    for n, p in model.named_parameters():
        if p.grad is not None:
            out[f"grad/{n}"] = p.grad.detach().clone().contiguous()
    out["logits"] = logits.detach().contiguous()
    out["loss"] = loss.detach().reshape(1)
    # Weights untouched by the forward pass.
    for n, p in model.named_parameters():
        assert torch.equal(p.detach(), weights[n]), n
    path = os.path.join(d, "mixout_golden.safetensors")
    save_file(out, path, metadata={"format": "pt", "p": str(P)})
    print(f"tiny-{arch}: {len(ports)} mixed matrices, loss {loss.item():.6f} -> {os.path.relpath(path, REPO)}")


# A tenth of make_train_goldens.py's 1e-3: Mixout divides by 1 - p = 0.1, so float32 roundoff (which
# both sides have, in different places) grows ten times faster through the updates; at this lr the two
# stay within 1e-5 over the 30 updates while the weights still move by far more than that.
MIXOUT_LR = 1e-4


def train_mixout():
    tg.HYPER["lr"] = MIXOUT_LR  # lr_at and AuthorsAdamW read it at call time
    examples, batches = tg.make_data()
    model = tg.load_model()
    named = list(model.named_parameters())
    params = [p for _, p in named]
    ports = mix_linears(model, P)  # targets: the starting weights
    names = sorted(ports, key=lambda n: [m for m, _ in named].index(n))
    rng = np.random.default_rng(MASK_SEED)
    opt = tg.AuthorsAdamW(named, bias_correction=False)
    masks, losses, lrs, grad_norms = [], [], [], []
    for k, indices in enumerate(batches):
        step_masks = {}
        for n in names:
            m = (rng.random(ports[n].weight.size(1)) < 1 - P).astype(np.float32)
            ports[n].mask = torch.from_numpy(m)
            step_masks[n] = [int(x) for x in m]
        masks.append(step_masks)
        inputs, labels = tg.collate(examples, indices)
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(**inputs).logits, labels)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, tg.HYPER["max_grad_norm"])
        lr = tg.lr_at(k)
        opt.step(lr)
        losses.append(loss.item())
        lrs.append(lr)
        grad_norms.append(norm.item())
    final = {n: p.detach().clone().contiguous() for n, p in named}
    out = os.path.join(tg.OUT_DIR, "final_lee2020-mixout.safetensors")
    save_file(final, out, metadata={"format": "pt"})
    initial = {n: p.detach().clone() for n, p in tg.load_model().named_parameters()}
    moved = max((final[n] - initial[n]).abs().max().item() for n in final)
    assert moved > 1e-3, f"parameters barely moved ({moved:.3e})"
    golden = {"p": P, "hyper": dict(tg.HYPER), "moved": moved, "mixed": names, "masks": masks, "losses": losses, "lrs": lrs, "grad_norms": grad_norms}
    path = os.path.join(tg.OUT_DIR, "mixout.json")
    with open(path, "w") as f:
        json.dump(golden, f)
        f.write("\n")
    assert all(math.isfinite(x) for x in losses + grad_norms)
    print(f"lee2020-mixout: {len(names)} mixed matrices; losses {losses[0]:.6f} .. {losses[-1]:.6f}")


def main():
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for arch in ARCHS:
        forward_goldens(arch)
    train_mixout()


if __name__ == "__main__":
    main()

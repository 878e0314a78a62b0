#!/usr/bin/env python3
"""Generate the fine-tuning goldens: 30 AdamW steps on the tiny BERT fixture, two recipes.

Run from the repository root (after ``tools/make_goldens.py`` has written the fixture):

    /work/venv/bin/python tools/make_train_goldens.py

Needs torch, transformers, safetensors (CPU only, a few seconds).  Deterministic: fixed seed,
one CPU thread, float32, eval mode (dropout off), eager attention; two runs write
byte-identical files.

Input: ``tests/fixtures/tiny-bert/`` loaded as ``BertForSequenceClassification`` (num_labels=3,
classifier weights from the fixture; the MLM head weights in the fixture are ignored).  The
trained parameters are all of ``model.named_parameters()``: ``bert.embeddings.*``,
``bert.encoder.*``, ``bert.pooler.*``, ``classifier.*`` (41 tensors).

Output, in ``tests/fixtures/train-golden/``:

    golden.json
        examples    24 x {"input_ids": [...], "token_type_ids": [...], "label": int}, unpadded
        batches     30 lists of 4 example indices, in step order
        hyper       {"lr", "warmup_steps", "total_steps", "beta1", "beta2", "eps",
                     "weight_decay", "max_grad_norm"}
        no_decay    ["bias", "LayerNorm.weight"]: a parameter whose name contains one of these
                    substrings gets no weight decay
        seed        the seed of the data generator
        devlin2019, mosbach2021   each {"bias_correction": bool, "losses": [30], "lrs": [30],
                    "grad_norms": [30]} (Python floats, exact: losses and grad norms are float32
                    values, lrs are doubles)
    final_devlin2019.safetensors, final_mosbach2021.safetensors
        every parameter after the 30 updates, HF names, float32, contiguous

Data (one ``torch.Generator`` seeded with SEED, drawn in this order):
    for each of the 24 examples: length ~ randint[4, 12] inclusive, then ids ~ randint[3, 99)
    (``length`` of them), then position 0 is overwritten with 2 ([CLS]); token types are 0 for
    the first ceil(length/2) tokens and 1 for the rest.  Then 24 labels ~ randint{0, 1, 2}.
    Then, for each of the 5 epochs, one ``randperm(24)``; epoch e's batches are its permutation
    cut into 6 consecutive chunks of 4.
    A batch is right-padded to its longest member: pad positions have input id 0, attention
    mask 0, token type 0 (position ids are the default 0..L-1 for every row).

One step k = 0 .. 29 (t = k + 1 counts updates, including the first one, which has lr 0):
    1. forward in eval mode (no dropout), logits -> loss = mean cross-entropy over the 4
       examples (``F.cross_entropy``, reduction mean); record loss (before the update).
    2. backward from zeroed gradients.
    3. ``torch.nn.utils.clip_grad_norm_(params, 1.0)``: total = L2 norm of the vector of the
       per-tensor L2 norms (float32); every grad is multiplied by
       min(1, 1.0 / (total + 1e-6)) computed in float32.  Record total (before clipping).
    4. lr_k = base_lr * f(k) in double, with f as in HF ``get_linear_schedule_with_warmup``:
       f(k) = k / W if k < W else max(0, (T - k) / (T - W)),  W = 3, T = 30.  Record lr_k.
    5. per parameter, float32 tensors, exactly as the authors' AdamW (the pre-2020 HF one):
           m.mul_(b1).add_(g, alpha=1 - b1)
           v.mul_(b2).addcmul_(g, g, value=1 - b2)
           denom = v.sqrt().add_(eps)
           step_size = lr_k                                          (devlin2019)
           step_size = lr_k * sqrt(1 - b2**t) / (1 - b1**t)          (mosbach2021; Python double)
           p.addcdiv_(m, denom, value=-step_size)
           if weight_decay > 0 and the parameter decays: p.add_(p, alpha=-lr_k * weight_decay)
       (scalar arguments are double in Python and enter the float32 kernels as float32.)
"""

import json
import math
import os

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURE = os.path.join(REPO, "tests", "fixtures", "tiny-bert")
OUT_DIR = os.path.join(REPO, "tests", "fixtures", "train-golden")

SEED = 20210
N_EXAMPLES = 24
MIN_LEN, MAX_LEN = 4, 12  # inclusive
BATCH_SIZE = 4
EPOCHS = 5
NUM_LABELS = 3
PAD_ID = 0
CLS_ID = 2

HYPER = {
    "lr": 1e-3,  # large on purpose, so the parameters move visibly
    "warmup_steps": 3,  # warmup ratio 0.1 of 30
    "total_steps": EPOCHS * N_EXAMPLES // BATCH_SIZE,  # 30
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-6,
    "weight_decay": 0.01,
    "max_grad_norm": 1.0,
}
NO_DECAY = ["bias", "LayerNorm.weight"]  # the authors' list (substring match on the name)
RECIPES = {"devlin2019": False, "mosbach2021": True}  # name -> Adam bias correction

written = []


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def make_data():
    """(examples, batches): 24 unpadded examples and 30 batches of 4 example indices."""
    gen = torch.Generator().manual_seed(SEED)
    examples = []
    for _ in range(N_EXAMPLES):
        length = int(torch.randint(MIN_LEN, MAX_LEN + 1, (1,), generator=gen))
        ids = torch.randint(3, 99, (length,), generator=gen).tolist()
        ids[0] = CLS_ID
        first = (length + 1) // 2  # ceil(length / 2) tokens of type 0, the rest type 1
        types = [0] * first + [1] * (length - first)
        examples.append({"input_ids": ids, "token_type_ids": types})
    labels = torch.randint(0, NUM_LABELS, (N_EXAMPLES,), generator=gen).tolist()
    for ex, label in zip(examples, labels):
        ex["label"] = label
    batches = []
    for _ in range(EPOCHS):
        perm = torch.randperm(N_EXAMPLES, generator=gen).tolist()
        batches += [perm[i : i + BATCH_SIZE] for i in range(0, N_EXAMPLES, BATCH_SIZE)]
    assert len(batches) == HYPER["total_steps"]
    return examples, batches


def collate(examples, indices):
    """Right-pad to the longest member: pads get id 0, attention mask 0, token type 0."""
    rows = [examples[i] for i in indices]
    width = max(len(r["input_ids"]) for r in rows)
    n = len(rows)
    input_ids = torch.full((n, width), PAD_ID, dtype=torch.long)
    attention_mask = torch.zeros((n, width), dtype=torch.long)
    token_type_ids = torch.zeros((n, width), dtype=torch.long)
    for i, r in enumerate(rows):
        length = len(r["input_ids"])
        input_ids[i, :length] = torch.tensor(r["input_ids"])
        attention_mask[i, :length] = 1
        token_type_ids[i, :length] = torch.tensor(r["token_type_ids"])
    labels = torch.tensor([r["label"] for r in rows], dtype=torch.long)
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids), labels


# --------------------------------------------------------------------------------------
# Schedule and optimizer (hand-written, not torch.optim)
# --------------------------------------------------------------------------------------


def lr_at(k):
    """lr of update k (0-based), HF get_linear_schedule_with_warmup: base_lr * lambda(k)."""
    w, t = HYPER["warmup_steps"], HYPER["total_steps"]
    if k < w:
        factor = float(k) / float(max(1, w))
    else:
        factor = max(0.0, float(t - k) / float(max(1, t - w)))
    return HYPER["lr"] * factor


def decays(name):
    return not any(nd in name for nd in NO_DECAY)


class AuthorsAdamW:
    """AdamW as in the authors' code: eps outside the bias correction, decoupled decay after
    the update with the scheduled lr, optional bias correction."""

    def __init__(self, named_params, bias_correction):
        self.params = list(named_params)
        self.bias_correction = bias_correction
        self.t = 0
        self.exp_avg = {n: torch.zeros_like(p) for n, p in self.params}
        self.exp_avg_sq = {n: torch.zeros_like(p) for n, p in self.params}

    @torch.no_grad()
    def step(self, lr):
        b1, b2, eps, wd = HYPER["beta1"], HYPER["beta2"], HYPER["eps"], HYPER["weight_decay"]
        self.t += 1
        t = self.t
        for name, p in self.params:
            g = p.grad
            exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
            exp_avg.mul_(b1).add_(g, alpha=1.0 - b1)
            exp_avg_sq.mul_(b2).addcmul_(g, g, value=1.0 - b2)
            denom = exp_avg_sq.sqrt().add_(eps)
            step_size = lr
            if self.bias_correction:
                step_size = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
            p.addcdiv_(exp_avg, denom, value=-step_size)
            if wd > 0.0 and decays(name):
                p.add_(p, alpha=-lr * wd)


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


def load_model():
    model, info = transformers.BertForSequenceClassification.from_pretrained(
        FIXTURE, attn_implementation="eager", dtype=torch.float32, output_loading_info=True
    )
    assert not info["missing_keys"], info["missing_keys"]
    assert not info["mismatched_keys"], info["mismatched_keys"]
    assert all(k.startswith("cls.") for k in info["unexpected_keys"]), info["unexpected_keys"]
    assert model.config.num_labels == NUM_LABELS
    model.float().eval()  # eval: dropout off (we still compute gradients)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def train(bias_correction, examples, batches):
    model = load_model()
    named = list(model.named_parameters())
    params = [p for _, p in named]
    initial = {n: p.detach().clone() for n, p in named}
    opt = AuthorsAdamW(named, bias_correction)
    losses, lrs, grad_norms = [], [], []
    for k, indices in enumerate(batches):
        inputs, labels = collate(examples, indices)
        model.zero_grad(set_to_none=True)
        logits = model(**inputs).logits
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, HYPER["max_grad_norm"])
        lr = lr_at(k)
        opt.step(lr)
        losses.append(loss.item())
        lrs.append(lr)
        grad_norms.append(norm.item())
    final = {n: p.detach().clone().contiguous() for n, p in named}
    return initial, final, losses, lrs, grad_norms


def check_grad_norm(examples, batch):
    """clip_grad_norm_'s total norm agrees with a direct float64 norm of all gradients."""
    model = load_model()
    inputs, labels = collate(examples, batch)
    F.cross_entropy(model(**inputs).logits, labels).backward()
    direct = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in model.parameters()))
    total = torch.nn.utils.clip_grad_norm_(list(model.parameters()), HYPER["max_grad_norm"]).item()
    assert abs(total - direct) <= 1e-5 * direct, (total, direct)


def main():
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)

    examples, batches = make_data()
    check_grad_norm(examples, batches[0])
    golden = {
        "examples": examples,
        "batches": batches,
        "hyper": HYPER,
        "no_decay": NO_DECAY,
        "seed": SEED,
    }
    for recipe, bias_correction in RECIPES.items():
        initial, final, losses, lrs, grad_norms = train(bias_correction, examples, batches)
        moved = max((final[n] - initial[n]).abs().max().item() for n in final)
        assert moved > 1e-3, f"{recipe}: parameters barely moved ({moved:.3e})"
        assert all(math.isfinite(x) for x in losses + grad_norms)
        assert lrs[0] == 0.0 and lrs[HYPER["warmup_steps"]] == HYPER["lr"]
        golden[recipe] = {
            "bias_correction": bias_correction,
            "losses": losses,
            "lrs": lrs,
            "grad_norms": grad_norms,
        }
        path = os.path.join(OUT_DIR, f"final_{recipe}.safetensors")
        save_file(final, path, metadata={"format": "pt"})
        written.append(path)
        n_clipped = sum(g > HYPER["max_grad_norm"] for g in grad_norms)
        print(
            f"{recipe}: first losses {', '.join(f'{x:.6f}' for x in losses[:3])}; "
            f"last loss {losses[-1]:.6f}; max |final - initial| = {moved:.4e}; "
            f"{n_clipped}/{len(grad_norms)} steps clipped"
        )

    path = os.path.join(OUT_DIR, "golden.json")
    with open(path, "w") as f:
        json.dump(golden, f)
        f.write("\n")
    written.append(path)

    print("\nwritten:")
    total = 0
    for p in written:
        size = os.path.getsize(p)
        total += size
        print(f"  {os.path.relpath(p, REPO):<55} {size:>9,d} B")
    print(f"  total {os.path.relpath(OUT_DIR, REPO):<49} {total:>9,d} B")


if __name__ == "__main__":
    main()

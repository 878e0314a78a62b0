#!/usr/bin/env python3
"""Hugging Face transformers reference for `stabletune train`: same fine-tuning run, plain PyTorch.

    /work/venv/bin/python bench/hf_finetune.py --task sst-2 --train-limit 1000 --epochs 3
    /work/venv/bin/python bench/hf_finetune.py --task rte --epochs 3 --threads 2

Mirrors the semantics of `stabletune train` (mosbach2021 recipe, BERT defaults) so the two can be
timed and scored side by side on the same machine:

* data: GLUE TSV read with quoting off (header skipped); SST-2 `sentence\\tlabel` ("0"/"1"), RTE
  `index\\tsentence1\\tsentence2\\tlabel` (entailment=0, not_entailment=1); `--train-limit N` keeps N
  training examples sampled without replacement with `random.Random(seed)` (kept in file order);
* model: AutoModelForSequenceClassification (num_labels=2, eager attention, the config's dropout
  0.1), train mode; every example tokenised once up front (truncation to --max-seq-length, no
  padding), batches padded dynamically to their longest member;
* order: each epoch a fresh permutation (torch.randperm, generator seeded with seed+epoch, epoch
  0-based), batches of --batch-size, the last partial batch kept;
* update: AdamW with bias correction (no weight decay on biases and LayerNorm weights), linear
  schedule with int(warmup_ratio*total) warm-up steps (the authors' rounding down), clip_grad_norm_
  before each step; total = epochs*batches_per_epoch, or --max-steps when > 0;
* evaluation (the authors' schedule, as stabletune's): before training (step 0), after every
  floor(batches_per_epoch/evals_per_epoch) global updates except just before an epoch's last batch,
  at each epoch's end and after the last update; on the full dev set in eval mode, batches of
  --eval-batch-size sorted by length; accuracy.

Timing: wall time of the whole training loop (evaluations included; model loading and
tokenisation excluded); examples_per_s = training examples consumed / that wall time; s_per_step =
median wall time of one update (collate, forward, backward, clip, step, schedule, zero_grad).
The last line is

    RESULT impl=transformers task=sst-2 steps=189 wall_s=123.4 examples_per_s=24.3 s_per_step=0.61 final_acc=0.7810 best_acc=0.7833
"""

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

ROOT = Path(__file__).resolve().parent.parent
TASK_DIRS = {"rte": "RTE", "sst-2": "SST-2"}
RTE_LABELS = {"entailment": 0, "not_entailment": 1}


def read_tsv(path):
    """Rows of a GLUE TSV with quoting off, header skipped."""
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    return [line.rstrip("\n").split("\t") for line in lines[1:] if line.rstrip("\n")]


def read_task(task, path):
    """(texts, labels): texts are 1-tuples (SST-2) or 2-tuples (RTE)."""
    texts, labels = [], []
    for row in read_tsv(path):
        if task == "sst-2":
            texts.append((row[0],))
            labels.append(int(row[1]))
        else:
            texts.append((row[1], row[2]))
            labels.append(RTE_LABELS[row[3]])
    return texts, labels


def encode(tokenizer, texts, labels, max_len):
    """Tokenise every example once, no padding."""
    out = []
    for t, y in zip(texts, labels):
        enc = tokenizer(*t, truncation=True, max_length=max_len)
        feat = {k: enc[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc}
        out.append((feat, y))
    return out


def collate(tokenizer, examples):
    batch = tokenizer.pad([f for f, _ in examples], return_tensors="pt")
    batch["labels"] = torch.tensor([y for _, y in examples], dtype=torch.long)
    return batch


def evaluates_after(step, batch_in_epoch, batches, every, total):
    """stabletune's EvalSchedule::after: the authors' evaluation points."""
    if batch_in_epoch >= batches or step >= total:
        return True
    return step % every == 0 and batch_in_epoch + 1 < batches


def evaluate(model, tokenizer, dev, batch_size):
    order = sorted(range(len(dev)), key=lambda i: len(dev[i][0]["input_ids"]))
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            batch = collate(tokenizer, [dev[i] for i in order[s : s + batch_size]])
            labels = batch.pop("labels")
            logits = model(**batch).logits
            correct += (logits.argmax(-1) == labels).sum().item()
    if was_training:
        model.train()
    return correct / len(dev)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "../shared/assets/models/all-MiniLM-L6-v2"))
    ap.add_argument("--task", required=True, choices=sorted(TASK_DIRS))
    ap.add_argument("--data-dir", default=None, help="default ../shared/assets/glue/<RTE|SST-2>")
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--evals-per-epoch", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    model_dir = Path(args.model)
    model_dir = model_dir if model_dir.is_absolute() else (ROOT / model_dir)
    data_dir = Path(args.data_dir) if args.data_dir else ROOT / "../shared/assets/glue" / TASK_DIRS[args.task]
    if not data_dir.is_absolute():
        data_dir = ROOT / data_dir

    train_texts, train_labels = read_task(args.task, data_dir / "train.tsv")
    dev_texts, dev_labels = read_task(args.task, data_dir / "dev.tsv")
    if args.train_limit is not None and args.train_limit < len(train_texts):
        keep = sorted(random.Random(args.seed).sample(range(len(train_texts)), args.train_limit))
        train_texts = [train_texts[i] for i in keep]
        train_labels = [train_labels[i] for i in keep]

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    # Silences the "fast tokenizer: __call__ is faster than pad" advice: padding pre-tokenised
    # examples per batch is what stabletune does too.
    getattr(tokenizer, "deprecation_warnings", {})["Asking-to-pad-a-fast-tokenizer"] = True
    train = encode(tokenizer, train_texts, train_labels, args.max_seq_length)
    dev = encode(tokenizer, dev_texts, dev_labels, args.max_seq_length)

    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), num_labels=2, attn_implementation="eager"
    )
    model.train()

    no_decay = ("bias", "LayerNorm.weight")
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if not any(k in n for k in no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in named if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=args.eps, weight_decay=args.weight_decay)

    per_epoch = math.ceil(len(train) / args.batch_size)
    full = args.epochs * per_epoch
    total = args.max_steps if args.max_steps > 0 else full
    warmup = int(total * args.warmup_ratio)
    sched = get_linear_schedule_with_warmup(opt, warmup, total)
    every = max(1, per_epoch // max(1, args.evals_per_epoch))

    print(
        f"task={args.task} train={len(train)} dev={len(dev)} batches_per_epoch={per_epoch} "
        f"total_steps={total} warmup={warmup} threads={torch.get_num_threads()} "
        f"torch={torch.__version__} transformers={transformers.__version__}",
        flush=True,
    )

    step, seen, step_times = 0, 0, []
    started = time.perf_counter()
    final_acc = best_acc = evaluate(model, tokenizer, dev, args.eval_batch_size)
    print(f"eval step 0 epoch 0.000 accuracy {final_acc:.4f}", flush=True)
    epoch = 0
    while step < total:
        gen = torch.Generator().manual_seed(args.seed + epoch)
        order = torch.randperm(len(train), generator=gen).tolist()
        batches = [order[s : s + args.batch_size] for s in range(0, len(order), args.batch_size)]
        for b, idx in enumerate(batches, start=1):
            if step >= total:
                break
            t0 = time.perf_counter()
            batch = collate(tokenizer, [train[i] for i in idx])
            lr = sched.get_last_lr()[0]
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step_times.append(time.perf_counter() - t0)
            step += 1
            seen += len(idx)
            if step % 20 == 0 or step == total:
                print(f"step {step}/{total} epoch {epoch + b / len(batches):.3f} loss {loss.item():.4f} lr {lr:.3e}",
                      flush=True)
            if evaluates_after(step, b, len(batches), every, total):
                acc = evaluate(model, tokenizer, dev, args.eval_batch_size)
                final_acc = acc
                best_acc = acc if best_acc is None else max(best_acc, acc)
                print(f"eval step {step} epoch {epoch + b / len(batches):.3f} accuracy {acc:.4f}", flush=True)
        epoch += 1
    wall = time.perf_counter() - started

    if final_acc is None:  # no update at all (empty training set)
        final_acc = best_acc = evaluate(model, tokenizer, dev, args.eval_batch_size)
    s_per_step = statistics.median(step_times) if step_times else float("nan")
    print(
        f"RESULT impl=transformers task={args.task} steps={step} wall_s={wall:.1f} "
        f"examples_per_s={seen / wall:.1f} s_per_step={s_per_step:.2f} "
        f"final_acc={final_acc:.4f} best_acc={best_acc:.4f}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""PyTorch reference timing of one BERT fine-tuning step on CPU.

    python bench/torch_step.py --layers 6 --hidden 384 --heads 12 --ffn 1536 \
        --batch 16 --seq 128 --threads 2 --steps 10 [--warmup 2]

Builds a randomly initialised BertForSequenceClassification (vocab 30522, max_position
512, num_labels 2, gelu, dropout 0.1, eager attention, train mode) and times full
training steps (forward + loss, backward, clip_grad_norm_(1.0), AdamW step, zero_grad)
on a fixed random batch.  Prints the median over the timed steps; the last line is

    RESULT impl=torch median_ms=... tokens_per_s=... gflops=...

which bench/compare.sh parses next to the matching line of `stabletune bench`.
"""

import argparse
import statistics
import time

import torch
import transformers


def train_step_flops(layers, hidden, heads, ffn, batch, seq):
    """Matmul-only FLOP count of one training step (the Rust bench uses the same formula).

    T = batch*seq tokens. Per layer forward: Q/K/V/output projections (4*H*H per token) and
    the two FFN matmuls (2*H*F per token), 2 flops per multiply-add, plus the attention
    scores QK^T and probs@V (2 matmuls of batch*heads*seq*seq*(H/heads) MACs each).
    Forward total = layers * per-layer + pooler (2*batch*H*H, negligible).
    A training step = 3 * forward (backward costs twice the forward).
    Embedding lookups, layer norms, softmax, GELU, the classifier and the optimizer are
    not counted.
    """
    t = batch * seq
    head_dim = hidden / heads
    per_layer = 2 * t * (4 * hidden * hidden + 2 * hidden * ffn) + 2 * 2 * batch * heads * seq * seq * head_dim
    forward = layers * per_layer + 2 * batch * hidden * hidden
    return 3 * forward


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--ffn", type=int, default=1536)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    transformers.logging.set_verbosity_error()

    cfg = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=args.ffn,
        max_position_embeddings=512,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        num_labels=2,
    )
    cfg._attn_implementation = "eager"
    model = transformers.BertForSequenceClassification(cfg).float()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-5, eps=1e-6, weight_decay=0.01)

    input_ids = torch.randint(0, cfg.vocab_size, (args.batch, args.seq))
    attention_mask = torch.ones_like(input_ids)
    token_type_ids = torch.zeros_like(input_ids)
    labels = torch.randint(0, 2, (args.batch,))

    def step():
        loss = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            labels=labels,
        ).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    n_params = sum(p.numel() for p in params)
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads={torch.get_num_threads()}, "
        f"params={n_params / 1e6:.1f}M, shape L={args.layers} H={args.hidden} A={args.heads} F={args.ffn} "
        f"batch={args.batch} seq={args.seq}"
    )
    for i in range(args.warmup):
        t0 = time.perf_counter()
        loss = step()
        print(f"warmup {i}: {1e3 * (time.perf_counter() - t0):.1f} ms loss={loss:.4f}")
    times = []
    for i in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t0
        times.append(dt)
        print(f"step {i}: {1e3 * dt:.1f} ms loss={loss:.4f}")

    median_s = statistics.median(times)
    tokens_per_s = args.batch * args.seq / median_s
    flops = train_step_flops(args.layers, args.hidden, args.heads, args.ffn, args.batch, args.seq)
    gflops = flops / median_s / 1e9
    print(f"flops/step={flops / 1e9:.2f} GFLOP (matmul-only)")
    print(f"RESULT impl=torch median_ms={1e3 * median_s:.1f} tokens_per_s={tokens_per_s:.1f} gflops={gflops:.1f}")


if __name__ == "__main__":
    main()

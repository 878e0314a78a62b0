#!/usr/bin/env python3
"""Layer-wise learning-rate decay as the revisit code groups parameters, for the tiny BERT fixture.

Writes crates/train/tests/goldens/llrd.json: for each decay factor, every parameter of a
BertForSequenceClassification with the fixture's layer count, by its Hugging Face name, with its
learning rate as a factor of the base rate and its weight decay. crates/train/tests/llrd_golden.rs
compares stabletune's optimizer segments with it.

No torch: the grouping depends only on parameter names, so this reproduces the name matching of
asappresearch/revisit-bert-finetuning, run_glue.py, get_optimizer_grouped_parameters, line for line:

    no_decay = ["bias", "LayerNorm.weight"]
    if args.layerwise_learning_rate_decay == 1.0:
        [{"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
          "weight_decay": args.weight_decay, "lr": args.learning_rate},
         {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
          "weight_decay": 0.0, "lr": args.learning_rate}]
    else:
        [{"params": [p for n, p in model.named_parameters() if "classifier" in n or "pooler" in n],
          "weight_decay": 0.0, "lr": args.learning_rate}]
        layers = [getattr(model, args.model_type).embeddings] + list(getattr(model, args.model_type).encoder.layer)
        layers.reverse()
        lr = args.learning_rate
        for layer in layers:
            lr *= args.layerwise_learning_rate_decay
            += [{"params": [p for n, p in layer.named_parameters() if not any(nd in n for nd in no_decay)],
                 "weight_decay": args.weight_decay, "lr": lr},
                {"params": [p for n, p in layer.named_parameters() if any(nd in n for nd in no_decay)],
                 "weight_decay": 0.0, "lr": lr}]

`layer.named_parameters()` yields names relative to the module (`attention.self.query.weight`), which is
what the no_decay test sees there; the head group tests the full names. Run: python3 tools/make_llrd_goldens.py
"""

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEARNING_RATE = 2e-5
WEIGHT_DECAY = 0.01
DECAYS = [0.9, 0.5, 1.0]


def module_names(prefix, parts):
    return [f"{prefix}{p}" for p in parts]


def bert_parameter_names(num_layers):
    """BertForSequenceClassification.named_parameters(), in order, as (module, name relative to it)."""
    emb = [
        "word_embeddings.weight",
        "position_embeddings.weight",
        "token_type_embeddings.weight",
        "LayerNorm.weight",
        "LayerNorm.bias",
    ]
    layer = [
        f"attention.{m}.{t}"
        for m in ["self.query", "self.key", "self.value", "output.dense", "output.LayerNorm"]
        for t in ["weight", "bias"]
    ] + [f"{m}.{t}" for m in ["intermediate.dense", "output.dense", "output.LayerNorm"] for t in ["weight", "bias"]]
    out = [("embeddings", "bert.embeddings.", n) for n in emb]
    for i in range(num_layers):
        out += [(f"layer.{i}", f"bert.encoder.layer.{i}.", n) for n in layer]
    out += [("pooler", "bert.", n) for n in ["pooler.dense.weight", "pooler.dense.bias"]]
    out += [("classifier", "", n) for n in ["classifier.weight", "classifier.bias"]]
    return out


def grouped(params, decay, num_layers):
    """The reference's groups: a list of (list of full names, weight_decay, lr)."""
    no_decay = ["bias", "LayerNorm.weight"]
    full = [prefix + n for _, prefix, n in params]
    if decay == 1.0:
        return [
            ([n for n in full if not any(nd in n for nd in no_decay)], WEIGHT_DECAY, LEARNING_RATE),
            ([n for n in full if any(nd in n for nd in no_decay)], 0.0, LEARNING_RATE),
        ]
    groups = [([n for n in full if "classifier" in n or "pooler" in n], 0.0, LEARNING_RATE)]
    layers = ["embeddings"] + [f"layer.{i}" for i in range(num_layers)]
    layers.reverse()
    lr = LEARNING_RATE
    for layer in layers:
        lr *= decay
        # layer.named_parameters(): names relative to the module.
        rel = [(prefix + n, n) for module, prefix, n in params if module == layer]
        groups += [
            ([f for f, n in rel if not any(nd in n for nd in no_decay)], WEIGHT_DECAY, lr),
            ([f for f, n in rel if any(nd in n for nd in no_decay)], 0.0, lr),
        ]
    return groups


def main():
    with open(os.path.join(ROOT, "tests/fixtures/tiny-bert/config.json")) as f:
        num_layers = json.load(f)["num_hidden_layers"]
    params = bert_parameter_names(num_layers)
    cases = []
    for decay in DECAYS:
        seen = {}
        for names, wd, lr in grouped(params, decay, num_layers):
            for n in names:
                # torch.optim refuses a parameter in two groups; so does this.
                assert n not in seen, f"{n} in two groups"
                seen[n] = {"name": n, "lr_factor": lr / LEARNING_RATE, "weight_decay": wd}
        # Every parameter is in a group (for BERT the reference leaves none out).
        assert len(seen) == len(params), "a parameter in no group"
        cases.append(
            {"decay": decay, "parameters": [seen[prefix + n] for _, prefix, n in params]}
        )
    out = os.path.join(ROOT, "crates/train/tests/goldens/llrd.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    golden = {
        "source": "asappresearch/revisit-bert-finetuning run_glue.py get_optimizer_grouped_parameters",
        "model": "tests/fixtures/tiny-bert",
        "learning_rate": LEARNING_RATE,
        "weight_decay": WEIGHT_DECAY,
        "cases": cases,
    }
    with open(out, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"{out}: {len(params)} parameters x {len(DECAYS)} decays")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# The full end-to-end check of issue 3 (CI runs a small copy of it in crates/train/tests/runs.rs):
# the real MiniLM fine-tuned on 1000 sampled SST-2 examples, mosbach2021, 3 epochs, for two seeds;
# each must reach a final dev accuracy of at least 0.75 (transformers, same settings: 0.778 and 0.784).
#   bench/sst2_check.sh [SEED ...]      (default seeds 1 2; about 70 s a seed on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p stabletune-cli
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(1 2)
status=0
for seed in "${seeds[@]}"; do
    out=$(mktemp -d)/run
    ./target/release/stabletune train --task sst-2 --train-limit 1000 --recipe mosbach2021 --epochs 3 \
        --seed "$seed" --out "$out" > /dev/null 2>&1
    acc=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['final_metrics']['acc'])" "$out/summary.json")
    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.75 else 1)" "$acc"; then
        echo "seed $seed: final dev accuracy $acc (>= 0.75) ok"
    else
        echo "seed $seed: final dev accuracy $acc, below 0.75" >&2
        status=1
    fi
done
exit $status

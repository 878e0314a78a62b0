#!/usr/bin/env bash
# The demo study against the same runs done one after another with transformers (bench/hf_finetune.py),
# in one sitting: 2 recipes x seeds 1-8 on a 500-example sample of SST-2 at lr 3e-4, 3 epochs, evaluated before
# training and at each epoch's end. transformers' AdamW always corrects Adam's bias, so both of its
# "recipes" are the same work; the timing is what is compared. Prints both wall times and the ratio.
# Usage: PYTHON=../venv/bin/python bench/demo_vs_transformers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
cargo build --release -q
out=$(mktemp -d)
start=$(date +%s.%N)
target/release/stabletune study run demo --out "$out/demo" > "$out/demo.txt" 2> "$out/demo.log"
ours=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
for recipe in devlin2019 mosbach2021; do
    for seed in 1 2 3 4 5 6 7 8; do
        "$PYTHON" bench/hf_finetune.py --task sst-2 --train-limit 500 --epochs 3 --evals-per-epoch 1 --lr 3e-4 \
            --seed "$seed" --threads 2 | grep RESULT | sed "s/^/$recipe seed $seed: /"
    done
done
theirs=$(echo "$(date +%s.%N) - $start" | bc)
cat "$out/demo.txt"
printf 'stabletune study run demo: %.0f s; transformers, the same 16 runs one after another: %.0f s; %.2fx faster\n' \
    "$ours" "$theirs" "$(echo "$theirs / $ours" | bc -l)"

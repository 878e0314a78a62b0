#!/usr/bin/env bash
# End-to-end fine-tuning of the shipped MiniLM, stabletune against transformers (bench/hf_finetune.py), the
# same runs back to back in one sitting: SST-2 (1000 sampled examples, 3 epochs; its training phrases are
# short, median 10 tokens as CoLA's) and RTE (all 2490 examples, 1 epoch; median 65 tokens), mosbach2021
# settings, 2 threads each, evaluated 3 times an epoch plus before training, as the authors' code does.
# Times whole processes (start-up, loading, tokenising, training, evaluations, checkpoints) and prints
# each tool's own training-loop time too.
#   PYTHON=/tmp/venv/bin/python bench/finetune_vs_transformers.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
seed=${1:-1}
cargo build --release -q -p stabletune-cli
out=$(mktemp -d)
now() { date +%s.%N; }
for spec in "sst-2 1000 3" "rte 0 1"; do
    read -r task limit epochs <<<"$spec"
    ours_limit=() theirs_limit=()
    if [[ $limit -gt 0 ]]; then ours_limit=(--train-limit "$limit"); theirs_limit=(--train-limit "$limit"); fi
    start=$(now)
    target/release/stabletune train --task "$task" "${ours_limit[@]}" --recipe mosbach2021 --epochs "$epochs" \
        --evals-per-epoch 3 --seed "$seed" --threads 2 --out "$out/$task" > "$out/$task.txt" 2> /dev/null
    ours=$(echo "$(now) - $start" | bc)
    start=$(now)
    "$PYTHON" bench/hf_finetune.py --task "$task" "${theirs_limit[@]}" --epochs "$epochs" --evals-per-epoch 3 \
        --seed "$seed" --threads 2 > "$out/$task.hf.txt" 2> /dev/null
    theirs=$(echo "$(now) - $start" | bc)
    ours_loop=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['wall_seconds'], 1))" "$out/$task/summary.json")
    ours_acc=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['final_metrics']['acc'], 4))" "$out/$task/summary.json")
    theirs_loop=$(sed -n 's/.* wall_s=\([^ ]*\).*/\1/p' "$out/$task.hf.txt")
    theirs_acc=$(sed -n 's/.* final_acc=\([^ ]*\).*/\1/p' "$out/$task.hf.txt")
    printf '%s: stabletune %.1f s (loop %s s, acc %s); transformers %.1f s (loop %s s, acc %s); %.2fx faster end to end\n' \
        "$task" "$ours" "$ours_loop" "$ours_acc" "$theirs" "$theirs_loop" "$theirs_acc" "$(echo "$theirs / $ours" | bc -l)"
done
rm -rf "$out"

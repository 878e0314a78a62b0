#!/usr/bin/env bash
# Time one training step of stabletune and of PyTorch on the same shape, back to back.
#
#   bench/compare.sh [--layers N --hidden N --heads N --ffn N --batch N --seq N
#                     --threads N --steps N --warmup N] [--base]
#
# Defaults: MiniLM shape (6 layers, 384 hidden, 12 heads, 1536 ffn), batch 16, seq 128,
# 2 threads, 10 timed steps after 2 warmup steps. --base is a shortcut for the
# BERT-base shape (12/768/12/3072). Both programs get exactly the same flags.
# Python comes from $PYTHON (default /work/venv/bin/python if present, else python3).
# Prints both RESULT lines and torch_ms / stabletune_ms (>1 means stabletune is faster).
set -euo pipefail

cd "$(dirname "$0")/.."

layers=6 hidden=384 heads=12 ffn=1536 batch=16 seq=128 threads=2 steps=10 warmup=2

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --base) layers=12 hidden=768 heads=12 ffn=3072; shift ;;
        --layers) layers="$2"; shift 2 ;;
        --hidden) hidden="$2"; shift 2 ;;
        --heads) heads="$2"; shift 2 ;;
        --ffn) ffn="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --seq) seq="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

flags=(--layers "$layers" --hidden "$hidden" --heads "$heads" --ffn "$ffn"
       --batch "$batch" --seq "$seq" --threads "$threads" --steps "$steps" --warmup "$warmup")

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x /work/venv/bin/python ]]; then PYTHON=/work/venv/bin/python; else PYTHON=python3; fi
fi

echo "== shape: ${flags[*]}"

echo "== stabletune"
cargo build --release -q -p stabletune-cli
st_out=$(cargo run --release -q -p stabletune-cli -- bench "${flags[@]}" | tee /dev/stderr)
st_line=$(grep '^RESULT impl=stabletune' <<<"$st_out" | tail -n 1 || true)

echo "== torch ($PYTHON)"
torch_out=$("$PYTHON" bench/torch_step.py "${flags[@]}" | tee /dev/stderr)
torch_line=$(grep '^RESULT impl=torch' <<<"$torch_out" | tail -n 1 || true)

if [[ -z "$st_line" || -z "$torch_line" ]]; then
    echo "compare.sh: missing RESULT line (stabletune: '${st_line}', torch: '${torch_line}')" >&2
    exit 1
fi

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
st_ms=$(field median_ms "$st_line")
torch_ms=$(field median_ms "$torch_line")

echo
echo "$st_line"
echo "$torch_line"
awk -v t="$torch_ms" -v s="$st_ms" 'BEGIN { printf "ratio torch_ms/stabletune_ms=%.3f (>1 means stabletune is faster)\n", t / s }'

#!/usr/bin/env bash
# Token scaling for BENCHMARKS.md: a CRATE and a ToST of the same width, depth and heads (crate-tiny and
# tost-crate-tiny: 384/12/6, patch 16) at 224, 448 and 896 px (196, 784, 3136 patch tokens), batch 1, each row in its
# own JVM so that its peak RSS is its own; `--attention` also times the first layer's attention alone.
# Usage: benchmarks/run-token-scaling.sh [threads]
# Writes benchmarks/results/token-scaling.jsonl, docs/token-scaling.png, and prints the table and fitted slopes.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
out=benchmarks/results
mkdir -p "$out" docs
log="$out/token-scaling.jsonl"
: > "$log"
./crate --version >/dev/null   # builds the jar first if it is stale
for config in crate-tiny tost-crate-tiny; do
  for size in 224 448 896; do
    ./crate bench --config "$config" --image-size "$size" --batch 1 --threads "$threads" --warmup 1 --runs 3 \
      --steps 1 --attention --json 2>/dev/null >> "$log"
  done
done
./crate plot --scaling "$log" --out docs/token-scaling.png
/usr/bin/python3 benchmarks/peer/scaling_table.py "$log"

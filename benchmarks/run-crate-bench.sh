#!/usr/bin/env bash
# Side-by-side CRATE throughput for BENCHMARKS.md: `./crate bench` and the PyTorch peer (tools/pytorch/bench_crate.py,
# Debian's torch with OpenBLAS at full speed) on the same presets, alternating, in one run on this machine.
# Usage: benchmarks/run-crate-bench.sh [threads] [rounds] [preset:batch ...]
#   (default 2 threads, 2 rounds, fmnist-small:128 cifar-tiny:64 crate-tiny:16; e.g. vit-fmnist-small:128 for a twin)
# Writes benchmarks/results/crate-bench.jsonl (one JSON object per measurement) and prints the markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
rounds=${2:-2}
out=benchmarks/results
mkdir -p "$out"
log="$out/crate-bench.jsonl"
: > "$log"
configs=("fmnist-small:128" "cifar-tiny:64" "crate-tiny:16")
if (($# > 2)); then configs=("${@:3}"); fi
./crate --version >/dev/null   # builds the jar first if it is stale
for round in $(seq 1 "$rounds"); do
  for c in "${configs[@]}"; do
    set -- ${c/:/ }
    ./crate bench --config "$1" --batch "$2" --threads "$threads" --warmup 3 --runs 5 --steps 3 --json 2>/dev/null \
      | sed 's/^{/{"impl":"java",/' >> "$log"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/pytorch/bench_crate.py --config "$1" \
      --batch "$2" --threads "$threads" --warmup 3 --runs 5 --steps 3 --json \
      | sed 's/^{/{"impl":"pytorch",/' >> "$log"
  done
done
/usr/bin/python3 benchmarks/peer/crate_table.py "$log"

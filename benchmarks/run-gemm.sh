#!/usr/bin/env bash
# Side-by-side GEMM figures for BENCHMARKS.md: our JMH GemmBenchmark and the OpenBLAS peer, in one run, on this
# machine. Usage: benchmarks/run-gemm.sh [JMH options...]   (e.g. -p shape=1x3200x384x384 -p threads=2)
# Writes benchmarks/results/gemm-jmh.json and gemm-peer-*.jsonl, then prints the markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
out=benchmarks/results
mkdir -p "$out"
[ -f benchmarks/target/benchmarks.jar ] || mvn -q -B package -DskipTests
"$JAVA_HOME/bin/java" -jar benchmarks/target/benchmarks.jar GemmBenchmark -rf json -rff "$out/gemm-jmh.json" "$@"
shapes=$(/usr/bin/python3 -c "import json;print(' '.join(sorted({r['params']['shape'] for r in json.load(open('$out/gemm-jmh.json'))})))")
rm -f "$out"/gemm-peer-*.jsonl
for t in 1 2; do
  for split in blas batch; do
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 benchmarks/peer/gemm_peer.py --json --threads $t \
      --split $split $shapes > "$out/gemm-peer-t$t-$split.jsonl"
  done
done
/usr/bin/python3 benchmarks/peer/gemm_table.py "$out/gemm-jmh.json" "$out"/gemm-peer-t*.jsonl

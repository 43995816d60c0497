#!/usr/bin/env bash
# CRATE and its ViT twins on `./crate bench`, libtorch 2.7 (through DJL) and ONNX Runtime 1.22 on the same cores, in
# one sitting: the headline table of BENCHMARKS.md.
# Usage: benchmarks/run-peers.sh [threads] [rounds] [preset:batch ...]
#   (default 2 threads, 1 round, fmnist-small:128 cifar-tiny:64 crate-tiny:16 and their vit- twins)
# Each preset is exported once by tools/pytorch/export_peers.py (Debian's torch 1.13: seeded random weights, traced
# TorchScript, ONNX opset 14 with a dynamic batch, PyTorch's logits of a random batch) into runs/peers/; each runtime
# then runs in its own JVM (peak RSS its own; ours also inference alone, beside ONNX Runtime's), every one 3 warm-up steps, then the median of 5 runs of 3 steps. The
# peers exit non-zero when their logits differ from PyTorch's by over 1e-4 (relative L2) or DJL's training does not
# lower the loss. Needs the peers module: built here with -Ppeers (Maven fetches ~600 MB of natives the first time).
# Writes benchmarks/results/peers.jsonl and prints the markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
rounds=${2:-1}
configs=("fmnist-small:128" "cifar-tiny:64" "crate-tiny:16" "vit-fmnist-small:128" "vit-cifar-tiny:64" "vit-crate-tiny:16")
if (($# > 2)); then configs=("${@:3}"); fi
work=runs/peers
out=benchmarks/results
mkdir -p "$work" "$out"
log="$out/peers.jsonl"
: > "$log"

java="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
"$java" -version 2>&1 | grep -q 'version "25' || { echo "run-peers.sh: JDK 25 needed (set JAVA_HOME)" >&2; exit 1; }
mvn -q -B -Ppeers -pl peers package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
cp="peers/target/classes:$(cat peers/target/classpath.txt)"
./crate --version >/dev/null   # builds our jar first if it is stale

for c in "${configs[@]}"; do
  set -- ${c/:/ }
  if [[ ! -f "$work/$1/meta.json" ]] || ! grep -q "\"batch\": $2," "$work/$1/meta.json"; then
    /usr/bin/python3 tools/pytorch/export_peers.py --config "$1" --batch "$2" --out "$work" >&2
  fi
done
for round in $(seq 1 "$rounds"); do
  for c in "${configs[@]}"; do
    set -- ${c/:/ }
    ./crate bench --config "$1" --batch "$2" --threads "$threads" --warmup 3 --runs 5 --steps 3 --json 2>/dev/null \
      | sed 's/^{/{"impl":"java",/' >> "$log"
    ./crate bench --config "$1" --batch "$2" --threads "$threads" --warmup 3 --runs 5 --steps 3 --json --no-train \
      2>/dev/null | sed 's/^{/{"impl":"java-infer",/' >> "$log"   # inference's own peak RSS, beside ORT's
    for peer in LibtorchPeer OrtPeer; do
      "$java" --enable-native-access=ALL-UNNAMED -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        -Dorg.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils=error -cp "$cp" "ai.crate.peers.$peer" \
        --dir "$work/$1" --threads "$threads" --warmup 3 --runs 5 --steps 3 >> "$log"
    done
  done
done
/usr/bin/python3 benchmarks/peer/peers_table.py "$log"

#!/usr/bin/env bash
# A/B throughput of two builds of the command line in one sitting: `crate bench` of jar A (e.g. a copy of
# crate-cli/target/crate-cli.jar built from the commit before a change) and jar B (default: this tree's), alternating
# A, B, B, A per round so drift on a shared host falls on both. For "within N %" claims in BENCHMARKS.md.
# Usage: benchmarks/run-ab-bench.sh A.jar [B.jar] [rounds]   (presets and batches below; 2 threads)
#        AB_CONFIGS="fmnist-small 128 5;crate-tiny 16 3" benchmarks/run-ab-bench.sh A.jar   (other presets: preset batch runs)
# Writes benchmarks/results/ab-bench.jsonl and prints median train/inference img/s per preset and the B/A ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?usage: run-ab-bench.sh A.jar [B.jar] [rounds]}
b=${2:-crate-cli/target/crate-cli.jar}
rounds=${3:-2}
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
out=benchmarks/results
mkdir -p "$out"
log="$out/ab-bench.jsonl"
: > "$log"
# preset, batch, runs: the 224-px presets at small batches so a round stays within minutes on 2 cores
configs=("fmnist-small 128 5" "cifar-tiny 64 5" "crate-tiny 16 3" "crate-small 8 3" "crate-base 8 3" "crate-large 4 3")
[[ -n "${AB_CONFIGS:-}" ]] && IFS=';' read -ra configs <<< "$AB_CONFIGS"
bench() {   # jar label preset batch runs
  "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -jar "$1" bench \
    --config "$3" --batch "$4" --threads 2 --warmup 3 --runs "$5" --steps 3 --device cpu --json 2>/dev/null \
    | sed "s/^{/{\"build\":\"$2\",/" >> "$log"
}
for round in $(seq 1 "$rounds"); do
  for c in "${configs[@]}"; do
    set -- $c
    bench "$a" A "$1" "$2" "$3"; bench "$b" B "$1" "$2" "$3"; bench "$b" B "$1" "$2" "$3"; bench "$a" A "$1" "$2" "$3"
  done
done
/usr/bin/python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| preset | batch | train A | train B | B/A | inference A | inference B | B/A |")
print("|---|---|---|---|---|---|---|---|")
for cfg in dict.fromkeys(r["config"] for r in rows):
    def med(build, key):
        return statistics.median(r[key] for r in rows if r["config"] == cfg and r["build"] == build)
    ta, tb, ia, ib = med("A", "train_img_s"), med("B", "train_img_s"), med("A", "infer_img_s"), med("B", "infer_img_s")
    batch = next(r["batch"] for r in rows if r["config"] == cfg)
    print(f"| {cfg} | {batch} | {ta:.1f} | {tb:.1f} | {tb/ta:.3f} | {ia:.1f} | {ib:.1f} | {ib/ia:.3f} |")
PY

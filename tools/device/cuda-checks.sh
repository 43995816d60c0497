#!/usr/bin/env bash
# Every GPU check of the CUDA backend in one run, for a GPU host with no JDK, Maven or network (the device machine).
# Prepare here:   bash tools/device/pack-cuda.sh    (a JDK 25 runtime, the jars and test classes in .device/, < 64 MiB)
# Run there:      bash tools/device/cuda-checks.sh   (from the repository root; carry .device; writes to $OUT)
# Steps, each logged to $OUT/<step>.log and summarised at the end:
#   1. the backend contract on the GPU (every op vs the reference oracle) and the JCuda device tests;
#   2. PyTorch parity fixtures (CRATE, CRATE-MAE, optimizers) and 200 fmnist-small training steps vs SIMD on CUDA;
#   3. GEMM GFLOP/s: ours vs PyTorch's cuBLAS (fp32, TF32 off), same shapes, same timing rule;
#   4. train-step images/s: ./crate bench --device cuda (MSSA fused, and as batched GEMMs) vs
#      tools/pytorch/bench_crate.py --device cuda (eager fp32), cifar-tiny batch 128 and crate-tiny batch 64.
set -uo pipefail
OUT=${OUT:-/tmp/cuda-checks}
mkdir -p "$OUT"
run=".device/run.sh"
[ -x "$run" ] || { echo "no .device/run.sh: run ../shared/device/pack.sh first and carry .device" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
status=0
step() {   # step NAME COMMAND...: runs it, keeps the log, remembers failure
  local name=$1; shift
  local t0=$SECONDS
  if "$@" > "$OUT/$name.log" 2>&1; then echo "ok   $name ($((SECONDS - t0)) s)"; else echo "FAIL $name ($((SECONDS - t0)) s): $OUT/$name.log"; status=1; fi
}
step contract bash "$run" test --select-package ai.crate.cuda
step parity-and-training bash "$run" test --select-class ai.crate.model.CrateParityTest \
  --select-class ai.crate.model.CrateMaeParityTest --select-class ai.crate.model.optim.OptimizerParityTest \
  --select-class ai.crate.model.train.CudaTrainingTest
# JCublas 12.6 needs libcublas.so.12: PyTorch's CUDA 12 wheels carry one (nvidia-cublas-cu12); offer it if present
cublas_dir=$(python3 -c "import nvidia.cublas, os; print(os.path.join(os.path.dirname(nvidia.cublas.__file__), 'lib'))" 2>/dev/null || true)
step gemm-crate bash -c "LD_LIBRARY_PATH=${cublas_dir}:${LD_LIBRARY_PATH:-} bash $run java ai.crate.bench.CudaGemmBenchmark > $OUT/gemm-crate.jsonl"
step gemm-torch bash -c "python3 benchmarks/peer/gemm_peer_cuda.py > $OUT/gemm-torch.jsonl"
for cfg in "cifar-tiny 128" "crate-tiny 64"; do
  set -- $cfg
  step "bench-crate-$1" bash -c "bash $run java ai.crate.cli.CrateCli bench --device cuda --config $1 --batch $2 --json > $OUT/bench-crate-$1.json"
  # MSSA fused (the default) or as batched GEMMs: which is faster has to be measured here
  step "bench-crate-$1-mssa-gemm" bash -c "bash $run java -Dcrate.cuda.mssa=gemm ai.crate.cli.CrateCli bench --device cuda --config $1 --batch $2 --json > $OUT/bench-crate-$1-mssa-gemm.json"
  step "bench-torch-$1" bash -c "python3 tools/pytorch/bench_crate.py --device cuda --config $1 --batch $2 --json > $OUT/bench-torch-$1.json"
done
grep -h "tests successful\|tests failed\|tests skipped\|tests aborted" "$OUT"/contract.log "$OUT"/parity-and-training.log
python3 benchmarks/peer/cuda_table.py "$OUT" | tee "$OUT/tables.md"   # for BENCHMARKS.md
exit $status

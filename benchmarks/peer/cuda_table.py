"""Markdown tables of tools/device/cuda-checks.sh results (its $OUT folder), ready for BENCHMARKS.md: GEMM GFLOP/s of
ours beside PyTorch's cuBLAS (and JCublas where it loaded), and train/inference images/s of `crate bench --device
cuda` (MSSA fused and as GEMMs) beside PyTorch eager on the same GPU. Usage: python3 cuda_table.py OUT_DIR"""
import json
import os
import sys

out = sys.argv[1]


def lines(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip().startswith("{")]


gpu = open(os.path.join(out, "gpu.txt")).read().strip() if os.path.exists(os.path.join(out, "gpu.txt")) else "?"
print(f"GPU: {gpu}\n")

gemm = {}
for r in lines("gemm-crate.jsonl") + lines("gemm-torch.jsonl"):
    gemm.setdefault((r["shape"], r["trans"]), {})[r["impl"]] = r["gflops"]
print("| shape (B×M×K×N) | trans | ours GFLOP/s | PyTorch cuBLAS | ours / cuBLAS | JCublas |")
print("|---|---|---|---|---|---|")
for (shape, trans), m in gemm.items():
    ours, torch = m.get("crate"), m.get("torch-cublas")
    ratio = f"{ours / torch:.2f}" if ours and torch else "–"
    print(f"| {shape} | {trans} | {ours or '–'} | {torch or '–'} | {ratio} | {m.get('cublas-jcublas', '–')} |")

print("\n| model, batch | ours train img/s (MSSA fused) | ours (MSSA as GEMMs) | PyTorch eager | best × | "
      "ours infer img/s | PyTorch infer |")
print("|---|---|---|---|---|---|---|")
for config in ("cifar-tiny", "crate-tiny"):
    fused, gemm_path, torch = (lines(f"bench-{k}.json") for k in
                               (f"crate-{config}", f"crate-{config}-mssa-gemm", f"torch-{config}"))
    if not (fused or gemm_path or torch):
        continue
    f, g, t = (x[0] if x else {} for x in (fused, gemm_path, torch))
    best = max(f.get("train_img_s", 0), g.get("train_img_s", 0))
    ratio = f"{best / t['train_img_s']:.2f}" if best and t.get("train_img_s") else "–"
    batch = f.get("batch", t.get("batch", "?"))
    print(f"| {config}, {batch} | {f.get('train_img_s', '–')} | {g.get('train_img_s', '–')} | "
          f"{t.get('train_img_s', '–')} | {ratio} | {f.get('infer_img_s', '–')} | {t.get('infer_img_s', '–')} |")

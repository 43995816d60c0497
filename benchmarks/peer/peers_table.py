"""Markdown table of benchmarks/run-peers.sh results: per preset and batch, `crate bench` against libtorch (DJL) and
ONNX Runtime, images/s (median over rounds of each run's median), our speed-up over each, peak RSS of each process,
and the peers' logits error against PyTorch's (relative L2)."""
import statistics
import sys

from jsonl import by_preset, records

recs = records(sys.argv[1])
runtimes = {}
for r in recs:
    if r["impl"] != "java-infer":
        runtimes.setdefault(r["impl"], r.get("runtime", r.get("device", r["impl"])))
rows = by_preset(recs, ("train_img_s", "infer_img_s", "peak_rss_mb", "logits_rel_l2", "train_gflop_s"))

def med(m, impl, k):
    v = m[(impl, k)]
    return statistics.median(v) if v else float("nan")


print("| preset, batch | ours train img/s | libtorch train | ours ÷ libtorch | ours infer img/s | libtorch infer "
      "| ours ÷ libtorch | ORT infer | ours ÷ ORT | ours train GFLOP/s | peak RSS MB train + infer: ours / libtorch "
      "| peak RSS MB infer alone: ours / ORT "
      "| logits rel. L2 libtorch / ORT |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (config, batch), m in rows.items():
    jt, lt = med(m, "java", "train_img_s"), med(m, "libtorch", "train_img_s")
    ji, li, oi = med(m, "java", "infer_img_s"), med(m, "libtorch", "infer_img_s"), med(m, "onnxruntime", "infer_img_s")
    rss = lambda *impls: " / ".join(f"{max(m[(i, 'peak_rss_mb')], default=float('nan')):.0f}" for i in impls)
    err = " / ".join(f"{max(m[(i, 'logits_rel_l2')], default=float('nan')):.1e}" for i in ("libtorch", "onnxruntime"))
    print(f"| {config}, {batch} | {jt:.1f} | {lt:.1f} | {jt / lt:.2f}× | {ji:.1f} | {li:.1f} | {ji / li:.2f}× | {oi:.1f} "
          f"| {ji / oi:.2f}× | {med(m, 'java', 'train_gflop_s'):.0f} | {rss('java', 'libtorch')} "
          f"| {rss('java-infer', 'onnxruntime')} | {err} |")
print()
print("Runtimes: " + "; ".join(f"{k}: {v}" for k, v in runtimes.items()))

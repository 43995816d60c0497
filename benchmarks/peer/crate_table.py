"""Markdown table of benchmarks/run-crate-bench.sh results: per preset, Java and PyTorch images/s (median over
rounds of each run's median), the ratio, and peak memory."""
import statistics
import sys

from jsonl import by_preset, records

rows = by_preset(records(sys.argv[1]), ("train_img_s", "infer_img_s", "peak_rss_mb"))

def med(v):
    return statistics.median(v) if v else float("nan")

print("| preset | batch | Java train img/s | PyTorch train img/s | train × | Java infer img/s | PyTorch infer img/s "
      "| infer × | Java peak RSS MB | PyTorch peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (config, batch), m in rows.items():
    jt, pt = med(m[("java", "train_img_s")]), med(m[("pytorch", "train_img_s")])
    ji, pi = med(m[("java", "infer_img_s")]), med(m[("pytorch", "infer_img_s")])
    jr, pr = max(m[("java", "peak_rss_mb")], default=float("nan")), max(m[("pytorch", "peak_rss_mb")], default=float("nan"))
    print(f"| {config} | {batch} | {jt:.1f} | {pt:.1f} | {jt / pt:.2f} | {ji:.1f} | {pi:.1f} | {ji / pi:.2f} "
          f"| {jr:.0f} | {pr:.0f} |")

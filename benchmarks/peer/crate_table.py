"""Markdown table of benchmarks/run-crate-bench.sh results: per preset, Java and PyTorch images/s (median over
rounds of each run's median), the ratio, and peak memory."""
import json
import statistics
import sys
from collections import defaultdict

rows = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    key = (r["config"], r["batch"])
    for k in ("train_img_s", "infer_img_s", "peak_rss_mb"):
        if r.get(k) is not None:
            rows[key][(r["impl"], k)].append(r[k])

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

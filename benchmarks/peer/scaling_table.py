"""The token-scaling table of BENCHMARKS.md from benchmarks/results/token-scaling.jsonl (run-token-scaling.sh)."""
import json
import math
import sys


def slope(xs, ys):
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("| config | image | tokens | train img/s | inference img/s | attention fwd ms | attention fwd+bwd ms "
      "| peak RSS MB |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['config']} | {r['image_size']} | {r['tokens']} | {r['train_img_s']:.2f} | {r['infer_img_s']:.2f} "
          f"| {r['attention_fwd_ms']:.1f} | {r['attention_train_ms']:.1f} | {r['peak_rss_mb']:.0f} |")
print()
for config in dict.fromkeys(r["config"] for r in rows):
    rs = [r for r in rows if r["config"] == config]
    n = [r["tokens"] for r in rs]
    print(f"{config}: slopes of log time against log tokens: train step "
          f"{slope(n, [1 / r['train_img_s'] for r in rs]):.2f}, inference {slope(n, [1 / r['infer_img_s'] for r in rs]):.2f}, "
          f"attention fwd {slope(n, [r['attention_fwd_ms'] for r in rs]):.2f}, "
          f"attention fwd+bwd {slope(n, [r['attention_train_ms'] for r in rs]):.2f}")

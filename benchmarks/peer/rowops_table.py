#!/usr/bin/python3
"""Turns RowOpsBenchmark's JMH JSON files into the markdown table of BENCHMARKS.md: SIMD and reference µs per call.

Several files may be given (e.g. a SIMD-only re-run after a kernel change); a later file's rows replace earlier ones."""
import json
import sys


def main(*paths):
    res = {}
    for r in (row for path in paths for row in json.load(open(path))):
        op = r["benchmark"].rsplit(".", 1)[1]
        p = r["params"]
        res[(op, p["shape"], p["backend"])] = (r["primaryMetric"]["score"], r["primaryMetric"]["scoreError"])
    print("| op | rows x width | SIMD µs (±99.9%) | reference µs | reference / SIMD |")
    print("| --- | --- | --- | --- | --- |")
    for op, shape in sorted({(k[0], k[1]) for k in res}):
        s, se = res[(op, shape, "simd")]
        ref, _ = res[(op, shape, "reference")]
        print(f"| {op} | {shape} | {s:.0f} ± {se:.0f} | {ref:.0f} | {ref / s:.0f}× |")


if __name__ == "__main__":
    main(*sys.argv[1:])

#!/usr/bin/python3
"""Joins GemmBenchmark's JMH JSON with gemm_peer.py's JSON lines into the markdown table of BENCHMARKS.md.

Where the peer ran with several thread splits, the table keeps its best (median) figure and names the split.

Peak: 269 GFLOP/s per core of fp32 FMA on this machine (515 on two), as measured for the issue."""
import json
import sys

PEAK = {1: 269.0, 2: 515.0}


def main(jmh_path, *peer_paths):
    peer = {}
    for path in peer_paths:
        for line in open(path):
            r = json.loads(line)
            key = (r["shape"], r["threads"])
            if key not in peer or r["median_gflops"] > peer[key]["median_gflops"]:
                peer[key] = r  # the better of the thread splits

    rows = []
    for r in json.load(open(jmh_path)):
        gf = r["secondaryMetrics"].get("gflops")
        if gf is None:
            continue
        p = r["params"]
        shape, threads, trans = p["shape"], int(p["threads"]), p.get("trans", "NN")
        ours, err = gf["score"], gf["scoreError"]
        o = peer.get((shape, threads))
        blas = (o["median_gflops"], o.get("split", "blas")) if o and trans == "NN" else None
        rows.append((shape, threads, trans, ours, err, blas))
    print("| shape BxMxKxN | threads | op | ours GFLOP/s (±99.9%) | OpenBLAS GFLOP/s (split) | ours / OpenBLAS "
          "| ours % of peak |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for shape, threads, trans, ours, err, blas in rows:
        ratio = f"{ours / blas[0]:.2f}" if blas else "–"
        blas_s = f"{blas[0]:.0f} ({blas[1]})" if blas else "–"
        print(f"| {shape} | {threads} | {trans} | {ours:.0f} ± {err:.0f} | {blas_s} | {ratio} | "
              f"{100 * ours / PEAK[threads]:.0f} % |")


if __name__ == "__main__":
    main(*sys.argv[1:])

#!/usr/bin/python3
"""OpenBLAS SGEMM peer for GemmBenchmark: the same BxMxKxN shapes, GFLOP/s = 2·B·M·K·N / seconds.

Run with Debian's python3 and python3-torch (CPU, OpenBLAS), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset so
OpenBLAS picks its AVX-512 kernels:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 benchmarks/peer/gemm_peer.py --threads 2
Prints one line per shape: shape, threads, median and best GFLOP/s over the timed repetitions.

Threads: OpenBLAS keeps its own pool, sized by OPENBLAS_NUM_THREADS when the library loads; torch.bmm may also split
the batch across ATen's threads. --split blas (default) gives OpenBLAS all the threads and ATen one; --split batch
gives ATen the threads and OpenBLAS one, which suits many small matrices. The caller runs both and keeps the better.
"""
import argparse
import json
import os
import time

DEFAULT_SHAPES = ["256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048",
                  "1x3200x384x384", "1x12800x384x384", "1x6400x768x768", "96x200x64x200", "96x200x200x64"]


def parse(shape):
    dims = [int(d) for d in shape.split("x")]
    if len(dims) == 3:  # a square written MxKxN
        dims = [1] + dims
    return dims


def measure(shape, seconds):
    b, m, k, n = parse(shape)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(b, m, k, generator=gen)
    w = torch.randn(b, k, n, generator=gen)
    out = torch.empty(b, m, n)
    flops = 2.0 * b * m * k * n
    for _ in range(3):
        torch.bmm(a, w, out=out)
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        t = time.perf_counter()
        torch.bmm(a, w, out=out)
        times.append(time.perf_counter() - t)
    times.sort()
    return flops / times[len(times) // 2] / 1e9, flops / times[0] / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per shape")
    p.add_argument("--split", choices=["blas", "batch"], default="blas",
                   help="give the threads to OpenBLAS (blas) or to ATen's batch loop (batch)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("shapes", nargs="*", default=DEFAULT_SHAPES)
    args = p.parse_args()
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            raise SystemExit(f"{var} is set: OpenBLAS would not use its AVX-512 kernels; unset it for this command")
    blas_threads, aten_threads = (args.threads, 1) if args.split == "blas" else (1, args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(blas_threads)  # read when libopenblas loads, i.e. at import torch
    global torch
    import torch
    torch.set_num_threads(aten_threads)
    for shape in args.shapes:
        median, best = measure(shape, args.seconds)
        if args.json:
            print(json.dumps({"shape": shape, "threads": args.threads, "median_gflops": round(median, 1),
                              "best_gflops": round(best, 1), "split": args.split,
                              "peer": "torch-" + torch.__version__ + "/OpenBLAS"}))
        else:
            print(f"{shape:>16}  threads={args.threads} ({args.split})  median {median:7.1f}  best {best:7.1f} GFLOP/s")


if __name__ == "__main__":
    main()

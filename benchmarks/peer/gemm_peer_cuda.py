"""PyTorch's GEMM (cuBLAS) on a GPU in fp32 (TF32 off), the peer of ai.crate.bench.CudaGemmBenchmark.

Same shapes (BxMxKxN or MxKxN), same timing rule (calls between synchronisations until >= 0.5 s, best of three
after a warm-up), same JSON lines: {"shape", "trans", "impl": "torch-cublas", "gflops", "device"}.
Usage: python3 gemm_peer_cuda.py [--trans NN] SHAPE...
"""
import argparse
import json
import time

import torch


def best_seconds(call):
    for _ in range(3):
        call()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(3):
        calls, t0 = 0, time.perf_counter()
        while True:
            call()
            calls += 1
            if calls % 8 == 0:
                torch.cuda.synchronize()
                if time.perf_counter() - t0 >= 0.5:
                    break
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--trans", default="NN")
    p.add_argument("shapes", nargs="*", default=["1024x1024x1024", "2048x2048x2048", "4096x4096x4096",
                                                 "8192x8192x8192", "16640x384x384", "16640x384x1152",
                                                 "768x197x64x197", "768x197x197x64"])
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False   # fp32 products, as ours
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    ta, tb = args.trans[0] == "T", args.trans[1] == "T"
    for shape in args.shapes:
        d = [int(x) for x in shape.split("x")]
        b, m, k, n = ([1] + d) if len(d) == 3 else d
        g = torch.Generator(device=dev).manual_seed(1)
        a = torch.randn((b, k, m) if ta else (b, m, k), device=dev, generator=g)
        bb = torch.randn((b, n, k) if tb else (b, k, n), device=dev, generator=g)
        c = torch.empty((b, m, n), device=dev)
        opa = a.transpose(1, 2) if ta else a
        opb = bb.transpose(1, 2) if tb else bb
        sec = best_seconds(lambda: torch.matmul(opa, opb, out=c))
        print(json.dumps({"shape": shape, "trans": args.trans, "impl": "torch-cublas",
                          "gflops": round(2.0 * b * m * k * n / sec / 1e9, 1),
                          "device": torch.cuda.get_device_name(dev)}))


if __name__ == "__main__":
    main()

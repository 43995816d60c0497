"""PyTorch peer of the Java CRATE benchmark: train-step and inference throughput on random data, for the CRATE
presets (crate_torch.py), their ViT twins (vit_torch.py, timm's equations) and CRATE-α (crate_alpha_torch.py, the
official crate_alpha.py's equations) and ToST (tost_torch.py, tost.py's).

Run with Debian's python (torch 1.13 linked against OpenBLAS), with the OpenBLAS tuning variables of this
host removed so that OpenBLAS detects the CPU itself and runs at full speed:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/pytorch/bench_crate.py \
        --config fmnist-small --batch 128 --threads 2 --warmup 2 --runs 5 --json

A train step is forward + cross-entropy + backward + torch.optim.AdamW step (lr 1e-4, weight decay 0.05);
inference is a torch.no_grad() forward in eval mode. Each timed run does --steps steps; images/s is the
median over --runs runs of batch * steps / seconds (CUDA is synchronised before each clock reading).
Prints one JSON object with --json, a readable line otherwise:
{"config", "batch", "threads", "device", "train_img_s", "infer_img_s", "peak_rss_mb" (cpu) or
"peak_gpu_mb" (cuda), "torch_version", "blas", ...}.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crate_torch as ct  # noqa: E402
import crate_alpha_torch as at  # noqa: E402
import tost_torch as tt  # noqa: E402
import vit_torch as vt  # noqa: E402


def blas_info():
    """The BLAS library this process actually maps (after a matmul has loaded it), else torch's build string."""
    a = torch.randn(64, 64)
    a @ a
    libs = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path)
                if ("blas" in base or "mkl" in base) and base not in libs:
                    libs.append(base)
    except OSError:
        pass
    if libs:
        return ",".join(libs)
    for part in torch.__config__.show().replace("\n", ",").split(","):
        if "BLAS_INFO" in part:
            return part.strip()
    return "unknown"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_runs(fn, steps, runs, batch, device):
    rates = []
    for _ in range(runs):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync(device)
        rates.append(batch * steps / (time.perf_counter() - t0))
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="fmnist-small", choices=sorted(ct.PRESETS) + sorted(vt.PRESETS) + sorted(at.PRESETS) + sorted(tt.PRESETS))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps before each measurement")
    ap.add_argument("--runs", type=int, default=5, help="timed runs; the median is reported")
    ap.add_argument("--steps", type=int, default=3, help="steps per timed run")
    ap.add_argument("--pool", default=None, choices=["cls", "mean", "token", "avg"],
                    help="CRATE: cls (default) or mean; ViT: token (default) or avg")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-train", action="store_true", help="measure inference only")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"warning: {var}={os.environ[var]} is set; OpenBLAS may run below full speed "
                  f"(run under 'env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE')", file=sys.stderr)

    blas = blas_info()
    if "openblas" not in blas and "mkl" not in blas:
        print(f"warning: torch runs on {blas}, the reference BLAS (about 10x slower); install libopenblas0-pthread "
              f"for a fair peer", file=sys.stderr)
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError as e:  # only allowed once, before any parallel work
        print(f"warning: set_num_interop_threads: {e}", file=sys.stderr)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: CUDA is not available in this torch build")
    device = torch.device(args.device)
    torch.manual_seed(args.seed)

    if args.config in vt.PRESETS:
        cfg = vt.PRESETS[args.config]
        model = vt.build_preset(args.config, pool=args.pool or "token").to(device)
    elif args.config in at.PRESETS:
        cfg = at.PRESETS[args.config]
        model = at.build_preset(args.config).to(device)
    elif args.config in tt.PRESETS:
        cfg = tt.PRESETS[args.config]
        model = tt.build_preset(args.config).to(device)
    else:
        cfg = ct.PRESETS[args.config]
        model = ct.build_preset(args.config, pool=args.pool or "cls").to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    images = torch.randn(args.batch, cfg["channels"], cfg["image_size"], cfg["image_size"], device=device)
    labels = torch.randint(0, cfg["num_classes"], (args.batch,), device=device)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            model(images)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    train_rates = []
    if not args.no_train:
        model.train()
        for _ in range(args.warmup):
            train_step()
        train_rates = timed_runs(train_step, args.steps, args.runs, args.batch, device)

    model.eval()
    for _ in range(args.warmup):
        infer_step()
    infer_rates = timed_runs(infer_step, args.steps, args.runs, args.batch, device)

    result = {
        "config": args.config,
        "batch": args.batch,
        "threads": args.threads,
        "device": args.device,
        "train_img_s": round(statistics.median(train_rates), 2) if train_rates else None,
        "infer_img_s": round(statistics.median(infer_rates), 2),
    }
    if device.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
        result["gpu"] = torch.cuda.get_device_name(device)
    else:
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result.update({
        "torch_version": torch.__version__,
        "blas": blas,
        "params": sum(p.numel() for p in model.parameters()),
        "warmup": args.warmup,
        "runs": args.runs,
        "steps_per_run": args.steps,
        "train_img_s_runs": [round(r, 2) for r in train_rates],
        "infer_img_s_runs": [round(r, 2) for r in infer_rates],
        "openblas_env": {v: os.environ[v] for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ},
    })
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.config} batch {args.batch} threads {args.threads} {args.device}: "
              f"train {result['train_img_s']} img/s, infer {result['infer_img_s']} img/s "
              f"(torch {torch.__version__}, {result['blas']})")


if __name__ == "__main__":
    main()

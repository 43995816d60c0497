"""Exports a CRATE preset (crate_torch.py, the official model/crate.py op for op: three-GEMM ISTA, attention by
matmul + softmax) or its ViT twin (vit_torch.py, timm's equations) for the peer runtimes of benchmarks/run-peers.sh.

From one seeded random initialisation it writes, into OUT/CONFIG/:
  model.pt       traced TorchScript (torch.jit.trace; the models have no dropout or batch statistics, so the one
                 trace serves training on libtorch through DJL and inference alike)
  model.onnx     ONNX, opset 14, the batch axis dynamic (input 'images', output 'logits')
  input.f32      a seeded random batch [B, C, H, W], float32 little-endian
  logits.f32     PyTorch's eager logits of that batch [B, classes], the peers' parity reference
  meta.json      {"config", "batch", "channels", "image_size", "num_classes", "params", "torch_version"}

    /usr/bin/python3 tools/pytorch/export_peers.py --config fmnist-small --batch 128 --out runs/peers
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crate_torch as ct  # noqa: E402
import vit_torch as vt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, choices=sorted(ct.PRESETS) + sorted(vt.PRESETS))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="the folder that gets CONFIG/")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    if args.config in vt.PRESETS:
        cfg, model = vt.PRESETS[args.config], vt.build_preset(args.config)
    else:
        cfg, model = ct.PRESETS[args.config], ct.build_preset(args.config)
    model.eval()
    images = torch.randn(args.batch, cfg["channels"], cfg["image_size"], cfg["image_size"])
    with torch.no_grad():
        logits = model(images)

    out = os.path.join(args.out, args.config)
    os.makedirs(out, exist_ok=True)
    traced = torch.jit.trace(model, images[:1], check_inputs=[(images,)])
    traced.save(os.path.join(out, "model.pt"))
    torch.onnx.export(model, images[:1], os.path.join(out, "model.onnx"), opset_version=14,
                      input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    images.numpy().astype("<f4").tofile(os.path.join(out, "input.f32"))
    logits.numpy().astype("<f4").tofile(os.path.join(out, "logits.f32"))
    meta = dict(config=args.config, batch=args.batch, channels=cfg["channels"], image_size=cfg["image_size"],
                num_classes=cfg["num_classes"], params=sum(p.numel() for p in model.parameters()),
                seed=args.seed, torch_version=torch.__version__)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f)
    print(f"wrote {out}: model.pt, model.onnx, input.f32, logits.f32, meta.json ({meta['params']:,} parameters)")


if __name__ == "__main__":
    main()

"""Generate the ToST parity fixtures for crate-model's tests.

    /usr/bin/python3 tools/pytorch/gen_tost_fixtures.py [--out crate-model/src/test/resources/tost]

For each small config it writes, into the output folder:

  <name>.safetensors   every parameter under the official key (F32), ``images`` [B,C,H,W] F32, ``labels`` [B] I64,
                       ``logits`` [B,classes] F32, ``loss`` [] F32 (mean cross-entropy) and ``grad.<key>`` (F32)
                       for every parameter; ``__metadata__`` holds the config as strings. The oracle is computed in
                       float64 from the float32 weights and images, then rounded to F32.
  <name>.pth           torch.save(state_dict) as the official release files (zip format), the same float32 weights.

Seeded: rerunning reproduces the same numbers. After writing, every file is read back and checked (exact round
trip, an independent functional forward, float32 vs float64 agreement). Run with Debian's /usr/bin/python3.
"""

import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crate_torch as ct  # noqa: E402  (the safetensors writer/reader)
import tost_torch as tt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crate-model", "src", "test", "resources", "tost"))

CONFIGS = [
    # name, model config, batch, seed: a 3-convolution stem (patch 8) on RGB, a 4-convolution one (16) on grey
    ("tost_p8", dict(image_size=32, channels=3, patch_size=8, dim=24, heads=3, depth=2, num_classes=5), 3, 9753),
    ("tost_p16", dict(image_size=32, channels=1, patch_size=16, dim=32, heads=4, depth=2, num_classes=6), 4, 8642),
]
EXTRA = ("images", "labels", "logits", "loss", "train_logits")


def perturb(model, gen):
    """Every norm, bias, LayerScale, temperature and running statistic off its init."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.LayerNorm, nn.BatchNorm2d)):
                mod.weight.add_(0.1 * torch.randn(mod.weight.shape, generator=gen))
                mod.bias.add_(0.1 * torch.randn(mod.bias.shape, generator=gen))
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(0.2 * torch.randn(mod.running_mean.shape, generator=gen))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=gen))
                mod.num_batches_tracked.fill_(7)
            elif isinstance(mod, (nn.Linear, nn.Conv2d)) and mod.bias is not None:
                mod.bias.add_(0.1 * torch.randn(mod.bias.shape, generator=gen))
            if isinstance(mod, nn.Linear):   # timm's .02 init makes every branch tiny
                mod.weight.mul_(10.0)
        for name, p in model.named_parameters():
            if name.endswith(("gamma1", "gamma2", ".temp")):
                p.add_(0.3 * torch.randn(p.shape, generator=gen))
        model.cls_token.add_(torch.randn(model.cls_token.shape, generator=gen))


def metadata(cfg):
    return {
        "format": "tost",
        "image_size": str(cfg["image_size"]),
        "channels": str(cfg["channels"]),
        "patch_size": str(cfg["patch_size"]),
        "dim": str(cfg["dim"]),
        "depth": str(cfg["depth"]),
        "heads": str(cfg["heads"]),
        "num_classes": str(cfg["num_classes"]),
    }


def build(cfg):
    return tt.Tost(**cfg)


def generate(out_dir, name, cfg, batch, seed):
    torch.manual_seed(seed)
    model = build(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb(model, gen)
    c, s = cfg["channels"], cfg["image_size"]
    images = torch.rand(batch, c, s, s, generator=gen) * 2 - 1
    labels = torch.randint(0, cfg["num_classes"], (batch,), generator=gen)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state32 = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}

    model64 = build(cfg).double()
    model64.load_state_dict({k: (v.double() if v.is_floating_point() else v) for k, v in state32.items()}, strict=True)
    model64.eval()
    logits = model64(images.double())
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    tensors = dict(state32)
    tensors["images"] = images.float()
    tensors["labels"] = labels.long()
    tensors["logits"] = logits.detach().float()
    tensors["loss"] = loss.detach().float().reshape(())
    for k, p in model64.named_parameters():
        tensors["grad." + k] = p.grad.detach().float()
    model64.train()
    with torch.no_grad():
        tensors["train_logits"] = model64(images.double()).float()
    for k, v in model64.state_dict().items():
        if "running_" in k or "num_batches_tracked" in k:
            tensors["after." + k] = v.float() if v.is_floating_point() else v
    files = {"safetensors": os.path.join(out_dir, name + ".safetensors"), "pth": os.path.join(out_dir, name + ".pth")}
    ct.save_safetensors(files["safetensors"], tensors, metadata(cfg))
    torch.save(state32, files["pth"])
    return files, tensors


def check(name, cfg, files, written):
    loaded, meta = ct.load_safetensors(files["safetensors"])
    assert meta == metadata(cfg), (meta, metadata(cfg))
    assert list(loaded.keys()) == list(written.keys()), "tensor names or order differ"
    for k, v in written.items():
        assert torch.equal(loaded[k], v), f"{k} differs after the round trip"
    param_keys = [k for k in written if k not in EXTRA and not k.startswith(("grad.", "after."))]
    assert param_keys == list(build(cfg).state_dict().keys())
    pth = torch.load(files["pth"])
    for k in param_keys:
        assert torch.equal(pth[k], loaded[k]), k

    sd64 = {k: (loaded[k].double() if loaded[k].is_floating_point() else loaded[k]) for k in param_keys}
    model64 = build(cfg).double()
    model64.load_state_dict(sd64, strict=True)
    model64.eval()
    logits64 = model64(loaded["images"].double())
    fn = tt.functional_forward(sd64, loaded["images"].double(), cfg["patch_size"], cfg["heads"], cfg["depth"])
    assert (fn - logits64).abs().max().item() < 1e-12, "functional forward disagrees with the modules"
    assert torch.equal(logits64.detach().float(), loaded["logits"])
    F.cross_entropy(logits64, loaded["labels"]).backward()
    zero = [k for k, p in model64.named_parameters() if p.grad.abs().max().item() == 0]
    assert not zero, f"parameters with an all-zero gradient: {zero}"
    for k, p in model64.named_parameters():
        assert torch.equal(p.grad.float(), loaded["grad." + k]), k
    model32 = build(cfg)
    model32.load_state_dict({k: loaded[k] for k in param_keys}, strict=True)
    model32.eval()
    d = (model32(loaded["images"]).double() - logits64).abs().max().item()
    probs = torch.softmax(logits64, -1)
    moved = (loaded["train_logits"] - loaded["logits"]).abs().max().item()
    assert moved > 1e-2, "train-mode BatchNorm should change the logits"
    print(f"{name}: loss {F.cross_entropy(logits64, loaded['labels']).item():.6f}, |logits| max "
          f"{logits64.abs().max().item():.4f}, max prob {probs.max().item():.3f}; float32 vs float64 logits {d:.2e}")
    for path in files.values():
        print(f"  {os.path.basename(path)}: {os.path.getsize(path)} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name, cfg, batch, seed in CONFIGS:
        files, written = generate(args.out, name, cfg, batch, seed)
        check(name, cfg, files, written)
    print("all fixtures written and checked")


if __name__ == "__main__":
    main()

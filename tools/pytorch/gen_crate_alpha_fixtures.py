"""Generate the CRATE-α parity fixtures for crate-model's tests.

    /usr/bin/python3 tools/pytorch/gen_crate_alpha_fixtures.py [--out crate-model/src/test/resources/alpha]

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
import crate_alpha_torch as at  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crate-model", "src", "test", "resources", "alpha"))

CONFIGS = [
    # name, model config, batch, seed; the second has heads wider than dim/heads and 1 channel
    ("alpha_rgb", dict(image_size=12, channels=3, patch_size=4, dim=16, heads=2, depth=2, num_classes=5), 3, 1357),
    ("alpha_grey", dict(image_size=16, channels=1, patch_size=4, dim=12, heads=3, depth=3, num_classes=7, dim_head=6),
     4, 2468),
]


def perturb(model, gen):
    """Move every LayerNorm and bias off its init so tests exercise them; a wider head for logits of order one."""
    with torch.no_grad():
        model.mlp_head[1].weight.mul_(5.0)
        for mod in model.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.add_(0.1 * torch.randn(mod.weight.shape, generator=gen))
                mod.bias.add_(0.1 * torch.randn(mod.bias.shape, generator=gen))
            elif isinstance(mod, (nn.Linear, nn.Conv2d)) and mod.bias is not None:
                mod.bias.add_(0.1 * torch.randn(mod.bias.shape, generator=gen))


def metadata(cfg):
    return {
        "format": "crate-alpha",
        "image_size": str(cfg["image_size"]),
        "channels": str(cfg["channels"]),
        "patch_size": str(cfg["patch_size"]),
        "dim": str(cfg["dim"]),
        "depth": str(cfg["depth"]),
        "heads": str(cfg["heads"]),
        "head_dim": str(cfg.get("dim_head") or cfg["dim"] // cfg["heads"]),
        "overcomplete": "4",
        "num_classes": str(cfg["num_classes"]),
    }


def build(cfg):
    return at.CrateAlpha(**cfg)


def coding_rate(w, heads, eps=0.01):
    """R^c of one image's head features w [n, h*p]: each head's rows scaled to unit length, 1/2 sum logdet."""
    n, width = w.shape
    p = width // heads
    total = 0.0
    for k in range(heads):
        x = torch.nn.functional.normalize(w[:, k * p:(k + 1) * p], dim=1)
        total += torch.logdet(torch.eye(p, dtype=w.dtype) + (p / (n * eps)) * x.t() @ x).item()
    return 0.5 * total


def measures(model, images, heads):
    """Per layer and image: the coding rate of W = LN(z) U^T and the share of exact zeros in the code a2."""
    feats, codes = [], []
    hooks = []
    for attn, ff in model.transformer.layers:
        hooks.append(attn.fn.qkv.register_forward_hook(lambda m, i, o: feats.append(o.detach())))
        hooks.append(ff.fn.register_forward_hook(lambda m, i, o: codes.append(m.codes(i[0])[1].detach())))
    with torch.no_grad():
        model(images)
    for h in hooks:
        h.remove()
    rate = torch.tensor([[coding_rate(w[b], heads) for b in range(w.shape[0])] for w in feats], dtype=torch.float64)
    zeros = torch.stack([(a == 0).double().mean(dim=(1, 2)) for a in codes])
    return rate, zeros


def generate(out_dir, name, cfg, batch, seed):
    torch.manual_seed(seed)
    model = build(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb(model, gen)
    c, s = cfg["channels"], cfg["image_size"]
    images = torch.rand(batch, c, s, s, generator=gen) * 2 - 1
    labels = torch.randint(0, cfg["num_classes"], (batch,), generator=gen)
    state32 = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    model64 = build(cfg).double()
    model64.load_state_dict({k: v.double() for k, v in state32.items()}, strict=True)
    logits = model64(images.double())
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    tensors = dict(state32)
    tensors["images"] = images.float()
    tensors["labels"] = labels.long()
    tensors["logits"] = logits.detach().float()
    tensors["loss"] = loss.detach().float().reshape(())
    rate, zeros = measures(model64, images.double(), cfg["heads"])
    tensors["coding_rate"] = rate.float()
    tensors["sparsity"] = zeros.float()
    for k, p in model64.named_parameters():
        tensors["grad." + k] = p.grad.detach().float()
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
    param_keys = [k for k in written if k not in ("images", "labels", "logits", "loss", "coding_rate", "sparsity")
                  and not k.startswith("grad.")]
    assert param_keys == list(build(cfg).state_dict().keys())
    pth = torch.load(files["pth"])
    for k in param_keys:
        assert torch.equal(pth[k], loaded[k]), k

    sd64 = {k: loaded[k].double() for k in param_keys}
    model64 = build(cfg).double()
    model64.load_state_dict(sd64, strict=True)
    logits64 = model64(loaded["images"].double())
    fn = at.functional_forward(sd64, loaded["images"].double(), cfg["patch_size"], cfg["heads"], cfg["depth"])
    assert (fn - logits64).abs().max().item() < 1e-12, "functional forward disagrees with the modules"
    assert torch.equal(logits64.detach().float(), loaded["logits"])
    F.cross_entropy(logits64, loaded["labels"]).backward()
    zero = [k for k, p in model64.named_parameters() if p.grad.abs().max().item() == 0]
    assert not zero, f"parameters with an all-zero gradient: {zero}"
    for k, p in model64.named_parameters():
        assert torch.equal(p.grad.float(), loaded["grad." + k]), k
    model32 = build(cfg)
    model32.load_state_dict({k: loaded[k] for k in param_keys}, strict=True)
    d = (model32(loaded["images"]).double() - logits64).abs().max().item()
    probs = torch.softmax(logits64, -1)
    print(f"{name}: code a2 zeros per layer {loaded['sparsity'].mean(1).tolist()}, coding rate "
          f"{loaded['coding_rate'].mean(1).tolist()}")
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

"""Generate the PyTorch parity fixtures for crate-model's tests.

    /usr/bin/python3 tools/pytorch/gen_parity_fixtures.py [--out crate-model/src/test/resources/parity]

For each small config it writes, into the output folder:

  <name>.safetensors   every parameter under its official key (F32), ``images`` [B,C,H,W] F32, ``labels`` [B] I64,
                       ``logits`` [B,classes] F32, ``loss`` [] F32 (mean cross-entropy, no label smoothing) and
                       ``grad.<key>`` (F32) for every parameter; ``__metadata__`` holds the config as strings.
                       The oracle is computed in float64 from the float32 weights and images, then rounded to F32.
  <name>.pth           torch.save(state_dict) of the same float32 weights (zip format).
  <name>.checkpoint.pth.tar   (config A only) a training checkpoint as the official training script writes it:
                       {'epoch', 'arch', 'state_dict' with 'module.' prefixes, 'best_acc1', 'optimizer', 'scheduler'},
                       taken after two AdamW steps; the other files of config A hold these final weights.

Everything is seeded, so rerunning reproduces the same numbers. After writing, the script reads every file
back and checks it (exact round trip, independent functional forward, float32 vs float64 agreement).
Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""

import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crate_torch as ct  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crate-model", "src", "test", "resources", "parity"))

CONFIGS = [
    # name, model config, batch, seed, AdamW steps before the fixture (and a training checkpoint if > 0)
    ("parity_a", dict(image_size=12, channels=1, patch_size=4, dim=24, heads=3, depth=3, num_classes=5, pool="cls"),
     4, 1234, 2),
    ("parity_b", dict(image_size=16, channels=3, patch_size=4, dim=32, heads=4, depth=3, num_classes=7, pool="mean"),
     3, 5678, 0),
]

ETA = 0.1
LAMBD = 0.1


def perturb(model, gen):
    """Move every LayerNorm weight/bias and every Linear bias off its default so that tests exercise them."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.add_(0.1 * torch.randn(mod.weight.shape, generator=gen))
                mod.bias.add_(0.1 * torch.randn(mod.bias.shape, generator=gen))
            elif isinstance(mod, nn.Linear) and mod.bias is not None:
                mod.bias.add_(0.1 * torch.randn(mod.bias.shape, generator=gen))


def random_batch(cfg, batch, gen):
    c, s = cfg["channels"], cfg["image_size"]
    images = torch.rand(batch, c, s, s, generator=gen) * 2 - 1
    labels = torch.randint(0, cfg["num_classes"], (batch,), generator=gen)
    return images, labels


def metadata(cfg):
    return {
        "format": "crate",
        "image_size": str(cfg["image_size"]),
        "channels": str(cfg["channels"]),
        "patch_size": str(cfg["patch_size"]),
        "dim": str(cfg["dim"]),
        "depth": str(cfg["depth"]),
        "heads": str(cfg["heads"]),
        "pool": cfg["pool"],
        "eta": repr(ETA),
        "lambda": repr(LAMBD),
        "num_classes": str(cfg["num_classes"]),
    }


def oracle(model32, images32, labels):
    """Logits, loss and parameter gradients in float64 from the float32 weights and images."""
    model64 = ct.CRATE(eta=ETA, lambd=LAMBD, **model32.config_kwargs).double()
    model64.load_state_dict({k: v.double() for k, v in model32.state_dict().items()}, strict=True)
    model64.zero_grad(set_to_none=True)
    logits = model64(images32.double())
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in model64.named_parameters()}
    missing = [k for k, p in model64.named_parameters() if p.grad is None]
    assert not missing, missing
    return model64, logits.detach(), loss.detach(), grads


def generate(out_dir, name, cfg, batch, seed, adam_steps):
    torch.manual_seed(seed)  # the official init draws from the global generator
    model = ct.CRATE(eta=ETA, lambd=LAMBD, **cfg)
    model.config_kwargs = dict(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb(model, gen)

    files = {}
    if adam_steps > 0:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        for _ in range(adam_steps):
            x, y = random_batch(cfg, batch, gen)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
            sched.step()
        model.zero_grad(set_to_none=True)
        ckpt = {
            "epoch": 3,
            "arch": "CRATE_fixture",
            "state_dict": {"module." + k: v.detach().clone() for k, v in model.state_dict().items()},
            "best_acc1": 12.5,
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
        }
        path = os.path.join(out_dir, name + ".checkpoint.pth.tar")
        torch.save(ckpt, path)
        files["checkpoint"] = path

    # the fixture batch comes after any training batches, from the same generator
    images, labels = random_batch(cfg, batch, gen)
    state32 = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    _, logits, loss, grads = oracle(model, images, labels)

    tensors = dict(state32)
    tensors["images"] = images.float()
    tensors["labels"] = labels.long()
    tensors["logits"] = logits.float()
    tensors["loss"] = loss.float().reshape(())
    for k in state32:
        tensors["grad." + k] = grads[k].float()
    path = os.path.join(out_dir, name + ".safetensors")
    ct.save_safetensors(path, tensors, metadata(cfg))
    files["safetensors"] = path

    path = os.path.join(out_dir, name + ".pth")
    torch.save(state32, path)
    files["pth"] = path
    return files, tensors


def check(name, cfg, files, written):
    """Read every file back and compare; also cross-check the oracle independently."""
    loaded, meta = ct.load_safetensors(files["safetensors"])
    assert meta == metadata(cfg), (meta, metadata(cfg))
    assert list(loaded.keys()) == list(written.keys()), "tensor names or order differ"
    for k, v in written.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape, k
        assert torch.equal(loaded[k], v), f"{k} differs after the round trip"

    param_keys = [k for k in written if k not in ("images", "labels", "logits", "loss")
                  and not k.startswith("grad.")]
    model = ct.CRATE(eta=ETA, lambd=LAMBD, **cfg)
    assert param_keys == list(model.state_dict().keys()), "parameter keys differ from the model's"

    # .pth: plain state_dict, loads strictly and equals the safetensors weights
    sd = torch.load(files["pth"])
    model.load_state_dict(sd, strict=True)
    for k in param_keys:
        assert torch.equal(sd[k], loaded[k]), k

    if "checkpoint" in files:
        ck = torch.load(files["checkpoint"])
        assert ck["epoch"] == 3 and ck["arch"] == "CRATE_fixture" and ck["best_acc1"] == 12.5
        stripped = {k[len("module."):]: v for k, v in ck["state_dict"].items()}
        for k in param_keys:
            assert torch.equal(stripped[k], loaded[k]), f"checkpoint {k} is not the fixture's weight"

    # oracle again, from what was read back: the float64 module forward and an independent functional forward
    sd64 = {k: loaded[k].double() for k in param_keys}
    images64 = loaded["images"].double()
    labels = loaded["labels"]
    model64 = ct.CRATE(eta=ETA, lambd=LAMBD, **cfg).double()
    model64.load_state_dict(sd64, strict=True)
    logits64 = model64(images64)
    loss64 = F.cross_entropy(logits64, labels)
    loss64.backward()
    fn_logits = ct.functional_forward(sd64, images64, cfg["patch_size"], cfg["heads"], cfg["depth"], cfg["pool"],
                                      ETA, LAMBD)
    assert (fn_logits - logits64).abs().max().item() < 1e-12, "functional forward disagrees with the modules"
    assert torch.equal(logits64.detach().float(), loaded["logits"])
    assert torch.equal(loss64.detach().float(), loaded["loss"])
    grad_max = 0.0
    for k, p in model64.named_parameters():
        assert torch.equal(p.grad.float(), loaded["grad." + k]), f"grad.{k}"
        grad_max = max(grad_max, p.grad.abs().max().item())

    # how far float32 arithmetic lands from the float64 oracle (a hint for the Java tolerances)
    model32 = ct.CRATE(eta=ETA, lambd=LAMBD, **cfg)
    model32.load_state_dict({k: loaded[k] for k in param_keys}, strict=True)
    logits32 = model32(loaded["images"])
    loss32 = F.cross_entropy(logits32, labels)
    loss32.backward()
    d_logits = (logits32.double() - logits64).abs().max().item()
    d_grad = max((p.grad.double() - model64.get_parameter(k).grad).abs().max().item()
                 for k, p in model32.named_parameters())
    # a relative check of the gradients too: none of them may be all zero (every parameter is exercised)
    zero = [k for k, p in model64.named_parameters() if p.grad.abs().max().item() == 0]
    assert not zero, f"parameters with an all-zero gradient: {zero}"
    print(f"{name}: loss {loss64.item():.6f}, |logits| max {logits64.abs().max().item():.4f}, "
          f"|grad| max {grad_max:.4f}; float32 vs float64: logits {d_logits:.2e}, grads {d_grad:.2e}")
    for kind, path in sorted(files.items()):
        print(f"  {os.path.basename(path)}: {os.path.getsize(path)} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # deterministic reductions
    for name, cfg, batch, seed, steps in CONFIGS:
        files, written = generate(args.out, name, cfg, batch, seed, steps)
        check(name, cfg, files, written)
    print("all fixtures written and checked")


if __name__ == "__main__":
    main()

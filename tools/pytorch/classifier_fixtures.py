"""What the classifier fixture generators (ViT, CRATE-α, ToST) share: seeded weights and inputs, a float64 oracle of
the logits, the mean cross-entropy and every parameter gradient, the files written (safetensors with the config in
its metadata, and a .pth as the official releases ship them), then everything read back and checked again: an exact
round trip, an independent functional forward, no parameter without gradient, float32 against float64.

A generator describes its model with a ``Spec`` and calls ``main``. Run with Debian's /usr/bin/python3 (torch 1.13).
"""

import argparse
import os
from dataclasses import dataclass
from typing import Callable, Tuple

import torch
import torch.nn.functional as F
from torch import nn

import crate_torch as ct

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = ("images", "labels", "logits", "loss")


def resources(folder):
    """crate-model's test resources folder of that name."""
    return os.path.normpath(os.path.join(HERE, "..", "..", "crate-model", "src", "test", "resources", folder))


def as_double(state):
    return {k: (v.double() if v.is_floating_point() else v) for k, v in state.items()}


def perturb_layers(model, gen, linear_gain=1.0):
    """Every LayerNorm's and BatchNorm's affine and every bias 0.1·N(0, 1) off its init, BatchNorm's running mean and
    variance set to N(0, 0.04) and U(0.5, 1.5) with 7 batches counted, Linear weights times ``linear_gain``; called
    inside ``torch.no_grad()``. The draws come in module order, so a fixture is a function of its seed."""
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
        if isinstance(mod, nn.Linear) and linear_gain != 1.0:
            mod.weight.mul_(linear_gain)


@dataclass
class Spec:
    build: Callable            # cfg -> module
    perturb: Callable          # (module, generator) -> None: norms, biases... off their init
    metadata: Callable         # cfg -> {str: str}
    functional: Callable       # (state_dict64, images64, cfg) -> logits64, by other means than the modules
    pth: Callable = lambda state: state             # state32 -> what torch.save writes
    pth_state: Callable = lambda obj: obj           # what torch.load returns -> {our key: tensor}
    eval_mode: bool = False                         # the oracle in model.eval() (BatchNorm on running statistics)
    extras: Callable = None                         # (model64, images64, cfg) -> {key: tensor}, more to store
    extra_keys: Tuple[str, ...] = ()                # their names (and prefixes, ending in ".") for the checks
    notes: Callable = None                          # (loaded) -> a line printed after the checks


def _is_extra(spec, key):
    return key in INPUTS or key.startswith("grad.") or any(
        key.startswith(e) if e.endswith(".") else key == e for e in spec.extra_keys)


def _model64(spec, cfg, state):
    model = spec.build(cfg).double()
    model.load_state_dict(as_double(state), strict=True)
    if spec.eval_mode:
        model.eval()
    return model


def generate(out_dir, name, cfg, batch, seed, spec):
    torch.manual_seed(seed)
    model = spec.build(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    spec.perturb(model, gen)
    c, s = cfg["channels"], cfg["image_size"]
    images = torch.rand(batch, c, s, s, generator=gen) * 2 - 1
    labels = torch.randint(0, cfg["num_classes"], (batch,), generator=gen)
    state32 = {k: (v.detach().clone().float() if v.is_floating_point() else v.detach().clone())
               for k, v in model.state_dict().items()}

    model64 = _model64(spec, cfg, state32)
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
    if spec.extras:     # after the gradients: an extra may run the model again (ToST's train-mode pass)
        tensors.update(spec.extras(model64, images.double(), cfg))
    files = {"safetensors": os.path.join(out_dir, name + ".safetensors"), "pth": os.path.join(out_dir, name + ".pth")}
    ct.save_safetensors(files["safetensors"], tensors, spec.metadata(cfg))
    torch.save(spec.pth(state32), files["pth"])
    return files, tensors


def check(name, cfg, files, written, spec):
    loaded, meta = ct.load_safetensors(files["safetensors"])
    assert meta == spec.metadata(cfg), (meta, spec.metadata(cfg))
    assert list(loaded.keys()) == list(written.keys()), "tensor names or order differ"
    for k, v in written.items():
        assert torch.equal(loaded[k], v), f"{k} differs after the round trip"
    param_keys = [k for k in written if not _is_extra(spec, k)]
    assert param_keys == list(spec.build(cfg).state_dict().keys())
    pth = spec.pth_state(torch.load(files["pth"]))
    for k in param_keys:
        assert torch.equal(pth[k], loaded[k]), k

    model64 = _model64(spec, cfg, {k: loaded[k] for k in param_keys})
    logits64 = model64(loaded["images"].double())
    fn = spec.functional(as_double({k: loaded[k] for k in param_keys}), loaded["images"].double(), cfg)
    assert (fn - logits64).abs().max().item() < 1e-12, "functional forward disagrees with the modules"
    assert torch.equal(logits64.detach().float(), loaded["logits"])
    F.cross_entropy(logits64, loaded["labels"]).backward()
    zero = [k for k, p in model64.named_parameters() if p.grad.abs().max().item() == 0]
    assert not zero, f"parameters with an all-zero gradient: {zero}"
    for k, p in model64.named_parameters():
        assert torch.equal(p.grad.float(), loaded["grad." + k]), k
    model32 = spec.build(cfg)
    model32.load_state_dict({k: loaded[k] for k in param_keys}, strict=True)
    if spec.eval_mode:
        model32.eval()
    d = (model32(loaded["images"]).double() - logits64).abs().max().item()
    probs = torch.softmax(logits64, -1)
    if spec.notes:
        print(f"{name}: {spec.notes(loaded)}")
    print(f"{name}: loss {F.cross_entropy(logits64, loaded['labels']).item():.6f}, |logits| max "
          f"{logits64.abs().max().item():.4f}, max prob {probs.max().item():.3f}; float32 vs float64 logits {d:.2e}")
    for path in files.values():
        print(f"  {os.path.basename(path)}: {os.path.getsize(path)} bytes")


def main(doc, default_out, configs, spec):
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name, cfg, batch, seed in configs:
        files, written = generate(args.out, name, cfg, batch, seed, spec)
        check(name, cfg, files, written, spec)
    print("all fixtures written and checked")

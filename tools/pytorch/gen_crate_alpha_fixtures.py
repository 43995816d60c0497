"""Generate the CRATE-α parity fixtures for crate-model's tests.

    /usr/bin/python3 tools/pytorch/gen_crate_alpha_fixtures.py [--out crate-model/src/test/resources/alpha]

For each small config it writes, into the output folder:

  <name>.safetensors   every parameter under the official key (F32), ``images`` [B,C,H,W] F32, ``labels`` [B] I64,
                       ``logits`` [B,classes] F32, ``loss`` [] F32 (mean cross-entropy) and ``grad.<key>`` (F32)
                       for every parameter, ``coding_rate`` and ``sparsity`` [layers, B] (the coding rate of W and
                       the share of zeros of the code a2, per layer and image); ``__metadata__`` holds the config. The oracle is computed in
                       float64 from the float32 weights and images, then rounded to F32.
  <name>.pth           torch.save(state_dict) as the official release files (zip format), the same float32 weights.

Seeded: rerunning reproduces the same numbers. After writing, every file is read back and checked (exact round
trip, an independent functional forward, float32 vs float64 agreement; classifier_fixtures.py). Run with Debian's
/usr/bin/python3.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classifier_fixtures as cf  # noqa: E402
import crate_alpha_torch as at  # noqa: E402

CONFIGS = [
    # name, model config, batch, seed; the second has heads wider than dim/heads and 1 channel
    ("alpha_rgb", dict(image_size=12, channels=3, patch_size=4, dim=16, heads=2, depth=2, num_classes=5), 3, 1357),
    ("alpha_grey", dict(image_size=16, channels=1, patch_size=4, dim=12, heads=3, depth=3, num_classes=7, dim_head=6),
     4, 2468),
]


def perturb(model, gen):
    """Norms and biases off their init so tests exercise them; a wider head for logits of order one."""
    with torch.no_grad():
        model.mlp_head[1].weight.mul_(5.0)
        cf.perturb_layers(model, gen)


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


def coding_rate(w, heads, eps=0.01):
    """R^c of one image's head features w [n, h*p]: each head's rows scaled to unit length, 1/2 sum logdet."""
    n, width = w.shape
    p = width // heads
    total = 0.0
    for k in range(heads):
        x = torch.nn.functional.normalize(w[:, k * p:(k + 1) * p], dim=1)
        total += torch.logdet(torch.eye(p, dtype=w.dtype) + (p / (n * eps)) * x.t() @ x).item()
    return 0.5 * total


def measures(model, images, cfg):
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
    rate = torch.tensor([[coding_rate(w[b], cfg["heads"]) for b in range(w.shape[0])] for w in feats], dtype=torch.float64)
    zeros = torch.stack([(a == 0).double().mean(dim=(1, 2)) for a in codes])
    return {"coding_rate": rate.float(), "sparsity": zeros.float()}


SPEC = cf.Spec(
    build=lambda cfg: at.CrateAlpha(**cfg),
    perturb=perturb,
    metadata=metadata,
    functional=lambda sd, images, cfg: at.functional_forward(sd, images, cfg["patch_size"], cfg["heads"], cfg["depth"]),
    extras=measures,
    extra_keys=("coding_rate", "sparsity"),
    notes=lambda t: f"code a2 zeros per layer {t['sparsity'].mean(1).tolist()}, coding rate "
                    f"{t['coding_rate'].mean(1).tolist()}",
)

if __name__ == "__main__":
    cf.main(__doc__, cf.resources("alpha"), CONFIGS, SPEC)

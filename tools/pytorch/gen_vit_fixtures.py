"""Generate the ViT parity fixtures for crate-model's tests.

    /usr/bin/python3 tools/pytorch/gen_vit_fixtures.py [--out crate-model/src/test/resources/vit]

For each small config it writes, into the output folder:

  <name>.safetensors   every parameter under timm's key (F32), ``images`` [B,C,H,W] F32, ``labels`` [B] I64,
                       ``logits`` [B,classes] F32, ``loss`` [] F32 (mean cross-entropy) and ``grad.<key>`` (F32)
                       for every parameter; ``__metadata__`` holds the config as strings. The oracle is computed in
                       float64 from the float32 weights and images, then rounded to F32.
  <name>.pth           a DeiT-style release file: torch.save({'model': state_dict}) with DataParallel's 'module.'
                       prefix on every key (zip format), the same float32 weights.

Seeded: rerunning reproduces the same numbers. After writing, every file is read back and checked (exact round
trip, an independent functional forward, float32 vs float64 agreement; classifier_fixtures.py). Run with Debian's
/usr/bin/python3.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classifier_fixtures as cf  # noqa: E402
import vit_torch as vt  # noqa: E402

CONFIGS = [
    # name, model config, batch, seed
    ("vit_token", dict(image_size=12, channels=1, patch_size=4, dim=24, heads=3, depth=2, num_classes=5,
                       pool="token"), 4, 4321),
    ("vit_avg", dict(image_size=16, channels=3, patch_size=4, dim=32, heads=4, depth=2, num_classes=7,
                     mlp_dim=48, pool="avg"), 3, 8765),
]


def perturb(model, gen):
    """Norms and biases off their init (timm's .02 init makes every branch tiny: Linear weights ×10 give attention some
    contrast), and the near-zero cls token and positions off zero, so tests exercise them."""
    with torch.no_grad():
        cf.perturb_layers(model, gen, linear_gain=10.0)
        model.cls_token.add_(torch.randn(model.cls_token.shape, generator=gen))
        model.pos_embed.add_(0.5 * torch.randn(model.pos_embed.shape, generator=gen))


def metadata(cfg):
    return {
        "format": "vit",
        "image_size": str(cfg["image_size"]),
        "channels": str(cfg["channels"]),
        "patch_size": str(cfg["patch_size"]),
        "dim": str(cfg["dim"]),
        "depth": str(cfg["depth"]),
        "heads": str(cfg["heads"]),
        "mlp_dim": str(cfg.get("mlp_dim") or 4 * cfg["dim"]),
        "pool": "cls" if cfg["pool"] == "token" else "avg",
        "num_classes": str(cfg["num_classes"]),
    }


SPEC = cf.Spec(
    build=lambda cfg: vt.VisionTransformer(**cfg),
    perturb=perturb,
    metadata=metadata,
    functional=lambda sd, images, cfg: vt.functional_forward(sd, images, cfg["patch_size"], cfg["heads"], cfg["depth"],
                                                             cfg["pool"]),
    pth=lambda state: {"model": {"module." + k: v for k, v in state.items()}},
    pth_state=lambda obj: {k[len("module."):]: v for k, v in obj["model"].items()},
)

if __name__ == "__main__":
    cf.main(__doc__, cf.resources("vit"), CONFIGS, SPEC)

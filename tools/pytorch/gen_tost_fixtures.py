"""Generate the ToST parity fixtures for crate-model's tests.

    /usr/bin/python3 tools/pytorch/gen_tost_fixtures.py [--out crate-model/src/test/resources/tost]

For each small config it writes, into the output folder:

  <name>.safetensors   every parameter and buffer under the official key (F32; ``num_batches_tracked`` I64),
                       ``images`` [B,C,H,W] F32, ``labels`` [B] I64, ``logits`` [B,classes] F32 and ``loss`` [] F32
                       (mean cross-entropy) of the model in eval mode (BatchNorm on its running statistics, set off
                       their init), ``grad.<key>`` (F32) of that forward for every parameter, ``pi`` [depth, B,
                       h, N] (each block's membership Π) and ``cls_attention`` [2, B, h, N], then ``train_logits``
                       (a train-mode forward: batch statistics) and ``after.<key>`` (the running statistics and
                       counts that forward leaves); ``__metadata__`` holds the config as strings. The oracle is computed in
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
import tost_torch as tt  # noqa: E402

CONFIGS = [
    # name, model config, batch, seed: a 3-convolution stem (patch 8) on RGB, a 4-convolution one (16) on grey
    ("tost_p8", dict(image_size=32, channels=3, patch_size=8, dim=24, heads=3, depth=2, num_classes=5), 3, 9753),
    ("tost_p16", dict(image_size=32, channels=1, patch_size=16, dim=32, heads=4, depth=2, num_classes=6), 4, 8642),
]
def perturb(model, gen):
    """Every norm, bias, running statistic, LayerScale and temperature off its init (Linear weights ×10: timm's .02
    init makes every branch tiny)."""
    with torch.no_grad():
        cf.perturb_layers(model, gen, linear_gain=10.0)
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


def maps(model64, images):
    """The white-box maps in eval mode: each TSSA block's membership Π of its input [depth, B, h, N] and each
    class-attention block's CLS attention over the patches [2, B, h, N]."""
    inputs, cls = [], []
    hooks = [b.register_forward_pre_hook(lambda m, a: inputs.append(a[0].detach())) for b in model64.blocks]
    hooks += [b.register_forward_pre_hook(lambda m, a: cls.append(a[0].detach())) for b in model64.cls_attn_blocks]
    with torch.no_grad():
        model64(images)
        pi = torch.stack([b.attn.membership(b.norm1(x))[1] for b, x in zip(model64.blocks, inputs)])
        attn = []
        for b, x in zip(model64.cls_attn_blocks, cls):
            y = b.norm1(x)
            n, c = y.shape[1], y.shape[2]
            qkv = b.attn.qkv(y).reshape(y.shape[0], n, 3, b.attn.heads, c // b.attn.heads).permute(2, 0, 3, 1, 4)
            a = ((qkv[0][:, :, 0:1] * qkv[1]).sum(-1) * b.attn.scale).softmax(-1)
            attn.append(a[:, :, 1:])
    for h in hooks:
        h.remove()
    return {"pi": pi.float(), "cls_attention": torch.stack(attn).float()}


def train_mode_pass(model64, images, cfg):
    """The eval-mode maps, then a train-mode forward: its logits and the running statistics and counts it leaves."""
    out = maps(model64, images)
    model64.train()
    with torch.no_grad():
        out["train_logits"] = model64(images).float()
    for k, v in model64.state_dict().items():
        if "running_" in k or "num_batches_tracked" in k:
            out["after." + k] = v.float() if v.is_floating_point() else v
    model64.eval()
    return out


SPEC = cf.Spec(
    build=lambda cfg: tt.Tost(**cfg),
    perturb=perturb,
    metadata=metadata,
    functional=lambda sd, images, cfg: tt.functional_forward(sd, images, cfg["patch_size"], cfg["heads"], cfg["depth"]),
    eval_mode=True,
    extras=train_mode_pass,
    extra_keys=("pi", "cls_attention", "train_logits", "after."),
    notes=lambda t: f"train-mode logits move by {(t['train_logits'] - t['logits']).abs().max().item():.3f}",
)

if __name__ == "__main__":
    cf.main(__doc__, cf.resources("tost"), CONFIGS, SPEC)

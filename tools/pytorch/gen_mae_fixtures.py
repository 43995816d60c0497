"""Generate the CRATE-MAE fixtures for crate-model's tests.

    /usr/bin/python3 tools/pytorch/gen_mae_fixtures.py [--out crate-model/src/test/resources/mae]

For each small config it writes <name>.safetensors holding (all F32):
  every state_dict tensor under its key, ``images`` [B,C,H,W], ``noise`` [B,L] (uniform [0,1)),
  ``mask`` [B,L] (1 = removed), ``pred`` [B,L,p^2 C], ``loss`` [] and ``grad.<key>`` for every parameter
  that requires grad and receives one (so not pos_embed / decoder_pos_embed, which are fixed, nor
  decoder_embed, which the forward never uses); ``__metadata__`` holds the config as strings.
The oracle is computed in float64 from the float32 weights, images and noise, then rounded to F32.

Everything is seeded. After writing, the script reads every file back and checks it: exact round trip,
agreement (to 1e-12, float64) of the module forward and gradients with an independent functional
re-implementation, and float32 vs float64 agreement.
Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crate_torch as ct  # noqa: E402
import crate_mae_torch as cm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crate-model", "src", "test", "resources", "mae"))

CONFIGS = [
    # name, model config, batch, seed
    ("mae_a", dict(image_size=8, channels=1, patch_size=2, dim=16, heads=2, depth=2, norm_pix_loss=False), 3, 2024),
    ("mae_b", dict(image_size=8, channels=3, patch_size=4, dim=12, heads=3, depth=2, norm_pix_loss=True), 2, 4242),
]
NO_GRAD_EXPECTED = {"pos_embed", "decoder_pos_embed", "decoder_embed.weight", "decoder_embed.bias"}


def build(cfg, seed):
    torch.manual_seed(seed)
    model = cm.CrateMAE(**cfg)
    g = torch.Generator().manual_seed(seed + 1)
    model.perturb_init(g)
    return model


def oracle(model32, images, noise):
    """float64 copy of the float32 model: (loss, pred, mask, grads by key, state_dict64)."""
    model = cm.CrateMAE(**model32.config).double()
    model.load_state_dict({k: v.double() for k, v in model32.state_dict().items()})
    loss, pred, mask = model(images.double(), noise.double())
    model.zero_grad()
    loss.backward()
    grads = {k: p.grad for k, p in model.named_parameters() if p.requires_grad and p.grad is not None}
    return loss.detach(), pred.detach(), mask, grads, model


def functional_check(model64, images, noise, cfg, loss, pred, mask, grads):
    """The independent functional forward (and its autograd) must agree with the modules to 1e-12."""
    sd = {k: v.detach().clone().requires_grad_(True) for k, v in model64.state_dict().items()}
    f_loss, f_pred, f_mask = cm.functional_forward(
        sd, images.double(), noise.double(), cfg["patch_size"], cfg["heads"], cfg["depth"],
        eta=0.1, lambd=0.5, norm_pix_loss=cfg["norm_pix_loss"])
    assert torch.equal(f_mask, mask), "mask differs"
    worst = max((f_pred - pred).abs().max().item(), (f_loss - loss).abs().item())
    f_grads = torch.autograd.grad(f_loss, [sd[k] for k in grads], allow_unused=True)
    for (k, g), fg in zip(grads.items(), f_grads):
        assert fg is not None, f"functional forward gives no gradient for {k}"
        worst = max(worst, (fg - g).abs().max().item())
    assert worst < 1e-12, f"functional vs modules: {worst:.3e}"
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    for name, cfg, batch, seed in CONFIGS:
        model = build(cfg, seed)
        L = (cfg["image_size"] // cfg["patch_size"]) ** 2
        g = torch.Generator().manual_seed(seed + 2)
        images = torch.randn(batch, cfg["channels"], cfg["image_size"], cfg["image_size"], generator=g)
        noise = torch.rand(batch, L, generator=g)

        loss, pred, mask, grads, model64 = oracle(model, images, noise)
        skipped = sorted(k for k, _ in model.named_parameters() if k not in grads) + \
            sorted(k for k in model.state_dict() if k not in dict(model.named_parameters()))
        assert set(skipped) == NO_GRAD_EXPECTED, skipped
        worst_fn = functional_check(model64, images, noise, cfg, loss, pred, mask, grads)

        tensors = {k: v.float().contiguous() for k, v in model.state_dict().items()}
        tensors["images"] = images
        tensors["noise"] = noise
        tensors["mask"] = mask.float()
        tensors["pred"] = pred.float()
        tensors["loss"] = loss.float().reshape([])
        for k, gr in grads.items():
            tensors["grad." + k] = gr.float()
        meta = {
            "format": "crate-mae",
            "image_size": str(cfg["image_size"]),
            "channels": str(cfg["channels"]),
            "patch_size": str(cfg["patch_size"]),
            "dim": str(cfg["dim"]),
            "depth": str(cfg["depth"]),
            "heads": str(cfg["heads"]),
            "eta": "0.1",
            "lambda": "0.5",
            "norm_pix_loss": "true" if cfg["norm_pix_loss"] else "false",
            "mask_ratio": str(cm.MASK_RATIO),
        }
        path = os.path.join(args.out, name + ".safetensors")
        ct.save_safetensors(path, tensors, meta)

        # ---- read back and check ----
        back, back_meta = ct.load_safetensors(path)
        assert back_meta == meta, back_meta
        assert list(back) == list(tensors), "tensor order/names differ"
        for k, v in tensors.items():
            assert back[k].dtype == torch.float32 and torch.equal(back[k], v), k
        # the stored weights reproduce the stored oracle (float64 recompute from the file)
        m2 = cm.CrateMAE(**cfg).double()
        m2.load_state_dict({k: back[k].double() for k in model.state_dict()})
        l2, p2, k2 = m2(back["images"].double(), back["noise"].double())
        assert torch.equal(k2.float(), back["mask"])
        assert (p2.float() - back["pred"]).abs().max().item() == 0.0
        assert l2.float().item() == back["loss"].item()
        # float32 forward agrees with the float64 oracle to float32 precision
        l32, p32, m32 = model(images, noise)
        err32 = max((p32.double() - pred).abs().max().item(), abs(l32.item() - loss.item()))
        assert err32 < 1e-4, err32
        # mask sanity: exactly L - len_keep removed per row
        len_keep = int(L * (1 - cm.MASK_RATIO))
        assert torch.all(back["mask"].sum(dim=1) == L - len_keep)

        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes, loss {loss.item():.6f}, "
              f"functional vs modules {worst_fn:.1e}, f32 vs f64 {err32:.1e}, "
              f"grads {len(grads)} (none for: {', '.join(skipped)})")


if __name__ == "__main__":
    main()

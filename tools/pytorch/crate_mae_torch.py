"""CRATE-MAE (masked autoencoding with a white-box CRATE encoder and decoder) in PyTorch, as a reference for the
Java library. Written from the equations below; the modules reuse CRATE's MSSA/ISTA/PreNorm from crate_torch.

Forward(images [B,C,H,W], noise [B,L]), L = (H/p)^2, row convention (one row per token, CLS first):

  1. x = Conv2d(C, d, kernel p, stride p)(images), flattened to [B, L, d]
  2. ids_shuffle = argsort(noise, dim=1); len_keep = int(L * (1 - 0.75));
     mask[b, l] = 1 where l is among ids_shuffle[b, len_keep:] (removed), else 0
  3. masked positions are replaced by mask_token (tokens stay in their original order); cls_token is prepended;
     decoder_pos_embed (fixed 2-D sin-cos table) is added to all L+1 tokens. pos_embed is kept but not used.
  4. encoder, per block:  x = x + MSSA(LN(x));  x = ISTA(LN(x))   (LayerNorm eps 1e-5, eta 0.1, lambda 0.5)
     then x = norm(x)  (LayerNorm eps 1e-6)
  5. decoder, per block:  y = LN_a(x) W^T  (W = layers.0.0.fn.weight, no bias);  x = y - MSSA(LN_b(y))
     then decoder_norm (eps 1e-6), decoder_pred (Linear d -> p^2 C), drop the CLS row -> pred [B, L, p^2 C]
  6. target = patchify(images), b c (h p) (w q) -> b (h w) (p q c); with norm_pix_loss each patch is
     standardised with its mean and unbiased variance (+1e-6); loss = sum(mask * mean_last((pred - target)^2)) / sum(mask)

decoder_embed (Linear d -> d) exists in the state_dict but is unused, so it never receives a gradient.

Also here: ``functional_forward``, an independent re-implementation with plain tensor ops (per-head loop, hand
LayerNorm, patch-extraction instead of conv, rank counting instead of argsort), used to cross-check the modules.

Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crate_torch import Attention, FeedForward, PreNorm, ToPatches  # noqa: E402

MASK_RATIO = 0.75


# ----------------------------------------------------------------------------------------------------------
# Fixed 2-D sin-cos position table (MAE's get_2d_sincos_pos_embed, cls_token=True)
# ----------------------------------------------------------------------------------------------------------

def _sincos_1d(dim, pos):
    """[M] positions -> [M, dim]: concat(sin(pos * omega), cos(pos * omega)), omega = 1/10000^(k/(dim/2))."""
    if dim % 2 != 0:
        raise ValueError(f"1-D sin-cos dim {dim} must be even")
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", pos.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d_table(dim, grid_size):
    """[grid_size^2 + 1, dim] float64: a zero CLS row, then one row per patch in row-major (h, w) order.
    The first dim/2 columns encode grid[0] (the column index w), the last dim/2 the row index h."""
    if dim % 4 != 0:
        raise ValueError(f"2-D sin-cos dim {dim} must be a multiple of 4")
    gh = np.arange(grid_size, dtype=np.float32)
    gw = np.arange(grid_size, dtype=np.float32)
    grid = np.stack(np.meshgrid(gw, gh), axis=0)           # w goes first
    emb = np.concatenate([_sincos_1d(dim // 2, grid[0]), _sincos_1d(dim // 2, grid[1])], axis=1)
    return np.concatenate([np.zeros([1, dim]), emb], axis=0)


# ----------------------------------------------------------------------------------------------------------
# Modules
# ----------------------------------------------------------------------------------------------------------

class PatchEmbed(nn.Module):
    def __init__(self, channels, dim, patch_size):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, img):
        return self.proj(img).flatten(2).transpose(1, 2)    # b d h w -> b (h w) d


class DecoderLinear(nn.Module):
    """The decoder's ISTA-transpose step: y = x W^T with a square weight and no bias."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim, dim))
        nn.init.kaiming_uniform_(self.weight)

    def forward(self, x):
        return F.linear(x, self.weight)


class EncoderBlock(nn.Module):
    def __init__(self, dim, heads, eta, lambd):
        super().__init__()
        self.layers = nn.ModuleList([nn.ModuleList([PreNorm(dim, Attention(dim, heads)),
                                                    PreNorm(dim, FeedForward(dim, eta, lambd))])])

    def forward(self, x):
        for attn, ff in self.layers:
            x = x + attn(x)
            x = ff(x)
        return x


class DecoderBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.layers = nn.ModuleList([nn.ModuleList([PreNorm(dim, DecoderLinear(dim)),
                                                    PreNorm(dim, Attention(dim, heads))])])

    def forward(self, x):
        for lin, attn in self.layers:
            y = lin(x)
            x = y - attn(y)
        return x


class CrateMAE(nn.Module):
    def __init__(self, image_size, patch_size, channels, dim, depth, heads, eta=0.1, lambd=0.5,
                 norm_pix_loss=False):
        super().__init__()
        if image_size % patch_size != 0:
            raise ValueError(f"image size {image_size} is not a multiple of patch size {patch_size}")
        grid = image_size // patch_size
        num_patches = grid * grid
        self.config = dict(image_size=image_size, patch_size=patch_size, channels=channels, dim=dim, depth=depth,
                           heads=heads, eta=eta, lambd=lambd, norm_pix_loss=norm_pix_loss)
        self.patch_size = patch_size
        self.norm_pix_loss = norm_pix_loss
        # declaration order = state_dict order
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        table = torch.from_numpy(sincos_2d_table(dim, grid)).float().unsqueeze(0)
        self.pos_embed = nn.Parameter(table.clone(), requires_grad=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.decoder_pos_embed = nn.Parameter(table.clone(), requires_grad=False)
        self.patch_embed = PatchEmbed(channels, dim, patch_size)
        self.blocks = nn.ModuleList([EncoderBlock(dim, heads, eta, lambd) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.decoder_embed = nn.Linear(dim, dim)
        self.decoder_blocks = nn.ModuleList([DecoderBlock(dim, heads) for _ in range(depth)])
        self.decoder_norm = nn.LayerNorm(dim, eps=1e-6)
        self.decoder_pred = nn.Linear(dim, patch_size * patch_size * channels)
        self.num_patches = num_patches

    @torch.no_grad()
    def perturb_init(self, generator):
        """Make every LayerNorm and bias non-trivial and the tokens non-zero (for fixtures)."""
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            if name in ("cls_token", "mask_token"):
                p.copy_(0.02 * torch.randn(p.shape, generator=generator))
            elif name.endswith(".bias") or ".norm." in name or name.startswith(("norm.", "decoder_norm.")):
                p.add_(0.1 * torch.randn(p.shape, generator=generator))

    @staticmethod
    def random_mask(noise, num_patches):
        """mask [B, L]: 1 where the token is removed (the last L - len_keep of argsort(noise)), 0 where kept."""
        len_keep = int(num_patches * (1 - MASK_RATIO))
        ids_shuffle = torch.argsort(noise, dim=1)
        mask = torch.zeros_like(noise)
        mask.scatter_(1, ids_shuffle[:, len_keep:], 1.0)
        return mask

    def forward_pred(self, images, noise):
        x = self.patch_embed(images)
        b, n, d = x.shape
        mask = self.random_mask(noise, n).to(x.dtype)
        x = torch.where(mask.unsqueeze(-1) == 1, self.mask_token.expand(b, n, d), x)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = x + self.decoder_pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_norm(x)
        x = self.decoder_pred(x)
        return x[:, 1:, :], mask

    def loss(self, images, pred, mask):
        target = ToPatches(self.patch_size)(images)        # b (h w) (p q c)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)          # unbiased
            target = (target - mean) / (var + 1e-6) ** 0.5
        per_patch = ((pred - target) ** 2).mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum()

    def forward(self, images, noise):
        """Returns (loss, pred [B, L, p^2 C], mask [B, L])."""
        pred, mask = self.forward_pred(images, noise)
        return self.loss(images, pred, mask), pred, mask


# ----------------------------------------------------------------------------------------------------------
# Independent functional forward (cross-check of the modules)
# ----------------------------------------------------------------------------------------------------------

def functional_forward(sd, images, noise, patch_size, heads, depth, eta=0.1, lambd=0.5, norm_pix_loss=False):
    """(loss, pred, mask) from a state_dict with plain tensor ops; works in the tensors' dtype."""

    def ln(x, prefix, eps):
        mu = x.mean(dim=-1, keepdim=True)
        var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * sd[prefix + ".weight"] + sd[prefix + ".bias"]

    def mssa(y, prefix):
        w = y @ sd[prefix + ".qkv.weight"].t()
        hd = w.shape[-1] // heads
        outs = []
        for k in range(heads):
            wk = w[:, :, k * hd:(k + 1) * hd]
            s = wk @ wk.transpose(1, 2) / (hd ** 0.5)
            e = torch.exp(s - s.max(dim=-1, keepdim=True).values)
            outs.append((e / e.sum(dim=-1, keepdim=True)) @ wk)
        return torch.cat(outs, dim=-1) @ sd[prefix + ".to_out.0.weight"].t() + sd[prefix + ".to_out.0.bias"]

    b, c, hh, ww = images.shape
    p = patch_size
    gh, gw = hh // p, ww // p
    L = gh * gw
    # patches in (c p q) order for the conv, in (p q c) order for the target; token index = i * gw + j
    conv_rows, target_rows = [], []
    for i in range(gh):
        for j in range(gw):
            blk = images[:, :, i * p:(i + 1) * p, j * p:(j + 1) * p]           # b c p q
            conv_rows.append(blk.reshape(b, c * p * p))
            target_rows.append(blk.permute(0, 2, 3, 1).reshape(b, p * p * c))
    wconv = sd["patch_embed.proj.weight"]
    x = torch.stack(conv_rows, 1) @ wconv.reshape(wconv.shape[0], -1).t() + sd["patch_embed.proj.bias"]
    d = x.shape[-1]

    # rank of each noise value within its row (no ties in practice); removed when rank >= len_keep
    len_keep = int(L * (1 - MASK_RATIO))
    rank = (noise.unsqueeze(1) < noise.unsqueeze(2)).sum(dim=2)           # rank[b, l] = #{m : noise[m] < noise[l]}
    mask = (rank >= len_keep).to(x.dtype)
    x = x * (1 - mask).unsqueeze(-1) + sd["mask_token"].reshape(1, 1, d) * mask.unsqueeze(-1)
    x = torch.cat([sd["cls_token"].expand(b, 1, d), x], dim=1) + sd["decoder_pos_embed"]

    for l in range(depth):
        pre = f"blocks.{l}.layers.0."
        x = x + mssa(ln(x, pre + "0.norm", 1e-5), pre + "0.fn")
        z = ln(x, pre + "1.norm", 1e-5)
        dd = sd[pre + "1.fn.weight"]
        x = torch.clamp(z + eta * (z @ dd - (z @ dd.t()) @ dd) - eta * lambd, min=0)
    x = ln(x, "norm", 1e-6)
    for l in range(depth):
        pre = f"decoder_blocks.{l}.layers.0."
        y = ln(x, pre + "0.norm", 1e-5) @ sd[pre + "0.fn.weight"].t()
        x = y - mssa(ln(y, pre + "1.norm", 1e-5), pre + "1.fn")
    x = ln(x, "decoder_norm", 1e-6)
    pred = (x @ sd["decoder_pred.weight"].t() + sd["decoder_pred.bias"])[:, 1:, :]

    target = torch.stack(target_rows, 1)
    if norm_pix_loss:
        n = target.shape[-1]
        mean = target.sum(dim=-1, keepdim=True) / n
        var = ((target - mean) ** 2).sum(dim=-1, keepdim=True) / (n - 1)
        target = (target - mean) / torch.sqrt(var + 1e-6)
    per_patch = ((pred - target) ** 2).sum(dim=-1) / pred.shape[-1]
    loss = (per_patch * mask).sum() / mask.sum()
    return loss, pred, mask

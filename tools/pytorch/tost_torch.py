"""ToST (RobinWu218/ToST, tost_vision/tost.py: the tost_cab_* models) in PyTorch, as a reference for the Java
library's ToST.

Written from that file's equations without timm or einops, with its module names so that ``state_dict()`` has the
keys of its checkpoints (SyncBatchNorm is BatchNorm2d in one process; the keys are the same):

  patch_embed.proj   patch 16: four (Conv2d 3x3 stride 2 pad 1, no bias; BatchNorm2d) with GELU between, channels
                     d/8, d/4, d/2, d; patch 8: three (d/4, d/2, d). Keys proj.{0,2,4,6}.{0,1}.*
  pos_embeder        the Fourier encoding (hidden 32 -> 64 channels, temperature 10000, scale 2 pi, eps 1e-6) through
                     token_projection (Conv2d 1x1 with bias) to d, added to the patch tokens
  blocks.{i}         x += gamma1 * TSSA(norm1(x)); x += gamma2 * mlp(norm2(x)); LayerNorm eps 1e-6, MLP d -> 4d -> d
                     TSSA per head on w = attn.qkv(x) (d -> d, bias), heads of d/h:
                       w_n = w / max(||w||_tokens, 1e-12); Pi = softmax over heads of temp_k * sum_dims w_n^2;
                       s = sum_tokens (Pi / (sum_tokens Pi + 1e-8)) * w^2; out = -(w * Pi) / (1 + s);
                       attn.to_out.0 (d -> d, bias)
  cls_token          prepended after the blocks; cls_attn_blocks.{0,1}: CaiT class attention with tokens_norm:
                       y = norm1(x); c = attn.proj(softmax(q_cls K^T (d/h)^-1/2) V); x = x + gamma1 * [c; y_patches];
                       x = norm2(x); x = x + [gamma2 * mlp(x_cls); x_patches]
  norm, head         LayerNorm, the cls row, Linear

Channels other than 3 are allowed (the official stem fixes 3). ``functional_forward`` recomputes the eval-mode model
from a state_dict, one head at a time, to cross-check. Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6

PRESETS = {
    "tost-fmnist-small": dict(image_size=32, channels=1, patch_size=8, dim=192, depth=6, heads=6, num_classes=10),
    "tost-cifar-tiny": dict(image_size=32, channels=3, patch_size=8, dim=384, depth=12, heads=6, num_classes=10),
    "tost-crate-tiny": dict(image_size=224, channels=3, patch_size=16, dim=384, depth=12, heads=6, num_classes=1000),
    "tost-tiny": dict(image_size=224, channels=3, patch_size=16, dim=192, depth=12, heads=4, num_classes=1000),
    "tost-small": dict(image_size=224, channels=3, patch_size=16, dim=384, depth=12, heads=8, num_classes=1000),
}


def build_preset(name):
    return Tost(**PRESETS[name])


def fourier_table(h, w, hidden=32, temperature=10000.0, dtype=torch.float32):
    """The [64, h, w] encoding of PositionalEncodingFourier before its 1x1 projection."""
    eps, scale = 1e-6, 2 * math.pi
    y = torch.arange(1, h + 1, dtype=dtype)[:, None].expand(h, w)
    x = torch.arange(1, w + 1, dtype=dtype)[None, :].expand(h, w)
    y = y / (h + eps) * scale
    x = x / (w + eps) * scale
    dim_t = torch.arange(hidden, dtype=dtype)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / hidden)
    px, py = x[:, :, None] / dim_t, y[:, :, None] / dim_t
    px = torch.stack((px[:, :, 0::2].sin(), px[:, :, 1::2].cos()), dim=3).flatten(2)
    py = torch.stack((py[:, :, 0::2].sin(), py[:, :, 1::2].cos()), dim=3).flatten(2)
    return torch.cat((py, px), dim=2).permute(2, 0, 1)


class FourierPositions(nn.Module):
    def __init__(self, dim, hidden=32):
        super().__init__()
        self.token_projection = nn.Conv2d(2 * hidden, dim, kernel_size=1)

    def forward(self, h, w):
        table = fourier_table(h, w, dtype=self.token_projection.weight.dtype)
        return self.token_projection(table[None]).flatten(2).transpose(1, 2)       # [1, h*w, d]


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout))


class ConvStem(nn.Module):
    def __init__(self, channels, patch_size, dim):
        super().__init__()
        widths = {16: [dim // 8, dim // 4, dim // 2, dim], 8: [dim // 4, dim // 2, dim]}[patch_size]
        layers, cin = [], channels
        for i, c in enumerate(widths):
            if i:
                layers.append(nn.GELU())
            layers.append(conv_bn(cin, c))
            cin = c
        self.proj = nn.Sequential(*layers)

    def forward(self, x):
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), x.shape[2], x.shape[3]


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Tssa(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim, bias=True)
        self.temp = nn.Parameter(torch.ones(heads, 1))
        self.to_out = nn.Sequential(nn.Linear(dim, dim))

    def membership(self, x):
        b, n, _ = x.shape
        w = self.qkv(x).reshape(b, n, self.heads, -1).transpose(1, 2)       # [B, h, N, p]
        w_sq = F.normalize(w, dim=-2) ** 2
        return w, torch.softmax(w_sq.sum(-1) * self.temp, dim=1)          # Pi [B, h, N]

    def forward(self, x):
        b, n, _ = x.shape
        w, pi = self.membership(x)
        dots = (pi / (pi.sum(-1, keepdim=True) + 1e-8)).unsqueeze(-2) @ (w ** 2)   # [B, h, 1, p]
        out = -(w * pi.unsqueeze(-1)) * (1.0 / (1 + dots))
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class Block(nn.Module):
    def __init__(self, dim, heads, eta):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = Tssa(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, 4 * dim)
        self.gamma1 = nn.Parameter(eta * torch.ones(dim))
        self.gamma2 = nn.Parameter(eta * torch.ones(dim))

    def forward(self, x):
        x = x + self.gamma1 * self.attn(self.norm1(x))
        return x + self.gamma2 * self.mlp(self.norm2(x))


class ClassAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q[:, :, 0:1] * k).sum(-1) * self.scale).softmax(-1)                  # [B, h, N]
        cls = self.proj((attn.unsqueeze(2) @ v).transpose(1, 2).reshape(b, 1, c))
        return torch.cat([cls, x[:, 1:]], dim=1)


class ClassAttentionBlock(nn.Module):
    def __init__(self, dim, heads, eta):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = ClassAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, 4 * dim)
        self.gamma1 = nn.Parameter(eta * torch.ones(dim))
        self.gamma2 = nn.Parameter(eta * torch.ones(dim))

    def forward(self, x):
        x = x + self.gamma1 * self.attn(self.norm1(x))
        x = self.norm2(x)                                     # tokens_norm = True: every row, no residual
        cls = self.gamma2 * self.mlp(x[:, 0:1])
        return x + torch.cat([cls, x[:, 1:]], dim=1)           # the patch rows are doubled, as the official file


class Tost(nn.Module):
    def __init__(self, image_size, patch_size, num_classes, dim, depth, heads, channels=3, eta=None):
        super().__init__()
        assert image_size % patch_size == 0
        eta = eta if eta is not None else (1.0 if depth <= 12 else 1e-5)
        self.patch_embed = ConvStem(channels, patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, eta) for _ in range(depth)])
        self.cls_attn_blocks = nn.ModuleList([ClassAttentionBlock(dim, heads, eta) for _ in range(2)])
        self.norm = nn.LayerNorm(dim, eps=EPS)
        self.head = nn.Linear(dim, num_classes)
        self.pos_embeder = FourierPositions(dim)

    def forward(self, img):
        x, h, w = self.patch_embed(img)
        x = x + self.pos_embeder(h, w)
        for blk in self.blocks:
            x = blk(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for blk in self.cls_attn_blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


def functional_forward(sd, images, patch_size, heads, depth):
    """The eval-mode model from a state_dict, by other means: unfold for the convolutions, a loop over heads."""
    x = images
    convs = sorted({int(k.split(".")[2]) for k in sd if k.startswith("patch_embed.proj.")})
    for j, i in enumerate(convs):
        if j:
            x = F.gelu(x)
        p = f"patch_embed.proj.{i}."
        b, c, hh, ww = x.shape
        cols = F.unfold(x, 3, padding=1, stride=2)                     # [B, C*9, L]
        wgt = sd[p + "0.weight"]
        x = (wgt.reshape(wgt.shape[0], -1) @ cols).reshape(b, wgt.shape[0], (hh + 1) // 2, (ww + 1) // 2)
        mean, var = sd[p + "1.running_mean"], sd[p + "1.running_var"]
        x = (x - mean[:, None, None]) / torch.sqrt(var[:, None, None] + 1e-5) * sd[p + "1.weight"][:, None, None] \
            + sd[p + "1.bias"][:, None, None]
    b, d, hp, wp = x.shape
    x = x.flatten(2).transpose(1, 2)
    table = fourier_table(hp, wp, dtype=x.dtype).reshape(64, -1).t()
    x = x + table @ sd["pos_embeder.token_projection.weight"].reshape(d, 64).t() + sd["pos_embeder.token_projection.bias"]

    def ln(t, key):
        return F.layer_norm(t, t.shape[-1:], sd[key + ".weight"], sd[key + ".bias"], EPS)

    def mlp(t, key):
        return F.linear(F.gelu(F.linear(t, sd[key + ".fc1.weight"], sd[key + ".fc1.bias"])), sd[key + ".fc2.weight"],
                        sd[key + ".fc2.bias"])

    dh = d // heads
    for i in range(depth):
        p = f"blocks.{i}."
        w = F.linear(ln(x, p + "norm1"), sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"])
        scores = []
        for h in range(heads):
            wh = w[..., h * dh:(h + 1) * dh]
            norm = wh.pow(2).sum(1, keepdim=True).sqrt().clamp_min(1e-12)
            scores.append((wh / norm).pow(2).sum(-1) * sd[p + "attn.temp"][h, 0])
        pi = torch.softmax(torch.stack(scores, -1), -1)                         # [B, N, h]
        outs = []
        for h in range(heads):
            wh, ph = w[..., h * dh:(h + 1) * dh], pi[..., h:h + 1]
            s = ((ph / (ph.sum(1, keepdim=True) + 1e-8)) * wh * wh).sum(1, keepdim=True)
            outs.append(-wh * ph / (1 + s))
        attn = F.linear(torch.cat(outs, -1), sd[p + "attn.to_out.0.weight"], sd[p + "attn.to_out.0.bias"])
        x = x + sd[p + "gamma1"] * attn
        x = x + sd[p + "gamma2"] * mlp(ln(x, p + "norm2"), p + "mlp")
    x = torch.cat([sd["cls_token"].expand(b, -1, -1), x], 1)
    for i in range(2):
        p = f"cls_attn_blocks.{i}."
        y = ln(x, p + "norm1")
        qkv = F.linear(y, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"])
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        heads_out = []
        for h in range(heads):
            sl = slice(h * dh, (h + 1) * dh)
            a = torch.softmax((q[:, 0:1, sl] * k[:, :, sl]).sum(-1) * dh ** -0.5, -1)    # [B, N]
            heads_out.append((a[:, :, None] * v[:, :, sl]).sum(1, keepdim=True))
        c = F.linear(torch.cat(heads_out, -1), sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        x = x + sd[p + "gamma1"] * torch.cat([c, y[:, 1:]], 1)
        x = ln(x, p + "norm2")
        x = x + torch.cat([sd[p + "gamma2"] * mlp(x[:, 0:1], p + "mlp"), x[:, 1:]], 1)
    return F.linear(ln(x, "norm")[:, 0], sd["head.weight"], sd["head.bias"])

"""ViT (timm's VisionTransformer) in PyTorch, as a reference for the Java library's ViT.

Written from timm's equations (no timm here), with timm's module names so that ``state_dict()`` has the keys of a
timm / DeiT checkpoint:

  patch_embed.proj   Conv2d(C -> d, kernel = stride = p, bias); tokens [B, L, d] in row-major patch order
  cls_token [1,1,d]  prepended; pos_embed [1, L+1, d] added to [cls; patches]
  blocks.{i}         x = x + attn.proj(MHSA(norm1(x))); x = x + mlp.fc2(GELU(mlp.fc1(norm2(x))))
                     MHSA: attn.qkv Linear(d -> 3d, bias) reshaped [B, N, 3, h, d/h] -> q, k, v per head;
                     softmax(q k^T * (d/h)^-0.5) v; heads concatenated
  head               'token': norm(x)[:, 0] -> head;  'avg': fc_norm(mean of x[:, 1:]) -> head (no norm)
  LayerNorm eps 1e-6, exact erf GELU, MLP ratio 4 unless told.

Also ``functional_forward``: an independent loop-per-head implementation from a state_dict, to cross-check.
Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6

PRESETS = {
    # the ViT twins of crate_torch.PRESETS (same image, channels, patch, width, depth, heads) and timm's sizes
    "vit-fmnist-small": dict(image_size=28, channels=1, patch_size=4, dim=192, heads=6, depth=6, num_classes=10),
    "vit-cifar-tiny": dict(image_size=32, channels=3, patch_size=4, dim=384, heads=6, depth=12, num_classes=10),
    "vit-crate-tiny": dict(image_size=224, channels=3, patch_size=16, dim=384, heads=6, depth=12, num_classes=1000),
    "vit-tiny": dict(image_size=224, channels=3, patch_size=16, dim=192, heads=3, depth=12, num_classes=1000),
    "vit-small": dict(image_size=224, channels=3, patch_size=16, dim=384, heads=6, depth=12, num_classes=1000),
    "vit-base": dict(image_size=224, channels=3, patch_size=16, dim=768, heads=12, depth=12, num_classes=1000),
}


def build_preset(name, pool="token"):
    return VisionTransformer(pool=pool, **PRESETS[name])


class PatchEmbed(nn.Module):
    def __init__(self, channels, patch_size, dim):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch_size, num_classes, dim, depth, heads, channels=3, mlp_dim=None,
                 pool="token"):
        super().__init__()
        assert pool in ("token", "avg")
        self.pool = pool
        grid = image_size // patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        self.patch_embed = PatchEmbed(channels, patch_size, dim)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_dim or 4 * dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=EPS) if pool == "token" else nn.Identity()
        self.fc_norm = nn.LayerNorm(dim, eps=EPS) if pool == "avg" else nn.Identity()
        self.head = nn.Linear(dim, num_classes)
        # timm's init: trunc_normal_(pos_embed, .02), normal_(cls_token, 1e-6), Linear trunc_normal_(.02) + zero bias
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, img):
        x = self.patch_embed(img)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        x = x[:, 0] if self.pool == "token" else x[:, 1:].mean(dim=1)
        return self.head(self.fc_norm(x))


def functional_forward(sd, images, patch_size, heads, depth, pool="token", eps=EPS):
    """The same network from a state_dict, one head at a time, without the modules above."""
    def ln(x, prefix):
        return F.layer_norm(x, x.shape[-1:], sd[prefix + ".weight"], sd[prefix + ".bias"], eps)

    w = sd["patch_embed.proj.weight"]
    b, c, hgt, wid = images.shape
    p = patch_size
    patches = images.reshape(b, c, hgt // p, p, wid // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, -1, c * p * p)
    x = patches @ w.reshape(w.shape[0], -1).T + sd["patch_embed.proj.bias"]
    x = torch.cat([sd["cls_token"].expand(b, -1, -1), x], dim=1) + sd["pos_embed"]
    d = x.shape[-1]
    hd = d // heads
    for i in range(depth):
        pre = f"blocks.{i}."
        y = ln(x, pre + "norm1")
        qkv = y @ sd[pre + "attn.qkv.weight"].T + sd[pre + "attn.qkv.bias"]
        outs = []
        for h in range(heads):
            q = qkv[..., h * hd:(h + 1) * hd]
            k = qkv[..., d + h * hd:d + (h + 1) * hd]
            v = qkv[..., 2 * d + h * hd:2 * d + (h + 1) * hd]
            outs.append(torch.softmax(q @ k.transpose(-2, -1) * hd ** -0.5, dim=-1) @ v)
        x = x + torch.cat(outs, dim=-1) @ sd[pre + "attn.proj.weight"].T + sd[pre + "attn.proj.bias"]
        y = ln(x, pre + "norm2")
        hid = F.gelu(y @ sd[pre + "mlp.fc1.weight"].T + sd[pre + "mlp.fc1.bias"])
        x = x + hid @ sd[pre + "mlp.fc2.weight"].T + sd[pre + "mlp.fc2.bias"]
    if pool == "token":
        feat = ln(x, "norm")[:, 0]
    else:
        feat = ln(x[:, 1:].mean(dim=1), "fc_norm")
    return feat @ sd["head.weight"].T + sd["head.bias"]

"""CRATE-α (UCSC-VLAA/CRATE-alpha, torch_inference/model/crate_alpha.py) in PyTorch, as a reference for the Java
library's CRATE-α.

Written from that file's equations without einops, with its module names so that ``state_dict()`` has the keys of
the official checkpoints:

  conv1              Conv2d(C -> d, kernel = stride = p, bias); tokens [B, L, d] in row-major patch order
  cls_token [1,1,d]  prepended; pos_embedding [1, L+1, d] added to [cls; patches]
  transformer.layers.{i}.0   x = x + to_out.0(MSSA(norm(x))): PreNorm LayerNorm eps 1e-6; qkv Linear(d -> h*dh, no
                             bias) split into h heads W; softmax(W W^T * dh^-0.5) W; to_out.0 Linear(h*dh -> d, no bias)
  transformer.layers.{i}.1   x = x + OvercompleteISTA(norm(x)) with fn.D, fn.D1 [d, r*d] (r = 4):
                             a1 = relu(eta x D - eta lambda); a2 = relu(a1 - eta (a1 D^T - x) D - eta lambda);
                             out = a2 D1^T   (eta = lambda = 0.1)
  mlp_head           the cls row -> mlp_head.0 LayerNorm (eps 1e-5) -> mlp_head.1 Linear

Channels other than 3 are allowed (the official file fixes 3). Also ``functional_forward``: an independent
implementation from a state_dict, to cross-check. Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6

PRESETS = {
    # the Java presets of the same names (CrateAlphaConfig.presets)
    "crate-alpha-fmnist-small": dict(image_size=28, channels=1, patch_size=4, dim=192, heads=6, depth=6,
                                     num_classes=10),
    "crate-alpha-cifar-tiny": dict(image_size=32, channels=3, patch_size=4, dim=384, heads=6, depth=12,
                                   num_classes=10),
    "crate-alpha-tiny": dict(image_size=224, channels=3, patch_size=16, dim=192, heads=3, depth=12, num_classes=1000),
    "crate-alpha-small": dict(image_size=224, channels=3, patch_size=16, dim=576, heads=12, depth=12,
                              num_classes=1000),
    "crate-alpha-base": dict(image_size=224, channels=3, patch_size=16, dim=768, heads=12, depth=12,
                             num_classes=1000),
}


def build_preset(name):
    return CrateAlpha(**PRESETS[name])


class OvercompleteIsta(nn.Module):
    def __init__(self, dim, ratio=4, eta=0.1, lambd=0.1):
        super().__init__()
        self.eta, self.lambd = eta, lambd
        self.D = nn.Parameter(nn.init.kaiming_uniform_(torch.empty(dim, ratio * dim)))
        self.D1 = nn.Parameter(nn.init.kaiming_uniform_(torch.empty(dim, ratio * dim)))

    def codes(self, x):
        a1 = F.relu(self.eta * (x @ self.D) - self.eta * self.lambd)
        residual = a1 @ self.D.t() - x
        a2 = F.relu(a1 - self.eta * (residual @ self.D) - self.eta * self.lambd)
        return a1, a2

    def forward(self, x):
        return self.codes(x)[1] @ self.D1.t()


class Mssa(nn.Module):
    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.qkv = nn.Linear(dim, heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim, bias=False))

    def forward(self, x):
        b, n, _ = x.shape
        w = self.qkv(x).reshape(b, n, self.heads, -1).transpose(1, 2)       # [B, h, N, dh]
        attn = torch.softmax(w @ w.transpose(-1, -2) * self.scale, dim=-1)
        out = (attn @ w).transpose(1, 2).reshape(b, n, -1)
        return self.to_out(out)


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=EPS)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, ratio, eta, lambd):
        super().__init__()
        self.layers = nn.ModuleList([nn.ModuleList([PreNorm(dim, Mssa(dim, heads, dim_head)),
                                                    PreNorm(dim, OvercompleteIsta(dim, ratio, eta, lambd))])
                                     for _ in range(depth)])

    def forward(self, x):
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return x


class CrateAlpha(nn.Module):
    def __init__(self, image_size, patch_size, num_classes, dim, depth, heads, channels=3, dim_head=None, ratio=4,
                 eta=0.1, lambd=0.1):
        super().__init__()
        assert image_size % patch_size == 0
        num_patches = (image_size // patch_size) ** 2
        self.conv1 = nn.Conv2d(channels, dim, kernel_size=patch_size, stride=patch_size, bias=True)
        self.pos_embedding = nn.Parameter(torch.randn(1, num_patches + 1, dim))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.transformer = Transformer(dim, depth, heads, dim_head or dim // heads, ratio, eta, lambd)
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def forward(self, img):
        x = self.conv1(img).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embedding
        x = self.transformer(x)
        return self.mlp_head(x[:, 0])


def functional_forward(sd, images, patch_size, heads, depth, eta=0.1, lambd=0.1):
    """The same model from a state_dict, one head and one einsum at a time (as the official einsum strings)."""
    x = F.conv2d(images, sd["conv1.weight"], sd["conv1.bias"], stride=patch_size).flatten(2).transpose(1, 2)
    b = x.shape[0]
    x = torch.cat([sd["cls_token"].expand(b, -1, -1), x], 1) + sd["pos_embedding"]
    for i in range(depth):
        p = f"transformer.layers.{i}."
        y = F.layer_norm(x, x.shape[-1:], sd[p + "0.norm.weight"], sd[p + "0.norm.bias"], EPS)
        w = y @ sd[p + "0.fn.qkv.weight"].t()
        dh = w.shape[-1] // heads
        outs = []
        for h in range(heads):
            wh = w[..., h * dh:(h + 1) * dh]
            a = torch.softmax(torch.einsum("bnd,bmd->bnm", wh, wh) * dh ** -0.5, -1)
            outs.append(torch.einsum("bnm,bmd->bnd", a, wh))
        x = torch.cat(outs, -1) @ sd[p + "0.fn.to_out.0.weight"].t() + x
        y = F.layer_norm(x, x.shape[-1:], sd[p + "1.norm.weight"], sd[p + "1.norm.bias"], EPS)
        d, d1 = sd[p + "1.fn.D"], sd[p + "1.fn.D1"]
        z1 = F.relu(eta * torch.einsum("pd,nlp->nld", d, y) - eta * lambd)
        dz1 = torch.einsum("dp,nlp->nld", d, z1)
        z2 = F.relu(z1 - eta * torch.einsum("pd,nlp->nld", d, dz1 - y) - eta * lambd)
        x = torch.einsum("dp,nlp->nld", d1, z2) + x
    cls = F.layer_norm(x[:, 0], x.shape[-1:], sd["mlp_head.0.weight"], sd["mlp_head.0.bias"], 1e-5)
    return cls @ sd["mlp_head.1.weight"].t() + sd["mlp_head.1.bias"]

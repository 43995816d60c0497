"""CRATE (white-box transformer via sparse rate reduction) in PyTorch, as a reference for the Java library.

Written from the model's equations (Z has one row per token, CLS first):

  patch embedding   b c (h p1) (w p2) -> b (h w) (p1 p2 c), LayerNorm(p^2 C), Linear(p^2 C -> d), LayerNorm(d),
                    prepend the CLS token, add the position embedding [1, n+1, d]
  MSSA (per layer)  Y = LN1(Z); W = Y U^T split into K heads W_k of width p = d/K;
                    A_k = softmax(W_k W_k^T * p^-0.5); O = [A_1 W_1 | ... | A_K W_K];
                    Z_half = Z + O W_out^T + b_out
  ISTA (per layer)  X = LN2(Z_half); Z' = ReLU(X + eta (X D - X D^T D) - eta lambda)   (no outer residual)
  head              CLS row ('cls') or mean over all tokens ('mean') -> LayerNorm -> Linear(d -> classes)

Module names are chosen so that ``CRATE(...).state_dict()`` has exactly the keys of the official checkpoints:
``pos_embedding``, ``cls_token``, ``to_patch_embedding.{1,2,3}.*``, ``transformer.layers.{i}.0.norm.*``,
``transformer.layers.{i}.0.fn.qkv.weight``, ``transformer.layers.{i}.0.fn.to_out.0.*``,
``transformer.layers.{i}.1.norm.*``, ``transformer.layers.{i}.1.fn.weight``, ``mlp_head.{0,1}.*``.

Also here: ``functional_forward`` (an independent, loop-per-head implementation from a state_dict, used to
cross-check the modules) and a small safetensors writer/reader (F32, F64 and I64) with no dependency
beyond the standard library and torch.

Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""

import json
import struct

import torch
import torch.nn.functional as F
from torch import nn

PRESETS = {
    # name: (image_size, channels, patch_size, dim, heads, depth, num_classes)
    "crate-tiny": dict(image_size=224, channels=3, patch_size=16, dim=384, heads=6, depth=12, num_classes=1000),
    "crate-small": dict(image_size=224, channels=3, patch_size=16, dim=576, heads=12, depth=12, num_classes=1000),
    "crate-base": dict(image_size=224, channels=3, patch_size=16, dim=768, heads=12, depth=12, num_classes=1000),
    "crate-large": dict(image_size=224, channels=3, patch_size=16, dim=1024, heads=16, depth=24, num_classes=1000),
    "fmnist-small": dict(image_size=28, channels=1, patch_size=4, dim=192, heads=6, depth=6, num_classes=10),
    "cifar-tiny": dict(image_size=32, channels=3, patch_size=4, dim=384, heads=6, depth=12, num_classes=10),
}


def build_preset(name, pool="cls", **overrides):
    """A CRATE model for one of PRESETS (pool 'cls' unless told otherwise)."""
    cfg = dict(PRESETS[name])
    cfg.update(overrides)
    return CRATE(pool=pool, **cfg)


# ----------------------------------------------------------------------------------------------------------
# Modules
# ----------------------------------------------------------------------------------------------------------

class ToPatches(nn.Module):
    """b c (h p1) (w p2) -> b (h w) (p1 p2 c), without einops."""

    def __init__(self, patch_size):
        super().__init__()
        self.patch_size = patch_size

    def forward(self, img):
        b, c, hh, ww = img.shape
        p = self.patch_size
        h, w = hh // p, ww // p
        x = img.reshape(b, c, h, p, w, p)          # b c h p1 w p2
        x = x.permute(0, 2, 4, 3, 5, 1)            # b h w p1 p2 c
        return x.reshape(b, h * w, p * p * c)


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Attention(nn.Module):
    """Multi-head subspace self-attention: one projection U serves as query, key and value."""

    def __init__(self, dim, heads):
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"dim {dim} is not a multiple of heads {heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(0.0))

    def forward(self, y):
        b, n, d = y.shape
        w = self.qkv(y).reshape(b, n, self.heads, self.head_dim).transpose(1, 2)   # b h n p
        attn = torch.softmax(torch.matmul(w, w.transpose(-1, -2)) * self.scale, dim=-1)
        o = torch.matmul(attn, w).transpose(1, 2).reshape(b, n, d)                  # b n (h p)
        return self.to_out(o)


class FeedForward(nn.Module):
    """One ISTA step towards a sparse code of x in the dictionary D (``weight``, [d, d])."""

    def __init__(self, dim, eta=0.1, lambd=0.1):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim, dim))
        nn.init.kaiming_uniform_(self.weight)
        self.eta = eta
        self.lambd = lambd

    def forward(self, x):
        x1 = F.linear(x, self.weight)             # x D^T  (row convention: F.linear(x, D) = x D^T)
        grad_1 = F.linear(x1, self.weight.t())    # x D^T D
        grad_2 = F.linear(x, self.weight.t())     # x D
        return F.relu(x + self.eta * (grad_2 - grad_1) - self.eta * self.lambd)


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, eta=0.1, lambd=0.1):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.ModuleList([PreNorm(dim, Attention(dim, heads)),
                           PreNorm(dim, FeedForward(dim, eta, lambd))])
            for _ in range(depth)])

    def forward(self, z):
        for attn, ff in self.layers:
            z = ff(attn(z) + z)
        return z


class CRATE(nn.Module):
    def __init__(self, image_size, patch_size, num_classes, dim, depth, heads, channels=3, pool="cls",
                 eta=0.1, lambd=0.1):
        super().__init__()
        if image_size % patch_size != 0:
            raise ValueError(f"image size {image_size} is not a multiple of patch size {patch_size}")
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', not {pool!r}")
        num_patches = (image_size // patch_size) ** 2
        patch_dim = channels * patch_size * patch_size
        self.config = dict(image_size=image_size, patch_size=patch_size, num_classes=num_classes, dim=dim,
                           depth=depth, heads=heads, channels=channels, pool=pool, eta=eta, lambd=lambd)
        self.to_patch_embedding = nn.Sequential(
            ToPatches(patch_size),
            nn.LayerNorm(patch_dim),
            nn.Linear(patch_dim, dim),
            nn.LayerNorm(dim),
        )
        self.pos_embedding = nn.Parameter(torch.randn(1, num_patches + 1, dim))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.transformer = Transformer(dim, depth, heads, eta, lambd)
        self.pool = pool
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def forward(self, img):
        x = self.to_patch_embedding(img)
        b, n, _ = x.shape
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = x + self.pos_embedding[:, : n + 1]
        x = self.transformer(x)
        x = x.mean(dim=1) if self.pool == "mean" else x[:, 0]
        return self.mlp_head(x)


# ----------------------------------------------------------------------------------------------------------
# Independent functional forward (cross-check of the modules)
# ----------------------------------------------------------------------------------------------------------

def functional_forward(sd, images, patch_size, heads, depth, pool="cls", eta=0.1, lambd=0.1, eps=1e-5):
    """Logits from a state_dict, written with plain matrix algebra and a loop over heads,
    without touching the modules above. Works in whatever dtype the tensors have."""

    def ln(x, prefix):
        mu = x.mean(dim=-1, keepdim=True)
        var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * sd[prefix + ".weight"] + sd[prefix + ".bias"]

    b, c, hh, ww = images.shape
    p = patch_size
    rows = []
    for i in range(hh // p):
        for j in range(ww // p):
            block = images[:, :, i * p:(i + 1) * p, j * p:(j + 1) * p]           # b c p1 p2
            rows.append(block.permute(0, 2, 3, 1).reshape(b, p * p * c))        # (p1 p2 c)
    x = torch.stack(rows, dim=1)
    x = ln(x, "to_patch_embedding.1")
    x = x @ sd["to_patch_embedding.2.weight"].t() + sd["to_patch_embedding.2.bias"]
    x = ln(x, "to_patch_embedding.3")
    d = x.shape[-1]
    z = torch.cat([sd["cls_token"].expand(b, 1, d), x], dim=1) + sd["pos_embedding"][:, : x.shape[1] + 1]
    hd = d // heads
    for l in range(depth):
        pre = f"transformer.layers.{l}."
        y = ln(z, pre + "0.norm")
        w = y @ sd[pre + "0.fn.qkv.weight"].t()
        outs = []
        for k in range(heads):
            wk = w[:, :, k * hd:(k + 1) * hd]
            scores = wk @ wk.transpose(1, 2) / (hd ** 0.5)
            scores = scores - scores.max(dim=-1, keepdim=True).values
            e = torch.exp(scores)
            outs.append((e / e.sum(dim=-1, keepdim=True)) @ wk)
        o = torch.cat(outs, dim=-1)
        z_half = z + o @ sd[pre + "0.fn.to_out.0.weight"].t() + sd[pre + "0.fn.to_out.0.bias"]
        xx = ln(z_half, pre + "1.norm")
        dd = sd[pre + "1.fn.weight"]
        z = torch.clamp(xx + eta * (xx @ dd - (xx @ dd.t()) @ dd) - eta * lambd, min=0)
    pooled = z.mean(dim=1) if pool == "mean" else z[:, 0]
    pooled = ln(pooled, "mlp_head.0")
    return pooled @ sd["mlp_head.1.weight"].t() + sd["mlp_head.1.bias"]


# ----------------------------------------------------------------------------------------------------------
# safetensors (hand-written: 8-byte little-endian header length, JSON header, little-endian data)
# ----------------------------------------------------------------------------------------------------------

_DTYPES = {
    torch.float32: ("F32", "<f4"),
    torch.float64: ("F64", "<f8"),
    torch.int64: ("I64", "<i8"),
}
_BY_NAME = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8)}


def _tensor_bytes(t):
    import numpy as np  # numpy ships with torch; used only to pin the byte order
    _, np_dtype = _DTYPES[t.dtype]
    return np.ascontiguousarray(t.detach().cpu().numpy()).astype(np_dtype, copy=False).tobytes()


def save_safetensors(path, tensors, metadata=None):
    """Write ``tensors`` (name -> tensor, written in the given order) and string ``metadata``."""
    header = {}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in _DTYPES:
            raise TypeError(f"{name}: dtype {t.dtype} not supported (F32, F64, I64 only)")
        data = _tensor_bytes(t)
        header[name] = {"dtype": _DTYPES[t.dtype][0], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata must map str to str, got {k!r}: {v!r}")
        header = {"__metadata__": dict(metadata), **header}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # pad with spaces so that the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for c in chunks:
            f.write(c)


def load_safetensors(path):
    """Read a safetensors file: returns (dict name -> tensor in file order, metadata dict)."""
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    out = {}
    end_max = 0
    for name, info in header.items():
        dtype, size = _BY_NAME[info["dtype"]]
        start, end = info["data_offsets"]
        count = 1
        for s in info["shape"]:
            count *= s
        if end - start != count * size or end > len(data):
            raise ValueError(f"{name}: bad data_offsets {info['data_offsets']} for shape {info['shape']}")
        end_max = max(end_max, end)
        arr = np.frombuffer(data[start:end], dtype=_DTYPES[dtype][1]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True))
    if end_max != len(data):
        raise ValueError(f"{path}: {len(data) - end_max} trailing bytes after the last tensor")
    return out, metadata

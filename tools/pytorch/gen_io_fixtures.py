"""Generate the checkpoint-format fixtures for crate-model's ai.crate.model.io tests.

    /usr/bin/python3 tools/pytorch/gen_io_fixtures.py [--out crate-model/src/test/resources/io]

Run with Debian's /usr/bin/python3 (torch 1.13, CPU). Everything is seeded; every file is a few KB.

Files torch.save wrote, each with an expected-values twin (<name>.expected.safetensors) that this script writes by
hand with struct + json, so the Java tests also cross-check the Java safetensors reader against an independent
writer. A twin holds every tensor contiguous in its own dtype under the same (stripped) key, plus ``as_f32/<key>``
= ``t.float()`` for every floating tensor (what the Java reader must produce for F16/BF16/F64), and the metadata
the Java reader must report.

  plain_state_dict.pth     OrderedDict of F32, F16, BF16, F64, I64, I32, I16, I8, U8 and BOOL tensors, a 0-d scalar,
                           an empty [0, 3] tensor, a transposed view, a sliced view with a storage offset, a tensor
                           sharing another's storage, and an nn.Parameter saved directly (_rebuild_parameter).
  checkpoint.pth.tar       a training checkpoint as the ImageNet-style scripts write it: {'epoch', 'arch',
                           'state_dict' of a DataParallel model ('module.' prefixes), 'best_acc1' (0-d tensor),
                           'optimizer' (AdamW after two steps), 'scheduler' (LambdaLR)}.
  model_key.pth            {'model': plain state_dict, 'epoch', 'best_acc1' (Python float), 'optimizer' (SGD with
                           momentum), 'lr_scheduler' (CosineAnnealingLR)}; saved under another file name, so the
                           archive's entry prefix is not 'archive/'.
  big_endian.pth           a torch.save archive rewritten as a big-endian machine writes it ('byteorder' = 'big',
                           storages byte-swapped).

Files the reader must refuse (no twin):

  legacy.pth               torch.save(..., _use_new_zipfile_serialization=False) (the one file that differs from run
                           to run: the legacy format keys storages by object address).
  truncated.pth            the first half of plain_state_dict.pth.
  missing_storage.pth      a valid archive with its storage entry removed.
  short_storage.pth        a valid archive whose storage entry is cut to 8 of 20 bytes.
  malicious_os_system.pth  data.pkl calls os.system('touch /tmp/crate_io_pwned_marker') via GLOBAL (protocol 2).
  malicious_eval.pth       data.pkl is a dict whose second value is builtins.eval(...) via STACK_GLOBAL (protocol 4).
  malicious_getattr.pth    data.pkl calls __builtin__.getattr via GLOBAL.
The malicious pickles are written opcode by opcode and only disassembled here (pickletools), never loaded.
"""

import argparse
import collections
import io
import json
import os
import pickletools
import struct
import zipfile

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crate-model", "src", "test", "resources", "io"))

SAFETENSORS_DTYPE = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def raw_le_bytes(t):
    """The tensor's elements, row-major, little-endian, in its own dtype."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)  # numpy has no bfloat16; the bits are what we store
    a = t.numpy()
    return a.astype(a.dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata):
    """An independent safetensors writer: insertion-ordered layout, header padded with spaces to 8 bytes."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in tensors.items():
        data = raw_le_bytes(t)
        header[name] = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_expected(path, tensors, metadata=None):
    """The twin: each tensor in its own dtype, plus as_f32/<key> = t.float() for floating tensors."""
    out = collections.OrderedDict()
    for name, t in tensors.items():
        out[name] = t.detach()
    for name, t in tensors.items():
        if t.dtype.is_floating_point:
            out["as_f32/" + name] = t.detach().float()
    write_safetensors(path, out, metadata or {})


def nonzero(t):
    assert t.numel() == 0 or bool((t != 0).any()), "fixture tensors must not be all zero"
    return t


def plain_state_dict():
    g = torch.Generator().manual_seed(20240601)
    sd = collections.OrderedDict()
    sd["weight_f32"] = torch.randn(3, 17, generator=g)
    # F16: normal values plus the edges: largest finite, smallest subnormal, a value that rounds, infinity.
    sd["half"] = torch.cat([torch.randn(6, generator=g),
                            torch.tensor([65504.0, -65504.0, 5.960464477539063e-08, 1 / 3, -2.5, float("inf")])]
                           ).to(torch.float16).reshape(3, 4)
    sd["bf16"] = torch.cat([torch.randn(5, generator=g), torch.tensor([1e38, -3.3e38, 1 / 3])]).to(torch.bfloat16)
    # F64 values that float32 must round (0.1, 1/3, a float32 subnormal) as .float() rounds them.
    sd["f64"] = torch.tensor([[0.1, 1 / 3], [1e-40, -123456789.123456789]], dtype=torch.float64)
    sd["counts_i64"] = torch.tensor([-(2 ** 40), 7, 2 ** 62 + 1], dtype=torch.int64)
    sd["i32"] = torch.tensor([-5, 2 ** 31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([[-32768, 1234]], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 3], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["mask_bool"] = torch.tensor([True, False, True, True])
    sd["scalar"] = torch.tensor(2.75)
    sd["empty"] = torch.empty(0, 3)
    base = torch.randn(3, 4, generator=g)
    sd["transposed"] = base.t()                          # [4, 3], strides (1, 4), same storage as base
    sliced_base = torch.randn(4, 6, generator=g)
    sd["sliced"] = sliced_base[1:, 1::2]                 # [3, 3], offset 7, strides (6, 2)
    sd["tied"] = sd["weight_f32"]                        # two keys, one storage
    sd["param"] = nn.Parameter(torch.randn(2, 2, generator=g))
    for name, t in sd.items():
        nonzero(t)
    assert not sd["transposed"].is_contiguous() and sd["sliced"].storage_offset() == 7
    return sd


class Tiny(nn.Module):
    """A stand-in with CRATE-like parameter names; what matters here is the checkpoint's structure."""

    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 4))
        self.proj = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.register_buffer("seen", torch.tensor(7))  # an int64 buffer

    def forward(self, x):
        return self.norm(self.proj(x + self.cls_token[0]))


def train(model, opt, sched, steps, seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        opt.zero_grad()
        loss = (model(torch.randn(5, 4, generator=g)) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()


def stripped(sd):
    return collections.OrderedDict((k[len("module."):] if k.startswith("module.") else k, v) for k, v in sd.items())


def save_zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)  # fixed time: reproducible


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def malicious(out):
    # Protocol 2: os.system('touch ...') -- GLOBAL, a one-tuple, REDUCE.
    def unicode4(s):
        return b"X" + struct.pack("<I", len(s.encode())) + s.encode()
    os_system = b"\x80\x02" + b"cos\nsystem\n" + unicode4("touch /tmp/crate_io_pwned_marker") + b"\x85R."
    # Protocol 4: {'a': 1, 'x': builtins.eval('print(1)')} -- the global is found mid-dict, through STACK_GLOBAL.
    def short_str(s):
        return b"\x8c" + bytes([len(s)]) + s.encode()
    evil = (b"\x80\x04}(" + short_str("a") + b"K\x01" + short_str("x") + short_str("builtins") + short_str("eval")
            + b"\x93" + short_str("print(1)") + b"\x85Ru.")
    # Protocol 2: __builtin__.getattr(0, '__class__').
    getattr_ = b"\x80\x02" + b"c__builtin__\ngetattr\n" + b"K\x00" + unicode4("__class__") + b"\x86R."
    for name, pkl in [("malicious_os_system.pth", os_system), ("malicious_eval.pth", evil),
                      ("malicious_getattr.pth", getattr_)]:
        pickletools.dis(pkl, out=io.StringIO())  # well-formed; disassembling runs nothing
        save_zip(os.path.join(out, name), [("archive/data.pkl", pkl), ("archive/version", b"3\n")])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)

    # --- plain state_dict --------------------------------------------------------------------------------------
    sd = plain_state_dict()
    torch.save(sd, os.path.join(out, "plain_state_dict.pth"))
    write_expected(os.path.join(out, "plain_state_dict.expected.safetensors"), sd)

    # --- training checkpoint: DataParallel, AdamW, LambdaLR ----------------------------------------------------
    torch.manual_seed(11)
    model = nn.DataParallel(Tiny())  # no GPU needed: it only wraps, and prefixes every key with 'module.'
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
    train(model, opt, sched, steps=2, seed=3)
    ck_sd = model.state_dict()
    assert all(k.startswith("module.") for k in ck_sd)
    torch.save({"epoch": 10, "arch": "CRATE_small", "state_dict": ck_sd, "best_acc1": torch.tensor(78.25),
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
               os.path.join(out, "checkpoint.pth.tar"))
    write_expected(os.path.join(out, "checkpoint.expected.safetensors"), stripped(ck_sd),
                   {"epoch": "10", "arch": "CRATE_small", "best_acc1": "78.25"})

    # --- 'model' key, SGD with momentum, CosineAnnealingLR ----------------------------------------------------
    torch.manual_seed(12)
    tiny = Tiny()
    sgd = torch.optim.SGD(tiny.parameters(), lr=0.1, momentum=0.9)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, T_max=10)
    train(tiny, sgd, cosine, steps=2, seed=4)
    torch.save({"model": tiny.state_dict(), "epoch": 3, "best_acc1": 61.5, "optimizer": sgd.state_dict(),
                "lr_scheduler": cosine.state_dict()}, os.path.join(out, "model_key.pth"))
    write_expected(os.path.join(out, "model_key.expected.safetensors"), tiny.state_dict(),
                   {"epoch": "3", "best_acc1": "61.5"})
    names = zipfile.ZipFile(os.path.join(out, "model_key.pth")).namelist()
    assert names[0] == "model_key/data.pkl", names

    # --- big-endian rewrite ----------------------------------------------------------------------------------
    g = torch.Generator().manual_seed(99)
    be = collections.OrderedDict(w=torch.randn(5, generator=g),                    # 20 bytes
                                 n=torch.tensor([-3, 2 ** 50, 9], dtype=torch.int64),  # 24 bytes
                                 h=torch.randn(7, generator=g).half())                # 14 bytes
    buf = io.BytesIO()
    torch.save(be, buf)
    tmp = os.path.join(out, "big_endian.pth")
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    itemsize_by_size = {20: 4, 24: 8, 14: 2}  # each storage recognised by its byte length
    rewritten = []
    for name, data in read_zip(tmp):
        if "/data/" in name:
            k = itemsize_by_size[len(data)]
            data = b"".join(data[i:i + k][::-1] for i in range(0, len(data), k))
        rewritten.append((name, data))
    prefix = rewritten[0][0].split("/")[0]
    rewritten.append((prefix + "/byteorder", b"big"))
    save_zip(tmp, rewritten)
    write_expected(os.path.join(out, "big_endian.expected.safetensors"), be)

    # --- files to refuse -------------------------------------------------------------------------------------
    torch.save(collections.OrderedDict(w=torch.randn(2, 3)), os.path.join(out, "legacy.pth"),
               _use_new_zipfile_serialization=False)
    plain = open(os.path.join(out, "plain_state_dict.pth"), "rb").read()
    with open(os.path.join(out, "truncated.pth"), "wb") as f:
        f.write(plain[: len(plain) // 2])

    one = io.BytesIO()
    torch.save(collections.OrderedDict(w=torch.randn(5)), one)  # one F32 storage of 20 bytes, key '0'
    entries = read_zip(one)
    assert [n for n, _ in entries if "/data/" in n] == ["archive/data/0"], entries
    save_zip(os.path.join(out, "missing_storage.pth"), [(n, d) for n, d in entries if n != "archive/data/0"])
    save_zip(os.path.join(out, "short_storage.pth"),
             [(n, d[:8] if n == "archive/data/0" else d) for n, d in entries])

    malicious(out)

    # --- self-check: torch reads back what the twins say -------------------------------------------------------
    loaded = torch.load(os.path.join(out, "plain_state_dict.pth"))
    for k, v in sd.items():
        assert torch.equal(loaded[k], v.detach()), k
    for name in sorted(os.listdir(out)):
        print(f"{os.path.getsize(os.path.join(out, name)):7d}  {name}")


if __name__ == "__main__":
    main()

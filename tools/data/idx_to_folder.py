"""Writes Fashion-MNIST (or any IDX pair) as a folder of PNGs per class, plus IDX files of the same images in the
folder's order, so the folder route and the IDX route of `crate train` can be compared on identical data.

  /usr/bin/python3 tools/data/idx_to_folder.py --classes 2,4 --out /tmp/fm-folder
  -> /tmp/fm-folder/{train,test}/<class>/<index>.png and /tmp/fm-folder/idx/{train,t10k}-{images,labels}-idx*-ubyte

Needs python3-pil. Labels in the IDX copy are renumbered 0..k-1 in the order of --classes.
"""
import argparse
import gzip
import struct
from pathlib import Path

from PIL import Image

NAMES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]


def read_idx(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return dims, f.read()


def find(folder, base):
    for name in (base, base + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"{folder}: no {base}(.gz)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--idx", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--classes", default="2,4", help="labels to keep, comma-separated (default: Pullover, Coat)")
    p.add_argument("--limit", type=int, default=0, help="at most this many images per class and split (0: all)")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    keep = [int(c) for c in a.classes.split(",")]
    src, out = Path(a.idx), Path(a.out)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        (h, w_rows, w_cols), pixels = read_idx(find(src, f"{prefix}-images-idx3-ubyte"))[0], None
        dims, pixels = read_idx(find(src, f"{prefix}-images-idx3-ubyte"))
        _, labels = read_idx(find(src, f"{prefix}-labels-idx1-ubyte"))
        n, rows, cols = dims
        size = rows * cols
        chosen = []  # (class position, index) in the folder's order: class folder, then file name
        for k, label in enumerate(keep):
            idx = [i for i in range(n) if labels[i] == label]
            if a.limit:
                idx = idx[: a.limit]
            for i in idx:
                folder = out / split / f"{label}_{NAMES[label]}"
                folder.mkdir(parents=True, exist_ok=True)
                Image.frombytes("L", (cols, rows), pixels[i * size:(i + 1) * size]).save(folder / f"{i:05d}.png")
                chosen.append((k, i))
        idx_dir = out / "idx"
        idx_dir.mkdir(parents=True, exist_ok=True)
        with open(idx_dir / f"{prefix}-images-idx3-ubyte", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, len(chosen), rows, cols))
            for _, i in chosen:
                f.write(pixels[i * size:(i + 1) * size])
        with open(idx_dir / f"{prefix}-labels-idx1-ubyte", "wb") as f:
            f.write(struct.pack(">II", 0x801, len(chosen)))
            f.write(bytes(k for k, _ in chosen))
        print(f"{split}: {len(chosen)} images in {len(keep)} classes")


if __name__ == "__main__":
    main()

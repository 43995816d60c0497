"""PIL's bilinear resize and grey conversion on seeded random images: the reference for ai.crate.model.data.Picture.

Writes crate-model/src/test/resources/images/pil_resize.json. Run with Debian's /usr/bin/python3 (python3-pil).
PIL works in 8-bit fixed point and rounds between its horizontal and vertical passes; ours rounds once, so values
may differ by one grey level (the test says so and bounds the mean difference too).
"""
import json
import random
from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parents[2] / "crate-model/src/test/resources/images/pil_resize.json"


def planes(img):
    """[C, H, W] bytes, flattened, as Picture stores them."""
    bands = img.split()
    return [v for band in bands for v in band.getdata()]


def main():
    rng = random.Random(7)
    cases = []
    for mode, (w, h) in (("L", (37, 23)), ("RGB", (29, 41))):
        channels = 1 if mode == "L" else 3
        data = bytes(rng.randrange(256) for _ in range(w * h * channels))
        img = Image.frombytes(mode, (w, h), data)
        src = planes(img)
        for out_w, out_h, box in ((13, 9, None), (64, 50, None), (28, 28, (5, 3, 25, 20)), (31, 17, (0.5, 1.25, 20.75, 22.5))):
            resized = img.resize((out_w, out_h), Image.BILINEAR, box=box)
            cases.append({"mode": mode, "height": h, "width": w, "pixels": src, "out_height": out_h,
                          "out_width": out_w, "box": list(box) if box else [0, 0, w, h], "expected": planes(resized)})
    rgb = cases[-1]
    grey = Image.frombytes("RGB", (rgb["width"], rgb["height"]), bytes(
        [rgb["pixels"][c * rgb["height"] * rgb["width"] + i] for i in range(rgb["height"] * rgb["width"]) for c in range(3)]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"resize": cases, "luma": {"height": rgb["height"], "width": rgb["width"],
                                                          "pixels": rgb["pixels"], "expected": planes(grey.convert("L"))}}))
    print("wrote", OUT)


if __name__ == "__main__":
    main()

package ai.crate.model.data;

import ai.crate.engine.CounterRandom;
import java.util.Arrays;

/**
 * Training-time augmentation as in the usual CIFAR recipe: pad the image with {@code pad} zero pixels on each side,
 * crop it back to its size at a random offset, then flip it left to right with probability ½ if {@code flip}.
 * Padding is zero in pixel space (black, as torchvision's RandomCrop pads before ToTensor and Normalize), so after
 * normalisation it is −mean/std, not 0.
 */
public record Augmentation(int pad, boolean flip) {
    public Augmentation {
        if (pad < 0) throw new IllegalArgumentException("augmentation padding " + pad + " must be >= 0");
    }

    public static Augmentation none() { return new Augmentation(0, false); }

    /** Random crop with {@code pad} pixels of padding and random horizontal flip. */
    public static Augmentation cropAndFlip(int pad) { return new Augmentation(pad, true); }

    public boolean isNone() { return pad == 0 && !flip; }

    /**
     * Where the crop window starts in the padded image (0..2·pad in each direction; pad, pad is the original) and
     * whether the crop is then mirrored.
     */
    record Placement(int top, int left, boolean mirrored) {}

    /** The placement of the example at {@code position} of an epoch: a pure function of the key and the position. */
    Placement place(long epochKey, long position) {
        int range = 2 * pad + 1;
        int top = pad == 0 ? 0 : (int) Long.remainderUnsigned(CounterRandom.bits(epochKey, 3 * position), range);
        int left = pad == 0 ? 0 : (int) Long.remainderUnsigned(CounterRandom.bits(epochKey, 3 * position + 1), range);
        boolean mirrored = flip && (CounterRandom.bits(epochKey, 3 * position + 2) & 1) != 0;
        return new Placement(top, left, mirrored);
    }

    /**
     * Writes one image of {@code channels}×{@code height}×{@code width} bytes from {@code src[srcOffset..]} to
     * {@code dst[dstOffset..]} as floats: cropped and mirrored as {@code at} says (padding {@code pad}), each byte
     * mapped through {@code table[c]} (see {@link Normalization}).
     */
    static void render(byte[] src, int srcOffset, int channels, int height, int width, int pad, Placement at,
            float[][] table, float[] dst, int dstOffset) {
        int dy = at.top() - pad, dx = at.left() - pad; // output (y, x) reads source (y + dy, x + dx) before mirroring
        for (int c = 0; c < channels; c++) {
            float[] lut = table[c];
            float zero = lut[0];
            int plane = srcOffset + c * height * width;
            for (int y = 0; y < height; y++) {
                int out = dstOffset + (c * height + y) * width;
                int sy = y + dy;
                if (sy < 0 || sy >= height) {
                    Arrays.fill(dst, out, out + width, zero);
                    continue;
                }
                int row = plane + sy * width;
                for (int x = 0; x < width; x++) {
                    int sx = (at.mirrored() ? width - 1 - x : x) + dx;
                    dst[out + x] = sx < 0 || sx >= width ? zero : lut[src[row + sx] & 0xFF];
                }
            }
        }
    }
}

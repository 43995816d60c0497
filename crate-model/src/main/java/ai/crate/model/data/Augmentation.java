package ai.crate.model.data;

import ai.crate.engine.CounterRandom;
import java.util.Arrays;

/**
 * Training-time augmentation, one of two kinds, each followed by a left-right flip with probability ½ if {@code flip}:
 * <ul>
 *   <li>the usual CIFAR recipe: pad the image with {@code pad} zero pixels on each side and crop it back to its size
 *       at a random offset. Padding is zero in pixel space (black, as torchvision's RandomCrop pads before ToTensor
 *       and Normalize), so after normalisation it is −mean/std, not 0;</li>
 *   <li>torchvision's {@code RandomResizedCrop(scale = (minScale, 1), ratio = (3/4, 4/3))} when {@code minScale > 0}:
 *       a random region of a random share of the image's area and aspect ratio, resized (bilinear, {@link Picture})
 *       to the output size. The source may be any size.</li>
 * </ul>
 * Without augmentation an image of another size than the output is resized and centre-cropped
 * ({@link Picture#fitted}), as evaluation transforms do.
 */
public record Augmentation(int pad, boolean flip, double minScale) {
    private static final double MIN_RATIO = 3.0 / 4, MAX_RATIO = 4.0 / 3;
    private static final int ATTEMPTS = 10;   // torchvision's, before its centre-crop fallback

    public Augmentation {
        if (pad < 0) throw new IllegalArgumentException("augmentation padding " + pad + " must be >= 0");
        if (!(minScale == 0 || minScale > 0 && minScale <= 1)) {
            throw new IllegalArgumentException("random-resized-crop scale " + minScale + " must be in (0, 1] (0: none)");
        }
        if (pad > 0 && minScale > 0) {
            throw new IllegalArgumentException("pad-and-crop (pad " + pad + ") and random-resized crop (scale "
                    + minScale + ") do not combine");
        }
    }

    /** Pad-and-crop with {@code pad} pixels (0: none) and the flip if asked. */
    public Augmentation(int pad, boolean flip) { this(pad, flip, 0); }

    public static Augmentation none() { return new Augmentation(0, false); }

    /** Random crop with {@code pad} pixels of padding and random horizontal flip. */
    public static Augmentation cropAndFlip(int pad) { return new Augmentation(pad, true); }

    /** torchvision's RandomResizedCrop with scale (minScale, 1), then the flip if asked. */
    public static Augmentation randomResizedCrop(double minScale, boolean flip) {
        if (!(minScale > 0)) throw new IllegalArgumentException("random-resized-crop scale " + minScale + " must be > 0");
        return new Augmentation(0, flip, minScale);
    }

    public boolean isNone() { return pad == 0 && !flip && minScale == 0; }

    public boolean resizesCrops() { return minScale > 0; }

    /**
     * Where the crop window lies: for pad-and-crop its offset in the padded image (0..2·pad in each direction; pad,
     * pad is the original), for a resized crop the region of the source (height × width; 0 × 0 for pad-and-crop,
     * whose window is the image's size); and whether the crop is then mirrored.
     */
    record Placement(int top, int left, int height, int width, boolean mirrored) {
        Placement(int top, int left, boolean mirrored) { this(top, left, 0, 0, mirrored); }
    }

    /**
     * The placement of the example at {@code position} of an epoch in a source of sourceHeight × sourceWidth: a pure
     * function of the key, the position and the source's size.
     */
    Placement place(long epochKey, long position, int sourceHeight, int sourceWidth) {
        if (minScale > 0) return resizedCrop(CounterRandom.bits(epochKey, position), sourceHeight, sourceWidth);
        int range = 2 * pad + 1;
        int top = pad == 0 ? 0 : (int) Long.remainderUnsigned(CounterRandom.bits(epochKey, 3 * position), range);
        int left = pad == 0 ? 0 : (int) Long.remainderUnsigned(CounterRandom.bits(epochKey, 3 * position + 1), range);
        boolean mirrored = flip && (CounterRandom.bits(epochKey, 3 * position + 2) & 1) != 0;
        return new Placement(top, left, mirrored);
    }

    /** torchvision's RandomResizedCrop.get_params, with counter-based draws from the example's own key. */
    private Placement resizedCrop(long key, int height, int width) {
        boolean mirrored = flip && (CounterRandom.bits(key, 4 * ATTEMPTS) & 1) != 0;
        double area = (double) height * width;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            double target = area * (minScale + (1 - minScale) * uniform(key, 4 * attempt));
            double ratio = StrictMath.exp(StrictMath.log(MIN_RATIO) + (StrictMath.log(MAX_RATIO) - StrictMath.log(MIN_RATIO))
                    * uniform(key, 4 * attempt + 1));
            int w = (int) Math.rint(Math.sqrt(target * ratio)), h = (int) Math.rint(Math.sqrt(target / ratio));
            if (w > 0 && w <= width && h > 0 && h <= height) {
                int top = (int) Long.remainderUnsigned(CounterRandom.bits(key, 4 * attempt + 2), height - h + 1);
                int left = (int) Long.remainderUnsigned(CounterRandom.bits(key, 4 * attempt + 3), width - w + 1);
                return new Placement(top, left, h, w, mirrored);
            }
        }
        double inRatio = (double) width / height;   // fallback: the centre, aspect ratio clamped to the range
        int w = width, h = height;
        if (inRatio < MIN_RATIO) h = (int) Math.rint(w / MIN_RATIO);
        else if (inRatio > MAX_RATIO) w = (int) Math.rint(h * MAX_RATIO);
        h = Math.min(h, height);
        w = Math.min(w, width);
        return new Placement((height - h) / 2, (width - w) / 2, h, w, mirrored);
    }

    private static double uniform(long key, long counter) {
        return (CounterRandom.bits(key, counter) >>> 11) * 0x1p-53;
    }

    /**
     * Writes {@code picture}, augmented as this record says for the example at {@code position} of the epoch keyed
     * {@code epochKey}, to {@code dst[dstOffset..]} as [C, outHeight, outWidth] floats, each byte mapped through
     * {@code table[c]} (see {@link Normalization}).
     */
    void apply(Picture picture, long epochKey, long position, int outHeight, int outWidth, float[][] table,
            float[] dst, int dstOffset) {
        Picture src = picture;
        if (minScale > 0) {
            Placement at = place(epochKey, position, src.height(), src.width());
            src = src.resized(at.top(), at.left(), at.height(), at.width(), outHeight, outWidth);
            render(src.pixels(), 0, src.channels(), outHeight, outWidth, 0,
                    new Placement(0, 0, at.mirrored()), table, dst, dstOffset);
            return;
        }
        if (src.height() != outHeight || src.width() != outWidth) {
            if (outHeight != outWidth) {
                throw new IllegalArgumentException("a " + src.height() + "×" + src.width() + " image does not fit "
                        + outHeight + "×" + outWidth + " without a resize policy for non-square outputs");
            }
            src = src.fitted(outHeight);
        }
        render(src.pixels(), 0, src.channels(), outHeight, outWidth, pad,
                place(epochKey, position, outHeight, outWidth), table, dst, dstOffset);
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

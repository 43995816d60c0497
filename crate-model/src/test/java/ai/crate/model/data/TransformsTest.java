package ai.crate.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Normalisation and augmentation on a hand-made 2-channel 3×4 image whose every pixel is different. */
class TransformsTest {
    private static final int C = 2, H = 3, W = 4;
    // channel 0: 10·y + x + 1; channel 1: 100 + 10·y + x
    private static final byte[] IMAGE = {
        1, 2, 3, 4,
        11, 12, 13, 14,
        21, 22, 23, 24,
        (byte) 100, (byte) 101, (byte) 102, (byte) 103,
        (byte) 110, (byte) 111, (byte) 112, (byte) 113,
        (byte) 120, (byte) 121, (byte) 122, (byte) 123,
    };

    /** Source pixel (c, y, x), or 0 (the padding) outside the image. */
    private static int source(int c, int y, int x) {
        return y < 0 || y >= H || x < 0 || x >= W ? 0 : IMAGE[(c * H + y) * W + x] & 0xFF;
    }

    private static float[] render(int pad, int top, int left, boolean mirrored, Normalization norm) {
        float[] out = new float[C * H * W + 2];
        out[0] = out[out.length - 1] = Float.NaN; // the image goes at offset 1 and must not spill
        Augmentation.render(IMAGE, 0, C, H, W, pad, new Augmentation.Placement(top, left, mirrored),
                norm.lookupTable(C), out, 1);
        assertTrue(Float.isNaN(out[0]) && Float.isNaN(out[out.length - 1]));
        return Arrays.copyOfRange(out, 1, out.length - 1);
    }

    /** The expected output: source (y + top − pad, mirrored-or-not x + left − pad) through the normalisation. */
    private static float[] expected(int pad, int top, int left, boolean mirrored, float[] mean, float[] std) {
        float[] out = new float[C * H * W];
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int sx = (mirrored ? W - 1 - x : x) + left - pad;
                    float v = source(c, y + top - pad, sx) / 255f;
                    out[(c * H + y) * W + x] = mean == null ? v : (v - mean[c]) / std[c];
                }
        return out;
    }

    @Test
    void noneScalesToTheUnitInterval() {
        float[] out = render(0, 0, 0, false, Normalization.none());
        assertEquals(1 / 255f, out[0]);
        assertEquals(123 / 255f, out[C * H * W - 1]);
        assertArrayEquals(expected(0, 0, 0, false, null, null), out);
    }

    @Test
    void normalizationIsPerChannel() {
        float[] mean = {0.5f, 0.25f}, std = {0.25f, 2f};
        float[] out = render(0, 0, 0, false, new Normalization(mean, std));
        assertEquals((1 / 255f - 0.5f) / 0.25f, out[0]);
        assertEquals((100 / 255f - 0.25f) / 2f, out[H * W]);
        assertArrayEquals(expected(0, 0, 0, false, mean, std), out);
    }

    @Test
    void cropOffsetsShiftTheImageAndPadWithZeroPixels() {
        float[] mean = {0.5f, 0.25f}, std = {0.25f, 2f};
        Normalization norm = new Normalization(mean, std);
        // pad 1: top/left 1 is the original; 0 shifts the content down/right, 2 up/left.
        assertArrayEquals(render(0, 0, 0, false, norm), render(1, 1, 1, false, norm));
        for (int top = 0; top <= 2; top++)
            for (int left = 0; left <= 2; left++)
                assertArrayEquals(expected(1, top, left, false, mean, std), render(1, top, left, false, norm),
                        "top " + top + " left " + left);
        float[] shifted = render(1, 0, 0, false, norm);
        assertEquals((0 - 0.5f) / 0.25f, shifted[0]); // padding is a black pixel, normalised: −mean/std
        assertEquals((1 / 255f - 0.5f) / 0.25f, shifted[W + 1]); // pixel (0, 0) moved to (1, 1)
        // pad 3 on a 3-row image: the far crops see nothing but padding in some rows
        assertArrayEquals(expected(3, 6, 0, false, null, null), render(3, 6, 0, false, Normalization.none()));
    }

    @Test
    void flipMirrorsEachRowAfterTheCrop() {
        float[] flipped = render(0, 0, 0, true, Normalization.none());
        assertEquals(4 / 255f, flipped[0]);
        assertEquals(1 / 255f, flipped[3]);
        assertEquals(100 / 255f, flipped[H * W + 3]);
        for (int top = 0; top <= 4; top++)
            for (int left = 0; left <= 4; left++)
                assertArrayEquals(expected(2, top, left, true, null, null),
                        render(2, top, left, true, Normalization.none()), "top " + top + " left " + left);
    }

    @Test
    void placementsAreDeterministicInRangeAndVaried() {
        Augmentation aug = Augmentation.cropAndFlip(2);
        Set<Augmentation.Placement> seen = new HashSet<>();
        int mirrored = 0;
        for (int position = 0; position < 2000; position++) {
            Augmentation.Placement p = aug.place(12345, position, H, W);
            assertEquals(p, aug.place(12345, position, H, W));
            assertTrue(p.top() >= 0 && p.top() <= 4 && p.left() >= 0 && p.left() <= 4, p::toString);
            seen.add(p);
            if (p.mirrored()) mirrored++;
        }
        assertEquals(5 * 5 * 2, seen.size()); // every offset and both flips occur
        assertTrue(mirrored > 900 && mirrored < 1100, "mirrored " + mirrored + " of 2000");
        assertEquals(new Augmentation.Placement(0, 0, false), Augmentation.none().place(12345, 7, H, W));
        assertEquals(new Augmentation.Placement(0, 0, false), new Augmentation(0, false).place(99, 3, H, W));
    }

    @Test
    void resizedCropsFollowTorchvisionsScaleAndRatioRanges() {
        Augmentation aug = Augmentation.randomResizedCrop(0.2, true);
        int h = 60, w = 80, mirrored = 0;
        double smallest = 1, largest = 0;
        for (int position = 0; position < 2000; position++) {
            Augmentation.Placement p = aug.place(777, position, h, w);
            assertEquals(p, aug.place(777, position, h, w), "a pure function of (key, position, size)");
            assertTrue(p.top() >= 0 && p.left() >= 0 && p.top() + p.height() <= h && p.left() + p.width() <= w,
                    p::toString);
            double share = (double) p.height() * p.width() / (h * w), ratio = (double) p.width() / p.height();
            // rounding the sides to pixels moves the share and ratio a little past the drawn ones
            assertTrue(share > 0.2 * 0.9 && share <= 1, "share " + share);
            assertTrue(ratio > 0.75 * 0.9 && ratio < 4.0 / 3 * 1.1, "ratio " + ratio);
            smallest = Math.min(smallest, share);
            largest = Math.max(largest, share);
            if (p.mirrored()) mirrored++;
        }
        assertTrue(smallest < 0.25 && largest > 0.9, "shares span the range: " + smallest + ".." + largest);
        assertTrue(mirrored > 900 && mirrored < 1100, "mirrored " + mirrored + " of 2000");
        // a strip no draw fits: torchvision's fallback, the centre with the ratio clamped to 3/4..4/3
        Augmentation.Placement strip = Augmentation.randomResizedCrop(0.9, false).place(5, 0, 4, 100);
        assertEquals(new Augmentation.Placement(0, 47, 4, 5, false), strip);
    }

    @Test
    void aResizedCropIsTheRegionResizedThenMirrored() {
        Augmentation aug = Augmentation.randomResizedCrop(0.3, true);
        Picture src = new Picture(DataFiles.pixels(1, 2, 20, 30), 2, 20, 30);
        float[][] table = Normalization.none().lookupTable(2);
        for (int position = 0; position < 20; position++) {
            float[] got = new float[2 * 8 * 8];
            aug.apply(src, 99, position, 8, 8, table, got, 0);
            Augmentation.Placement p = aug.place(99, position, 20, 30);
            Picture region = src.resized(p.top(), p.left(), p.height(), p.width(), 8, 8);
            for (int c = 0; c < 2; c++) {
                for (int y = 0; y < 8; y++) {
                    for (int x = 0; x < 8; x++) {
                        int sx = p.mirrored() ? 7 - x : x;
                        assertEquals(region.pixel(c, y, sx) / 255f, got[(c * 8 + y) * 8 + x], "position " + position);
                    }
                }
            }
        }
    }

    @Test
    void withoutAugmentationAnotherSizeIsResizedAndCentreCropped() {
        Picture src = new Picture(DataFiles.pixels(1, 1, 12, 18), 1, 12, 18);
        float[] got = new float[36];
        Augmentation.none().apply(src, 1, 0, 6, 6, Normalization.none().lookupTable(1), got, 0);
        Picture want = src.fitted(6);
        for (int i = 0; i < 36; i++) assertEquals((want.pixels()[i] & 255) / 255f, got[i]);
    }

    @Test
    void invalidSettingsAreRefusedClearly() {
        assertThrows(IllegalArgumentException.class, () -> new Augmentation(-1, true));
        assertThrows(IllegalArgumentException.class, () -> new Augmentation(2, true, 0.5));
        assertThrows(IllegalArgumentException.class, () -> Augmentation.randomResizedCrop(1.5, true));
        assertThrows(IllegalArgumentException.class, () -> Augmentation.randomResizedCrop(0, true));
        assertThrows(IllegalArgumentException.class, () -> new Normalization(new float[] {0.5f}, new float[] {}));
        var zero = assertThrows(IllegalArgumentException.class,
                () -> new Normalization(new float[] {0.5f}, new float[] {0f}));
        assertTrue(zero.getMessage().contains("channel 0"), zero.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new Normalization(new float[] {Float.NaN}, new float[] {1f}));
        var channels = assertThrows(IllegalArgumentException.class,
                () -> Datasets.defaultNormalization("cifar10").checkChannels(1, "fashion-mnist/train"));
        assertEquals("normalization has mean and std for 3 channels but fashion-mnist/train has 1",
                channels.getMessage());
        Normalization.none().checkChannels(3, "any");
    }

    @Test
    void normalizationIsAValue() {
        float[] mean = {0.1f};
        Normalization n = new Normalization(mean, new float[] {0.2f});
        mean[0] = 9; // the record copied it
        assertEquals(new Normalization(new float[] {0.1f}, new float[] {0.2f}), n);
        n.mean()[0] = 9; // and hands out copies
        assertEquals(0.1f, n.mean()[0]);
    }
}

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
    void invalidSettingsAreRefusedClearly() {
        assertThrows(IllegalArgumentException.class, () -> new Augmentation(-1, true));
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

package ai.crate.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The cluttered scenes: rebuilt exactly from their provenance, a pure function of (seed, split, index). */
class ClutteredScenesTest {
    /** 40 random 28×28 items with bright and dark pixels, labels 0..9. */
    static ImageDataset items(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 40;
        byte[] px = new byte[n * 28 * 28];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (r.nextInt(3) == 0 ? r.nextInt(256) : r.nextInt(20));
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 10;
        return ImageDataset.of("fashion-mnist", px, labels, 1, 28, 28, 10, List.of());
    }

    @Test
    void everySceneIsRebuiltFromItsProvenance() {
        ImageDataset items = items(1);
        ClutteredScenes scenes = new ClutteredScenes(items, 7, false);
        for (int i = 0; i < items.size(); i++) {
            ClutteredScenes.Scene s = scenes.scene(i);
            assertEquals(i, s.source());
            assertEquals(items.label(i), s.label());
            assertTrue(s.row() >= 0 && s.row() <= 36 && s.column() >= 0 && s.column() <= 36, "item fully inside");
            int[] canvas = new int[64 * 64];
            boolean[] mask = new boolean[64 * 64];
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    int v = items.pixel(i, 0, y, x);
                    canvas[(s.row() + y) * 64 + s.column() + x] = v;
                    mask[(s.row() + y) * 64 + s.column() + x] = v > 25;
                }
            }
            for (int f = 0; f < 8; f++) {
                assertNotEquals(i, s.clutterSource()[f], "fragments come from other images");
                int[] crop = s.clutterCrop()[f], at = s.clutterOffset()[f];
                assertTrue(crop[0] <= 20 && crop[1] <= 20 && at[0] <= 56 && at[1] <= 56);
                for (int y = 0; y < 8; y++) {
                    for (int x = 0; x < 8; x++) {
                        int k = (at[0] + y) * 64 + at[1] + x;
                        canvas[k] = Math.max(canvas[k], items.pixel(s.clutterSource()[f], 0, crop[0] + y, crop[1] + x));
                    }
                }
            }
            int[] got = new int[64 * 64];
            for (int k = 0; k < got.length; k++) got[k] = s.pixels()[k] & 0xFF;
            assertArrayEquals(canvas, got, "scene " + i + ": the composite is the pixelwise max");
            assertArrayEquals(mask, s.mask(), "scene " + i + ": the mask is the item's pixels > 25 at its offset");
            assertArrayEquals(s.pixels(), scenes.picture(i).pixels());
        }
    }

    @Test
    void theSameSeedGivesTheSameScenesAndAnotherSeedOrSplitOthers() {
        ImageDataset items = items(2);
        ClutteredScenes a = new ClutteredScenes(items, 3, true), b = new ClutteredScenes(items, 3, true);
        ClutteredScenes other = new ClutteredScenes(items, 4, true), test = new ClutteredScenes(items, 3, false);
        int differSeed = 0, differSplit = 0;
        for (int i = 0; i < items.size(); i++) {
            assertArrayEquals(a.scene(i).pixels(), b.scene(i).pixels());
            assertArrayEquals(a.scene(i).clutterSource(), b.scene(i).clutterSource());
            if (!Arrays.equals(a.scene(i).pixels(), other.scene(i).pixels())) differSeed++;
            if (!Arrays.equals(a.scene(i).pixels(), test.scene(i).pixels())) differSplit++;
        }
        assertEquals(items.size(), differSeed, "another scene seed moves every scene");
        assertEquals(items.size(), differSplit, "the split is part of the scene's key");
        // order does not matter: scene 17 alone equals scene 17 after all the others
        assertArrayEquals(a.scene(17).pixels(), new ClutteredScenes(items, 3, true).scene(17).pixels());
    }

    @Test
    void offsetsSpreadOverTheCanvasAndStatisticsAreThePixels() {
        ImageDataset items = items(3);
        ClutteredScenes scenes = new ClutteredScenes(items, 0, true);
        boolean low = false, high = false;
        for (int i = 0; i < items.size(); i++) {
            low |= scenes.scene(i).row() < 8;
            high |= scenes.scene(i).row() > 28;
        }
        assertTrue(low && high, "rows near both edges among 40 scenes");
        Normalization n = scenes.statistics(5);
        double sum = 0;
        for (int i = 0; i < 5; i++) for (byte b : scenes.scene(i).pixels()) sum += (b & 0xFF) / 255.0;
        assertEquals(sum / (5 * 4096), n.mean()[0], 1e-6);
        assertFalse(scenes.inMemory());
        assertEquals("cluttered-fashion-mnist", scenes.name());
        var e = assertThrows(IllegalArgumentException.class, () -> new ClutteredScenes(
                ImageDataset.of("rgb", new byte[2 * 3 * 28 * 28], new int[] {0, 1}, 3, 28, 28, 2, List.of()), 0, true));
        assertTrue(e.getMessage().contains("single-channel"), e.getMessage());
    }
}

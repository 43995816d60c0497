package ai.crate.model.whitebox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SegmentationTest {
    @Test
    void iouOfSyntheticMasks() {
        boolean[] a = {true, true, false, false}, b = {false, true, true, false};
        assertEquals(1.0 / 3, Segmentation.iou(a, b), 1e-15);
        assertEquals(1.0, Segmentation.iou(a, a), 0);
        assertEquals(0.0, Segmentation.iou(a, new boolean[] {false, false, true, true}), 0);
        assertEquals(1.0, Segmentation.iou(new boolean[4], new boolean[4]), 0, "two empty masks agree");
        assertThrows(IllegalArgumentException.class, () -> Segmentation.iou(a, new boolean[3]));
    }

    @Test
    void maskKeepsTheFewestPatchesHoldingTheMass() {
        float[] att = {0.05f, 0.4f, 0.1f, 0.3f, 0.15f};
        assertArrayEquals(new boolean[] {false, true, false, true, false}, Segmentation.maskByMass(att, 0.6));
        assertArrayEquals(new boolean[] {false, true, false, true, true}, Segmentation.maskByMass(att, 0.8));
        assertEquals(5, Segmentation.count(Segmentation.maskByMass(att, 1.0)));
    }

    @Test
    void pixelsAndBaselineBox() {
        boolean[] grid = {true, false, false, true};
        boolean[] px = Segmentation.toPixels(grid, 2, 2);
        assertArrayEquals(new boolean[] {true, true, false, false, true, true, false, false, false, false, true, true,
                false, false, true, true}, px);
        boolean[] box = Segmentation.centredBox(7, 9);
        assertEquals(9, Segmentation.count(box));
        assertEquals(true, box[2 * 7 + 2] && box[4 * 7 + 4] && !box[1 * 7 + 1] && !box[5 * 7 + 5]);
        float[] maps = {1, 2, 3, 4, 5, 6, 7, 8};   // [B = 2, H = 2, patches = 2]
        assertArrayEquals(new float[] {5, 6}, Segmentation.headMap(maps, 1, 0, 2, 2), "image 1, head 0");
        assertArrayEquals(new float[] {3, 4}, Segmentation.headMap(maps, 0, 1, 2, 2), "image 0, head 1");
    }

    @Test
    void baselinesKeepTheAreaAndPickWhatTheySay() {
        boolean[] random = Segmentation.randomMask(5, 7, new java.util.SplittableRandom(1));
        assertEquals(7, Segmentation.count(random));
        assertFalse(java.util.Arrays.equals(random, Segmentation.randomMask(5, 7, new java.util.SplittableRandom(2))));
        float[] brightness = {0.1f, 0.9f, 0.3f, 0.8f};
        assertArrayEquals(new boolean[] {false, true, false, true}, Segmentation.brightestMask(brightness, 2));
        float[] image = new float[16];
        image[0] = 4;                                  // the top-left 2×2 patch holds one bright pixel
        assertArrayEquals(new float[] {1, 0, 0, 0}, Segmentation.patchBrightness(image, 2, 2));
        // a 3×3 grid whose first component is positive at the border and negative at the centre: flipped
        double[] pc = {1, 1, 1, 1, -8, 1, 1, 1, 1};
        boolean[] fg = Segmentation.pcaMask(pc, 3);
        assertTrue(fg[4] && Segmentation.count(fg) == 1, "the centre is the foreground");
        double[] same = {-1, -1, -1, -1, 8, -1, -1, -1, -1};
        assertArrayEquals(fg, Segmentation.pcaMask(same, 3), "the sign of a component does not matter");
    }
}

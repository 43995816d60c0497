package ai.crate.model.whitebox;

import java.util.Arrays;

/**
 * Emergent segmentation, scored: a foreground mask from one head's CLS attention over the patch grid (the patches
 * holding a fixed share of the attention mass), compared with a ground-truth foreground by intersection over union,
 * beside a trivial baseline of the same area (a centred box), so the number means something.
 */
public final class Segmentation {
    private Segmentation() {}

    /** One image's and head's map from head maps [B, H, patches], as {@code ImageClassifier.headMaps} gives them. */
    public static float[] headMap(float[] maps, int image, int head, int heads, int patches) {
        int at = (image * heads + head) * patches;
        return java.util.Arrays.copyOfRange(maps, at, at + patches);
    }

    /**
     * Patches kept as foreground: the fewest highest-attention patches whose attention adds up to at least
     * {@code massShare} of the row's total over patches (the DINO-style threshold), as a boolean grid.
     */
    public static boolean[] maskByMass(float[] patchAttention, double massShare) {
        int n = patchAttention.length;
        Integer[] order = new Integer[n];
        double total = 0;
        for (int i = 0; i < n; i++) { order[i] = i; total += patchAttention[i]; }
        Arrays.sort(order, (a, b) -> Float.compare(patchAttention[b], patchAttention[a]));
        boolean[] mask = new boolean[n];
        double kept = 0;
        for (int i = 0; i < n && kept < massShare * total; i++) {
            mask[order[i]] = true;
            kept += patchAttention[order[i]];
        }
        return mask;
    }

    /** A patch-grid mask scaled to pixels: each of grid × grid patches covers patch × patch pixels. */
    public static boolean[] toPixels(boolean[] patchMask, int grid, int patch) {
        int size = grid * patch;
        boolean[] px = new boolean[size * size];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) px[y * size + x] = patchMask[(y / patch) * grid + x / patch];
        }
        return px;
    }

    /** The centred square (on the patch grid) with as many patches as {@code count}, rounded to a whole side. */
    public static boolean[] centredBox(int grid, int count) {
        int side = Math.max(1, Math.min(grid, (int) Math.round(Math.sqrt(count))));
        int start = (grid - side) / 2;
        boolean[] m = new boolean[grid * grid];
        for (int y = start; y < start + side; y++) for (int x = start; x < start + side; x++) m[y * grid + x] = true;
        return m;
    }

    /** |a ∩ b| / |a ∪ b|; 1 when both are empty. */
    public static double iou(boolean[] a, boolean[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("masks of " + a.length + " and " + b.length + " pixels");
        int inter = 0, union = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] && b[i]) inter++;
            if (a[i] || b[i]) union++;
        }
        return union == 0 ? 1 : (double) inter / union;
    }

    public static int count(boolean[] m) {
        int c = 0;
        for (boolean v : m) if (v) c++;
        return c;
    }

    /** {@code count} patches of the grid drawn uniformly without replacement: the random baseline. */
    public static boolean[] randomMask(int grid, int count, java.util.SplittableRandom r) {
        int n = grid * grid;
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        boolean[] m = new boolean[n];
        for (int i = 0; i < Math.min(count, n); i++) {
            int j = i + r.nextInt(n - i);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
            m[order[i]] = true;
        }
        return m;
    }

    /** The {@code count} brightest patches by mean pixel value: the baseline that clutter should defeat. */
    public static boolean[] brightestMask(float[] patchBrightness, int count) {
        Integer[] order = new Integer[patchBrightness.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Float.compare(patchBrightness[b], patchBrightness[a]));
        boolean[] m = new boolean[order.length];
        for (int i = 0; i < Math.min(count, order.length); i++) m[order[i]] = true;
        return m;
    }

    /** Mean pixel value of each patch of a [size, size] image (channel 0) on a grid of patch × patch cells. */
    public static float[] patchBrightness(float[] pixels, int grid, int patch) {
        int size = grid * patch;
        float[] out = new float[grid * grid];
        for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) out[(y / patch) * grid + x / patch] += pixels[y * size + x];
        for (int i = 0; i < out.length; i++) out[i] /= patch * patch;
        return out;
    }

    /**
     * The unsupervised route of the segmentation paper: foreground = the positive side of the first principal
     * component's scores over the patch grid, its sign oriented so that most border patches are background.
     */
    public static boolean[] pcaMask(double[] firstComponent, int grid) {
        double border = 0;
        for (int i = 0; i < firstComponent.length; i++) {
            int y = i / grid, x = i % grid;
            if (y == 0 || x == 0 || y == grid - 1 || x == grid - 1) border += Math.signum(firstComponent[i]);
        }
        double sign = border > 0 ? -1 : 1;
        boolean[] m = new boolean[firstComponent.length];
        for (int i = 0; i < m.length; i++) m[i] = sign * firstComponent[i] > 0;
        return m;
    }
}

package ai.crate.model.data;

import java.util.List;
import java.util.Objects;

/**
 * Cluttered translated Fashion-MNIST (after the cluttered translated MNIST of Mnih et al., 2014): scene i of a split
 * is item i of that split (28×28) at a uniformly random offset fully inside a 64×64 black canvas, with
 * {@value #FRAGMENTS} clutter fragments — 8×8 crops of other images of the same split — at random places, composited
 * by the pixelwise maximum. Its label is the item's; its ground-truth mask is the item's pixels above
 * {@value #MASK_LEVEL}/255 at its offset. Every scene is a pure function of (scene seed, split, index), so a resumed
 * run and another machine see the same scenes, and {@link #scene} gives its provenance to rebuild it.
 */
public final class ClutteredScenes implements ImageSource {
    public static final int SIZE = 64;
    public static final int FRAGMENTS = 8;
    public static final int FRAGMENT = 8;
    public static final int MASK_LEVEL = 25;

    /**
     * One scene: the composite [64·64] (0..255), the mask, the label, the item's index in its split and its top-left
     * (row, column) on the canvas, and per fragment its source image, its top-left inside that image and on the canvas.
     */
    public record Scene(byte[] pixels, boolean[] mask, int label, int source, int row, int column, int[] clutterSource,
                        int[][] clutterCrop, int[][] clutterOffset) {}

    private final ImageDataset items;
    private final long seed;
    private final boolean train;

    /** The scenes of {@code items} (one split of a single-channel data set of at least two images). */
    public ClutteredScenes(ImageDataset items, long sceneSeed, boolean train) {
        this.items = Objects.requireNonNull(items, "items");
        if (items.channels() != 1 || items.height() > SIZE || items.width() > SIZE || items.height() < FRAGMENT
                || items.width() < FRAGMENT || items.size() < 2) {
            throw new IllegalArgumentException(items.name() + ": cluttered scenes need at least two single-channel "
                    + "images between " + FRAGMENT + " and " + SIZE + " pixels on a side, got " + items.size() + " of "
                    + items.channels() + "×" + items.height() + "×" + items.width());
        }
        this.seed = sceneSeed;
        this.train = train;
    }

    /** Scene {@code i} with its provenance. */
    public Scene scene(int i) {
        Objects.checkIndex(i, items.size());
        Draws r = new Draws(seed, train ? 1 : 2, i);
        int h = items.height(), w = items.width();
        byte[] canvas = new byte[SIZE * SIZE];
        boolean[] mask = new boolean[SIZE * SIZE];
        int row = r.next(SIZE - h + 1), column = r.next(SIZE - w + 1);
        byte[] item = items.image(i);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int v = item[y * w + x] & 0xFF, at = (row + y) * SIZE + column + x;
                canvas[at] = (byte) v;
                mask[at] = v > MASK_LEVEL;
            }
        }
        int[] sources = new int[FRAGMENTS];
        int[][] crops = new int[FRAGMENTS][], offsets = new int[FRAGMENTS][];
        for (int f = 0; f < FRAGMENTS; f++) {
            int src = r.next(items.size() - 1);
            if (src >= i) src++;                                   // another image than the item
            sources[f] = src;
            crops[f] = new int[] {r.next(h - FRAGMENT + 1), r.next(w - FRAGMENT + 1)};
            offsets[f] = new int[] {r.next(SIZE - FRAGMENT + 1), r.next(SIZE - FRAGMENT + 1)};
            byte[] other = items.image(src);
            for (int y = 0; y < FRAGMENT; y++) {
                for (int x = 0; x < FRAGMENT; x++) {
                    int v = other[(crops[f][0] + y) * w + crops[f][1] + x] & 0xFF;
                    int at = (offsets[f][0] + y) * SIZE + offsets[f][1] + x;
                    if (v > (canvas[at] & 0xFF)) canvas[at] = (byte) v;
                }
            }
        }
        return new Scene(canvas, mask, items.label(i), i, row, column, sources, crops, offsets);
    }

    @Override
    public Picture picture(int i) { return new Picture(scene(i).pixels(), 1, SIZE, SIZE); }

    /** Scene i's ground-truth mask, row-major 64×64. */
    public boolean[] mask(int i) { return scene(i).mask(); }

    @Override
    public String name() { return "cluttered-" + items.name(); }

    @Override
    public int size() { return items.size(); }

    @Override
    public int channels() { return 1; }

    @Override
    public int height() { return SIZE; }

    @Override
    public int width() { return SIZE; }

    @Override
    public int numClasses() { return items.numClasses(); }

    @Override
    public List<String> classNames() { return items.classNames(); }

    @Override
    public int label(int i) { return items.label(i); }

    /** Made on demand: the loader builds a batch's scenes in parallel. */
    @Override
    public boolean inMemory() { return false; }

    /** Mean and standard deviation of the pixels (0..1) over the first {@code count} scenes. */
    public Normalization statistics(int count) {
        double sum = 0, squares = 0;
        int n = Math.min(count, size());
        for (int i = 0; i < n; i++) {
            for (byte b : scene(i).pixels()) {
                double v = (b & 0xFF) / 255.0;
                sum += v;
                squares += v * v;
            }
        }
        double pixels = (double) n * SIZE * SIZE, mean = sum / pixels;
        return new Normalization(new float[] {(float) mean},
                new float[] {(float) Math.sqrt(Math.max(squares / pixels - mean * mean, 0))});
    }

    /** Counter-based draws: the k-th draw of scene (seed, split, index) is a hash of the four, not a stream's state. */
    private static final class Draws {
        private final long base;
        private long k;

        Draws(long seed, int split, int index) {
            this.base = mix(mix(seed ^ 0x5CE9E5L) + split * 0x9E3779B97F4A7C15L + index);
        }

        /** Uniform in [0, bound). */
        int next(int bound) {
            long z = mix(base + 0xBF58476D1CE4E5B9L * ++k);
            return (int) Math.floorMod(z >>> 1, (long) bound);
        }

        private static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }
    }

    @Override
    public String toString() { return name() + " (" + size() + " scenes, seed " + seed + ")"; }
}

package ai.crate.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The loader's contract: each example once per epoch, orders that depend only on (seed, epoch), augmentation only on
 * (seed, epoch, position), and so resuming at any (epoch, step) gives the rest of an uninterrupted run bit for bit.
 */
class BatchLoaderTest {
    private static final int N = 23, C = 2, H = 3, W = 5;

    /** N images whose label is their index, so a batch's labels say which examples it holds and in which order. */
    private static final ImageDataset DATA = ImageDataset.of("tiny", DataFiles.pixels(N, C, H, W),
            IntStream.range(0, N).toArray(), C, H, W, N, List.of());

    private static final Normalization NORM = new Normalization(new float[] {0.4f, 0.6f}, new float[] {0.2f, 0.3f});

    private static BatchLoader loader(boolean shuffle, boolean dropLast, Augmentation aug, long seed) {
        return new BatchLoader(DATA, 5, shuffle, dropLast, aug, NORM, seed);
    }

    private static List<Batch> all(BatchIterator it) {
        List<Batch> out = new ArrayList<>();
        try (it) {
            it.forEachRemaining(out::add);
        }
        return out;
    }

    /** The examples an epoch visits, in order. */
    private static int[] visited(BatchLoader loader, int epoch) {
        return all(loader.epoch(epoch, 0)).stream().flatMapToInt(b -> Arrays.stream(b.labels())).toArray();
    }

    @Test
    void everyExampleExactlyOncePerEpochInTheLoadersOrder() {
        BatchLoader l = loader(true, false, Augmentation.cropAndFlip(1), 7);
        assertEquals(5, l.stepsPerEpoch());
        for (int epoch = 0; epoch < 4; epoch++) {
            int[] seen = visited(l, epoch);
            assertArrayEquals(l.order(epoch), seen);
            assertArrayEquals(IntStream.range(0, N).toArray(), Arrays.stream(seen).sorted().toArray());
        }
    }

    @Test
    void ordersDifferByEpochAndSeedAndRepeatForTheSameSeed() {
        BatchLoader a = loader(true, false, Augmentation.none(), 7);
        assertFalse(Arrays.equals(a.order(0), a.order(1)));
        assertFalse(Arrays.equals(a.order(1), a.order(2)));
        assertArrayEquals(a.order(3), loader(true, false, Augmentation.none(), 7).order(3));
        assertFalse(Arrays.equals(a.order(0), loader(true, false, Augmentation.none(), 8).order(0)));
        assertFalse(Arrays.equals(IntStream.range(0, N).toArray(), a.order(0)));
    }

    @Test
    void withoutShufflingEveryEpochIsFileOrder() {
        BatchLoader l = loader(false, false, Augmentation.none(), 7);
        for (int epoch = 0; epoch < 3; epoch++) assertArrayEquals(IntStream.range(0, N).toArray(), visited(l, epoch));
    }

    @Test
    void imagesAreThePixelsScaledAndNormalised() {
        Batch b = loader(false, false, Augmentation.none(), 0).batch(0, 1);
        assertArrayEquals(new int[] {5, 6, 7, 8, 9}, b.labels());
        assertEquals(5 * C * H * W, b.images().length);
        for (int k = 0; k < 5; k++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        float p = DataFiles.pixel(5 + k, c, y, x) / 255f;
                        float want = (p - NORM.mean()[c]) / NORM.std()[c];
                        assertEquals(want, b.images()[((k * C + c) * H + y) * W + x]);
                    }
    }

    @Test
    void resumingAtAnyStepGivesTheRestOfAFullRunBitForBit() {
        BatchLoader l = loader(true, false, Augmentation.cropAndFlip(2), 42);
        List<List<Batch>> full = new ArrayList<>();
        for (int epoch = 0; epoch < 3; epoch++) full.add(all(l.epoch(epoch, 0)));
        // A fresh loader, as after a restart.
        BatchLoader resumed = loader(true, false, Augmentation.cropAndFlip(2), 42);
        for (int epoch = 0; epoch < 3; epoch++) {
            for (int start = 0; start <= l.stepsPerEpoch(); start++) {
                List<Batch> tail = all(resumed.epoch(epoch, start));
                assertEquals(full.get(epoch).subList(start, l.stepsPerEpoch()), tail,
                        "epoch " + epoch + " from " + start);
                for (int s = 0; s < tail.size(); s++) {
                    assertEquals(epoch, tail.get(s).epoch());
                    assertEquals(start + s, tail.get(s).stepInEpoch());
                }
            }
            for (int step = 0; step < l.stepsPerEpoch(); step++) {
                assertEquals(full.get(epoch).get(step), resumed.batch(epoch, step));
            }
        }
        assertNotEquals(full.get(0).get(0), loader(true, false, Augmentation.cropAndFlip(2), 43).batch(0, 0));
    }

    @Test
    void augmentationIsACropAndFlipOfTheSourceAndVaries() {
        BatchLoader aug = new BatchLoader(DATA, 5, false, false, Augmentation.cropAndFlip(1), Normalization.none(), 3);
        int unchanged = 0, mirrored = 0;
        for (int epoch = 0; epoch < 4; epoch++) {
            for (int step = 0; step < aug.stepsPerEpoch(); step++) {
                Batch b = aug.batch(epoch, step);
                for (int k = 0; k < b.size(); k++) {
                    float[] got = Arrays.copyOfRange(b.images(), k * C * H * W, (k + 1) * C * H * W);
                    Augmentation.Placement match = matchingPlacement(b.labels()[k], got);
                    assertTrue(match != null, "epoch " + epoch + " step " + step + " image " + k
                            + " is no crop and flip of its source");
                    if (match.equals(new Augmentation.Placement(1, 1, false))) unchanged++;
                    if (match.mirrored()) mirrored++;
                }
            }
        }
        assertTrue(unchanged < 4 * N / 3, "most images should be moved or flipped: " + unchanged + " unchanged");
        assertTrue(mirrored > N && mirrored < 3 * N, "about half mirrored: " + mirrored + " of " + 4 * N);
        // Different epochs augment the same position differently.
        assertNotEquals(aug.batch(0, 0), aug.batch(1, 0));
    }

    /** The placement (pad 1) that turns example i into {@code image}, or null. */
    private static Augmentation.Placement matchingPlacement(int i, float[] image) {
        float[][] table = Normalization.none().lookupTable(C);
        byte[] pixels = DATA.image(i);
        for (int top = 0; top <= 2; top++)
            for (int left = 0; left <= 2; left++)
                for (boolean mirrored : new boolean[] {false, true}) {
                    var p = new Augmentation.Placement(top, left, mirrored);
                    float[] candidate = new float[C * H * W];
                    Augmentation.render(pixels, 0, C, H, W, 1, p, table, candidate, 0);
                    if (Arrays.equals(candidate, image)) return p;
                }
        return null;
    }

    @Test
    void dropLastSkipsThePartialBatch() {
        BatchLoader drop = loader(true, true, Augmentation.none(), 1);
        assertEquals(4, drop.stepsPerEpoch());
        List<Batch> batches = all(drop.epoch(0, 0));
        assertEquals(4, batches.size());
        for (Batch b : batches) assertEquals(5, b.size());
        assertArrayEquals(Arrays.copyOf(drop.order(0), 20), visited(drop, 0));

        BatchLoader keep = loader(true, false, Augmentation.none(), 1);
        List<Batch> kept = all(keep.epoch(0, 0));
        assertEquals(5, kept.size());
        assertEquals(3, kept.get(4).size());
        assertEquals(3 * C * H * W, kept.get(4).images().length);

        var tooSmall = assertThrows(IllegalArgumentException.class,
                () -> new BatchLoader(DATA, 24, true, true, Augmentation.none(), NORM, 0));
        assertTrue(tooSmall.getMessage().contains("23 images, not one full batch of 24"), tooSmall.getMessage());
    }

    @Test
    void evaluationIsEveryExampleInFileOrderUnaugmentedWhateverTheTrainingSettings() {
        BatchLoader training = loader(true, true, Augmentation.cropAndFlip(2), 9);
        BatchLoader plain = loader(false, false, Augmentation.none(), 0);
        List<Batch> eval = all(training.evaluation());
        assertEquals(5, eval.size());
        assertEquals(3, eval.get(4).size());
        for (int step = 0; step < 5; step++) assertEquals(plain.batch(0, step), eval.get(step));

        BatchLoader forEval = BatchLoader.forEvaluation(DATA, 5, NORM);
        assertEquals(eval, all(forEval.epoch(0, 0)));
        assertEquals(eval, all(forEval.epoch(3, 0)).stream()
                .map(b -> new Batch(b.images(), b.labels(), b.size(), 0, b.stepInEpoch())).toList());
    }

    @Test
    void argumentsAreChecked() {
        BatchLoader l = loader(true, false, Augmentation.none(), 0);
        assertArrayEquals(new int[] {4, C, H, W}, l.batchShape(4));
        assertFalse(l.epoch(0, 5).hasNext());
        assertThrows(IllegalArgumentException.class, () -> l.epoch(0, 6));
        assertThrows(IllegalArgumentException.class, () -> l.epoch(-1, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> l.batch(0, 5));
        assertThrows(IllegalArgumentException.class,
                () -> new BatchLoader(DATA, 0, true, false, Augmentation.none(), NORM, 0));
        Normalization gray = Datasets.defaultNormalization("mnist");
        var channels = assertThrows(IllegalArgumentException.class,
                () -> new BatchLoader(DATA, 5, true, false, Augmentation.none(), gray, 0));
        assertTrue(channels.getMessage().contains("1 channel but tiny has 2"), channels.getMessage());
    }
}

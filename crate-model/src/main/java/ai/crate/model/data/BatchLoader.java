package ai.crate.model.data;

import ai.crate.engine.CounterRandom;
import java.util.Objects;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * Float batches of an {@link ImageSource} for training and evaluation: pixels/255, augmented, normalised, as
 * [B, C, H, W] plus labels.
 *
 * <p>Everything random is a pure function of the seed: epoch e visits the examples in a permutation that depends only
 * on (seed, e), and the example at position p of that epoch is augmented by random numbers that depend only on
 * (seed, e, p), drawn from a counter-based generator ({@link CounterRandom}). So the batch of (epoch, step) is the
 * same however it is reached, and a run resumed at (e, s) sees exactly the batches an uninterrupted run would have.
 */
public final class BatchLoader {
    // Separate streams, so the shuffle and the augmentation of an epoch are independent.
    private static final long SHUFFLE_STREAM = 0x5348554646_4C45L;
    private static final long AUGMENT_STREAM = 0x4155474D45_4E54L;

    private final ImageSource data;
    private final int batchSize;
    private final boolean shuffle;
    private final boolean dropLast;
    private final Augmentation augmentation;
    private final long seed;
    private final float[][] table;

    /**
     * A loader of batches of {@code batchSize}; with {@code dropLast} the last, partial batch of an epoch is skipped
     * (so that every training step sees a full batch), otherwise it is returned smaller.
     */
    public BatchLoader(ImageSource data, int batchSize, boolean shuffle, boolean dropLast, Augmentation augmentation,
            Normalization normalization, long seed) {
        this.data = Objects.requireNonNull(data, "data");
        if (batchSize < 1) throw new IllegalArgumentException("batch size " + batchSize + " must be >= 1");
        if ((long) batchSize * data.imageBytes() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("batch of " + batchSize + " images of " + data.imageBytes()
                    + " floats does not fit in one array");
        }
        if (dropLast && data.size() < batchSize) {
            throw new IllegalArgumentException(data.name() + " has " + data.size() + " images, not one full batch of "
                    + batchSize + " (dropLast would leave no steps)");
        }
        normalization.checkChannels(data.channels(), data.name());
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.dropLast = dropLast;
        this.augmentation = Objects.requireNonNull(augmentation, "augmentation");
        this.seed = seed;
        this.table = normalization.lookupTable(data.channels());
    }

    /** One unshuffled, unaugmented pass over all of {@code data}, the last partial batch included. */
    public static BatchLoader forEvaluation(ImageSource data, int batchSize, Normalization normalization) {
        return new BatchLoader(data, batchSize, false, false, Augmentation.none(), normalization, 0);
    }

    public ImageSource data() { return data; }

    public int batchSize() { return batchSize; }

    /** Full batches only with dropLast; otherwise the last one may be partial. */
    public int stepsPerEpoch() {
        int n = data.size();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /**
     * The batches of epoch {@code epoch} from step {@code startStep} (0 for a whole epoch) to the end, each prepared
     * on a background thread while the previous one is used. Close the iterator if you stop early.
     */
    public BatchIterator epoch(int epoch, int startStep) {
        checkEpoch(epoch);
        if (startStep < 0 || startStep > stepsPerEpoch()) {
            throw new IllegalArgumentException("start step " + startStep + " is outside 0.." + stepsPerEpoch());
        }
        int[] order = order(epoch);
        return new BatchIterator(step -> build(order, epoch, step, true), startStep, stepsPerEpoch(),
                data.name() + " epoch " + epoch);
    }

    /**
     * One pass over the whole data set for evaluation, whatever this loader's training settings: file order, no
     * augmentation, the last partial batch kept; same normalisation. Batches report epoch 0.
     */
    public BatchIterator evaluation() {
        int steps = (data.size() + batchSize - 1) / batchSize;
        return new BatchIterator(step -> build(null, 0, step, false), 0, steps, data.name() + " evaluation");
    }

    /** The tensor shape of a batch of {@code size} images: [size, C, H, W]. */
    public int[] batchShape(int size) {
        return new int[] {size, data.channels(), data.height(), data.width()};
    }

    /** The batch of (epoch, step), built on the calling thread: the same as {@link #epoch} gives for that step. */
    public Batch batch(int epoch, int step) {
        checkEpoch(epoch);
        Objects.checkIndex(step, stepsPerEpoch());
        return build(order(epoch), epoch, step, true);
    }

    /** The indices of the examples in the order epoch {@code epoch} visits them: file order without shuffling. */
    public int[] order(int epoch) {
        checkEpoch(epoch);
        int n = data.size();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        if (!shuffle) return order;
        long key = CounterRandom.bits(seed ^ SHUFFLE_STREAM, epoch);
        // Fisher–Yates with counter-based draws; taking 64 random bits modulo i+1 biases by under (i+1)/2^64.
        for (int i = n - 1; i > 0; i--) {
            int j = (int) Long.remainderUnsigned(CounterRandom.bits(key, i), i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    /**
     * The batch of {@code step} in {@code order} (null: file order), augmented if asked and this loader augments.
     * Images decoded from files are built in parallel (each one a pure function of its position, so the result is
     * the same); in-memory ones on this thread, leaving the cores to the model.
     */
    private Batch build(int[] order, int epoch, int step, boolean augment) {
        int from = step * batchSize;
        int size = Math.min(batchSize, data.size() - from);
        int imageBytes = data.imageBytes();
        float[] images = new float[size * imageBytes];
        int[] labels = new int[size];
        Augmentation aug = augment ? augmentation : Augmentation.none();
        long augmentKey = CounterRandom.bits(seed ^ AUGMENT_STREAM, epoch);
        IntConsumer one = k -> {
            int example = order == null ? from + k : order[from + k];
            labels[k] = data.label(example);
            aug.apply(data.picture(example), augmentKey, from + k, data.height(), data.width(), table, images,
                    k * imageBytes);
        };
        IntStream ks = IntStream.range(0, size);
        (data.inMemory() ? ks : ks.parallel()).forEach(one);
        return new Batch(images, labels, size, epoch, step);
    }

    private static void checkEpoch(int epoch) {
        if (epoch < 0) throw new IllegalArgumentException("epoch " + epoch + " must be >= 0");
    }
}

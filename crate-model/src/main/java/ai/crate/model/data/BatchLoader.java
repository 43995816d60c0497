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
    private final int rank;
    private final int ranks;

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
        this.rank = 0;
        this.ranks = 1;
    }

    private BatchLoader(BatchLoader whole, int rank, int ranks) {
        this.data = whole.data;
        this.batchSize = whole.batchSize;
        this.shuffle = whole.shuffle;
        this.dropLast = whole.dropLast;
        this.augmentation = whole.augmentation;
        this.seed = whole.seed;
        this.table = whole.table;
        this.rank = rank;
        this.ranks = ranks;
    }

    /**
     * This loader's share for process {@code rank} of {@code ranks} in data-parallel training: of each batch of an
     * epoch, the contiguous slice [size·rank/ranks, size·(rank+1)/ranks) — the same images, in the same order and
     * with the same augmentation (a function of each image's position in the epoch), that the whole batch holds at
     * those places; of the evaluation pass, the contiguous slice of the data set in the same proportion. The batch
     * size stays the global one, which must divide by {@code ranks} for a training loader (one that drops the
     * last partial batch).
     */
    public BatchLoader sharded(int rank, int ranks) {
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new IllegalArgumentException("rank " + rank + " of " + ranks);
        if (dropLast && batchSize % ranks != 0) {   // training: equal shares, so the averaged gradient is the mean
            throw new IllegalArgumentException("the global batch " + batchSize + " does not divide by " + ranks
                    + " processes");
        }
        return new BatchLoader(this, rank, ranks);
    }

    public int rank() { return rank; }

    public int ranks() { return ranks; }

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
        return new BatchIterator(step -> trainingBatch(order, epoch, step), startStep, stepsPerEpoch(),
                data.name() + " epoch " + epoch);
    }

    /**
     * One pass over the whole data set for evaluation, whatever this loader's training settings: file order, no
     * augmentation, the last partial batch kept; same normalisation. Batches report epoch 0.
     */
    public BatchIterator evaluation() {
        int lo = share(data.size(), rank), hi = share(data.size(), rank + 1);
        int steps = (hi - lo + batchSize - 1) / batchSize;
        return new BatchIterator(step -> build(null, 0, step, lo + step * batchSize,
                Math.min(batchSize, hi - lo - step * batchSize), false), 0, steps, data.name() + " evaluation");
    }

    /** Images of the evaluation pass: this shard's, all of them unsharded. */
    public int evaluationSize() { return share(data.size(), rank + 1) - share(data.size(), rank); }

    /** Where share {@code r} of {@code n} items begins: n·r/ranks. */
    private int share(int n, int r) { return (int) ((long) n * r / ranks); }

    /** The tensor shape of a batch of {@code size} images: [size, C, H, W]. */
    public int[] batchShape(int size) {
        return new int[] {size, data.channels(), data.height(), data.width()};
    }

    /** The batch of (epoch, step), built on the calling thread: the same as {@link #epoch} gives for that step. */
    public Batch batch(int epoch, int step) {
        checkEpoch(epoch);
        Objects.checkIndex(step, stepsPerEpoch());
        return trainingBatch(order(epoch), epoch, step);
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

    /** This process's share of training batch {@code step}: all of it unsharded. */
    private Batch trainingBatch(int[] order, int epoch, int step) {
        int from = step * batchSize, size = Math.min(batchSize, data.size() - from);
        int lo = share(size, rank), hi = share(size, rank + 1);
        return build(order, epoch, step, from + lo, hi - lo, true);
    }

    /**
     * The {@code size} examples at positions from.. of {@code order} (null: file order), as batch {@code step},
     * augmented if asked and this loader augments. Images decoded from files are built in parallel (each one a pure
     * function of its position, so the result is the same); in-memory ones on this thread, leaving the cores to the
     * model.
     */
    private Batch build(int[] order, int epoch, int step, int from, int size, boolean augment) {
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

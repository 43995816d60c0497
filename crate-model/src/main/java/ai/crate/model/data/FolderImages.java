package ai.crate.model.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * One split of a {@link FolderDataset}, decoded: every file that is an image, converted to the model's channels and
 * stored as the loader needs it — the model's size × size (shorter side resized, centre crop: torchvision's
 * {@code Resize} + {@code CenterCrop}) unless the augmentation takes random resized crops, in which case the image
 * is kept whole, its shorter side reduced to at most size/√minScale (so the smallest crop still has size pixels
 * across and nothing is lost to the reduction). Decoded images stay in memory while they fit the cache budget; the
 * rest are decoded again, on the loader's threads, each time they are drawn.
 *
 * <p>Loading decodes every file once, in parallel: it finds the undecodable ones (skipped, each reported with its
 * reason, then their count) and computes the per-channel mean and std of the images as evaluation sees them.
 */
public final class FolderImages implements ImageSource {
    private final String name;
    private final List<FolderDataset.Entry> entries;
    private final List<String> classes;
    private final int size;
    private final int channels;
    private final int workingSide;   // 0: stored at size × size
    private final Picture[] cache;
    private final int cached;
    private final Normalization statistics;
    private final int skipped;
    private final double loadSeconds;

    private FolderImages(String name, List<FolderDataset.Entry> entries, List<String> classes, int size, int channels,
            int workingSide, Picture[] cache, Normalization statistics, int skipped, double loadSeconds) {
        this.name = name;
        this.entries = List.copyOf(entries);
        this.classes = classes;
        this.size = size;
        this.channels = channels;
        this.workingSide = workingSide;
        this.cache = cache;
        int n = 0;
        for (Picture p : cache) if (p != null) n++;
        this.cached = n;
        this.statistics = statistics;
        this.skipped = skipped;
        this.loadSeconds = loadSeconds;
    }

    static FolderImages load(FolderDataset folder, boolean trainSplit, int size, int channels,
            Augmentation augmentation, long cacheBytes, Consumer<String> log) throws DatasetException {
        if (size < 1) throw new IllegalArgumentException("image size " + size + " must be >= 1");
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("folder images convert to 1 (grey) or 3 (RGB) channels, not "
                    + channels);
        }
        if (cacheBytes < 0) throw new IllegalArgumentException("cache budget " + cacheBytes + " bytes must be >= 0");
        String split = trainSplit ? "train" : "test";
        List<FolderDataset.Entry> files = folder.entries(trainSplit);
        int workingSide = augmentation.resizesCrops() ? (int) Math.ceil(size / Math.sqrt(augmentation.minScale())) : 0;
        int n = files.size();
        Picture[] decoded = new Picture[n];
        String[] failure = new String[n];
        long[][] sums = new long[n][];
        AtomicLong budget = new AtomicLong(cacheBytes);
        long start = System.nanoTime();
        IntStream.range(0, n).parallel().forEach(i -> {
            try {
                Picture original = Picture.read(files.get(i).file()).withChannels(channels);
                Picture fitted = original.fitted(size);
                sums[i] = channelSums(fitted);
                Picture stored = workingSide == 0 ? fitted : reduced(original, workingSide);
                if (budget.addAndGet(-stored.bytes()) >= 0) decoded[i] = stored;
                else budget.addAndGet(stored.bytes());   // over budget: decoded again when drawn
            } catch (IOException e) {
                failure[i] = e.getMessage();
            }
        });
        double seconds = (System.nanoTime() - start) / 1e9;
        List<FolderDataset.Entry> kept = new ArrayList<>(n);
        List<Picture> keptCache = new ArrayList<>(n);
        int[] perClass = new int[folder.classes().size()];
        long[] total = new long[2 * channels];
        long pixels = 0;
        int skipped = 0;
        for (int i = 0; i < n; i++) {
            if (failure[i] != null) {
                log.accept("skipped " + failure[i]);
                skipped++;
                continue;
            }
            kept.add(files.get(i));
            keptCache.add(decoded[i]);
            perClass[files.get(i).label()]++;
            for (int k = 0; k < total.length; k++) total[k] += sums[i][k];
            pixels += (long) size * size;
        }
        checkClasses(folder, trainSplit, perClass);
        Normalization stats = statistics(total, pixels, channels);
        FolderImages images = new FolderImages(folder.root().getFileName() + "/" + split, kept, folder.classes(), size,
                channels, workingSide, keptCache.toArray(new Picture[0]), stats, skipped, seconds);
        log.accept(String.format(Locale.ROOT, "%s: %d images in %d classes decoded in %.2f s (%.0f images/s); %d "
                        + "file%s skipped (not decodable images); %d cached in memory (%.1f MB of the %.0f MB budget)%s",
                images.name, kept.size(), folder.classes().size(), seconds, n / Math.max(seconds, 1e-9), skipped,
                skipped == 1 ? "" : "s", images.cached, images.cachedBytes() / 1048576.0, cacheBytes / 1048576.0,
                images.cached < kept.size() ? ", the rest decoded again each epoch" : ""));
        return images;
    }

    /** Every class keeps at least one decodable image in the split (training) or is said to have none (test). */
    private static void checkClasses(FolderDataset folder, boolean trainSplit, int[] perClass) throws DatasetException {
        for (int k = 0; k < perClass.length; k++) {
            if (perClass[k] > 0) continue;
            int label = k;
            boolean hadFiles = folder.entries(trainSplit).stream().anyMatch(e -> e.label() == label);
            if (hadFiles) {
                throw DatasetException.at(folder.root(), "class '" + folder.classes().get(k) + "' has no decodable "
                        + "image in the " + (trainSplit ? "training" : "test") + " split: every file was skipped");
            }
        }
    }

    /** The picture with its shorter side reduced to {@code side} when longer; never enlarged. */
    private static Picture reduced(Picture p, int side) {
        return Math.min(p.height(), p.width()) > side ? p.shorterSideTo(side) : p;
    }

    /** Per channel: Σ p and Σ p² over the picture's bytes, exact in long. */
    private static long[] channelSums(Picture p) {
        int plane = p.height() * p.width();
        long[] s = new long[2 * p.channels()];
        byte[] px = p.pixels();
        for (int c = 0; c < p.channels(); c++) {
            long sum = 0, squares = 0;
            for (int i = c * plane; i < (c + 1) * plane; i++) {
                int v = px[i] & 255;
                sum += v;
                squares += v * v;
            }
            s[2 * c] = sum;
            s[2 * c + 1] = squares;
        }
        return s;
    }

    /** Mean and (population) std per channel of pixels/255; a constant channel gets std 1 rather than 0. */
    private static Normalization statistics(long[] total, long pixels, int channels) {
        float[] mean = new float[channels], std = new float[channels];
        for (int c = 0; c < channels; c++) {
            double m = total[2 * c] / (255.0 * pixels);
            double var = total[2 * c + 1] / (255.0 * 255.0 * pixels) - m * m;
            mean[c] = (float) m;
            std[c] = var > 1e-12 ? (float) Math.sqrt(var) : 1f;
        }
        return new Normalization(mean, std);
    }

    @Override
    public String name() { return name; }

    @Override
    public int size() { return entries.size(); }

    @Override
    public int channels() { return channels; }

    @Override
    public int height() { return size; }

    @Override
    public int width() { return size; }

    @Override
    public int numClasses() { return classes.size(); }

    @Override
    public List<String> classNames() { return classes; }

    @Override
    public int label(int i) { return entries.get(i).label(); }

    /** The file of image i. */
    public FolderDataset.Entry entry(int i) { return entries.get(i); }

    @Override
    public Picture picture(int i) {
        Picture p = cache[i];
        if (p != null) return p;
        FolderDataset.Entry e = entries.get(i);
        try {
            Picture original = Picture.read(e.file()).withChannels(channels);
            return workingSide == 0 ? original.fitted(size) : reduced(original, workingSide);
        } catch (IOException ex) {
            throw new UncheckedIOException(new IOException(ex.getMessage() + " (it decoded when the data set was "
                    + "loaded: was the file changed since?)", ex));
        }
    }

    @Override
    public boolean inMemory() { return cached == entries.size(); }

    /** Per-channel mean and std of pixels/255 over this split's images as evaluation sees them (size × size). */
    public Normalization statistics() { return statistics; }

    /** Files skipped as undecodable. */
    public int skipped() { return skipped; }

    /** Images held in memory. */
    public int cached() { return cached; }

    public long cachedBytes() {
        long b = 0;
        for (Picture p : cache) if (p != null) b += p.bytes();
        return b;
    }

    /** Seconds the loading pass took (decoding every file once). */
    public double loadSeconds() { return loadSeconds; }

    @Override
    public String toString() {
        return name + " (" + size() + " images of " + channels + "×" + size + "×" + size + ", " + numClasses()
                + " classes)";
    }
}

package ai.crate.model.data;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * An immutable labelled image set: {@code size()} images of channels × height × width unsigned-byte pixels, stored
 * row-major as [n, C, H, W] in one byte array (Fashion-MNIST's 60,000 training images take 47 MB), and one label in
 * 0..numClasses-1 per image.
 */
public final class ImageDataset implements ImageSource {
    private final String name;
    private final byte[] pixels;
    private final int[] labels;
    private final int channels;
    private final int height;
    private final int width;
    private final int numClasses;
    private final List<String> classNames;

    /**
     * A data set of copies of {@code pixels} ([n, C, H, W], 0..255 as unsigned bytes) and {@code labels} (n of them,
     * each in 0..numClasses-1). {@code classNames} is empty when the names are unknown, otherwise one per class.
     */
    public static ImageDataset of(String name, byte[] pixels, int[] labels, int channels, int height, int width,
            int numClasses, List<String> classNames) {
        return new ImageDataset(name, pixels.clone(), labels.clone(), channels, height, width, numClasses, classNames);
    }

    /**
     * The same images centred on a {@code size} × {@code size} canvas of zeros (e.g. Fashion-MNIST's 28 to the 32 of a
     * stem that halves the size three times); the margin must be even.
     */
    public ImageDataset zeroPadded(int size) {
        int top = (size - height) / 2, left = (size - width) / 2;
        if (size < height || size < width || (size - height) % 2 != 0 || (size - width) % 2 != 0) {
            throw new IllegalArgumentException(name + ": " + height + "×" + width + " images cannot be centred on a "
                    + size + "×" + size + " canvas (the margins must be even)");
        }
        int n = labels.length, in = height * width, out = size * size;
        byte[] canvas = new byte[n * channels * out];
        for (int i = 0; i < n * channels; i++) {
            for (int y = 0; y < height; y++) {
                System.arraycopy(pixels, i * in + y * width, canvas, i * out + (y + top) * size + left, width);
            }
        }
        return new ImageDataset(name, canvas, labels, channels, size, size, numClasses, classNames);
    }

    /** Takes ownership of the arrays: for readers that built them and keep no reference. */
    static ImageDataset wrap(String name, byte[] pixels, int[] labels, int channels, int height, int width,
            int numClasses, List<String> classNames) {
        return new ImageDataset(name, pixels, labels, channels, height, width, numClasses, classNames);
    }

    private ImageDataset(String name, byte[] pixels, int[] labels, int channels, int height, int width,
            int numClasses, List<String> classNames) {
        this.name = Objects.requireNonNull(name, "name");
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException(name + ": image shape " + channels + "×" + height + "×" + width
                    + " must be positive");
        }
        if (numClasses < 1) throw new IllegalArgumentException(name + ": numClasses " + numClasses + " must be >= 1");
        long rowsTimesCols = (long) height * width;
        // Checked step by step so that no product of these sub-2^31 values can overflow a long.
        if (rowsTimesCols > Integer.MAX_VALUE || rowsTimesCols * channels > Integer.MAX_VALUE
                || rowsTimesCols * channels * labels.length != pixels.length) {
            throw new IllegalArgumentException(name + ": " + pixels.length + " pixel bytes are not " + labels.length
                    + " labelled images of " + channels + "×" + height + "×" + width);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException(name + ": label " + labels[i] + " of image " + i
                        + " is outside 0.." + (numClasses - 1));
            }
        }
        this.classNames = List.copyOf(classNames);
        if (!this.classNames.isEmpty() && this.classNames.size() != numClasses) {
            throw new IllegalArgumentException(name + ": " + this.classNames.size() + " class names for "
                    + numClasses + " classes");
        }
        this.pixels = pixels;
        this.labels = labels;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.numClasses = numClasses;
    }

    @Override
    public String name() { return name; }

    @Override
    public int size() { return labels.length; }

    @Override
    public int channels() { return channels; }

    @Override
    public int height() { return height; }

    @Override
    public int width() { return width; }

    /** Bytes per image: C·H·W. */
    @Override
    public int imageBytes() { return channels * height * width; }

    @Override
    public int numClasses() { return numClasses; }

    /** One name per class, or empty when the data set does not say. */
    @Override
    public List<String> classNames() { return classNames; }

    @Override
    public int label(int i) { return labels[Objects.checkIndex(i, labels.length)]; }

    /** A copy of all labels. */
    public int[] labels() { return labels.clone(); }

    /** Pixel (c, y, x) of image i, 0..255. */
    public int pixel(int i, int c, int y, int x) {
        Objects.checkIndex(i, labels.length);
        Objects.checkIndex(c, channels);
        Objects.checkIndex(y, height);
        Objects.checkIndex(x, width);
        return pixels[((i * channels + c) * height + y) * width + x] & 0xFF;
    }

    /** A copy of image i's C·H·W pixels, unsigned bytes in [C, H, W] order. */
    public byte[] image(int i) {
        int offset = Objects.checkIndex(i, labels.length) * imageBytes();
        return Arrays.copyOfRange(pixels, offset, offset + imageBytes());
    }

    @Override
    public Picture picture(int i) { return new Picture(image(i), channels, height, width); }

    @Override
    public String toString() {
        return name + " (" + size() + " images of " + channels + "×" + height + "×" + width + ", " + numClasses
                + " classes)";
    }
}

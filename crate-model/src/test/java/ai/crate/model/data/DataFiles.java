package ai.crate.model.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Small IDX and CIFAR files for the tests, with pixel values that differ from image to image and place to place. */
final class DataFiles {
    private DataFiles() {}

    /** The IDX bytes: magic, big-endian dims, data. */
    static byte[] idx(int magic, int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.putInt(magic);
        for (int d : dims) b.putInt(d);
        b.put(data);
        return b.array();
    }

    static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** Pixel (c, y, x) of image i: a pattern that tells apart every image, channel, row and column. */
    static int pixel(int i, int c, int y, int x) {
        return (37 * i + 101 * c + 13 * y + 3 * x + 7) & 0xFF;
    }

    static byte[] pixels(int n, int channels, int h, int w) {
        byte[] p = new byte[n * channels * h * w];
        int k = 0;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) p[k++] = (byte) pixel(i, c, y, x);
        return p;
    }

    static byte[] labels(int n, int classes) {
        byte[] l = new byte[n];
        for (int i = 0; i < n; i++) l[i] = (byte) ((i * 7 + 3) % classes);
        return l;
    }

    static Path write(Path file, byte[] bytes) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A pair of IDX files of n images h×w and labels in 0..9, gzipped or not, under the given names. */
    static void writeIdxPair(Path images, Path labels, int n, int h, int w, boolean gzipped) {
        byte[] img = idx(Idx.IMAGES_MAGIC, new int[] {n, h, w}, pixels(n, 1, h, w));
        byte[] lab = idx(Idx.LABELS_MAGIC, new int[] {n}, labels(n, 10));
        write(images, gzipped ? gzip(img) : img);
        write(labels, gzipped ? gzip(lab) : lab);
    }

    /**
     * CIFAR records: label byte(s) then 3072 pixels. labelBytes 1: the label is i's label in 0..9 offset by
     * {@code first}; labelBytes 2: coarse (fine / 5) and fine in 0..99.
     */
    static byte[] cifar(int n, int first, int labelBytes) {
        int record = labelBytes + 3072;
        byte[] out = new byte[n * record];
        for (int r = 0; r < n; r++) {
            int i = first + r;
            int fine = labelBytes == 1 ? i % 10 : (i * 37) % 100;
            if (labelBytes == 2) out[r * record] = (byte) (fine / 5);
            out[r * record + labelBytes - 1] = (byte) fine;
            int k = r * record + labelBytes;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++) out[k++] = (byte) pixel(i, c, y, x);
        }
        return out;
    }
}

package ai.crate.model.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * The IDX format of MNIST and Fashion-MNIST: a big-endian magic number 0x0000TTDD (TT the element type, 08 for
 * unsigned bytes; DD the number of dimensions), DD big-endian 32-bit sizes, then the elements row-major. Images are
 * 0x00000803 [n, rows, cols] and labels 0x00000801 [n]. Either file may be gzipped, recognised by the gzip magic
 * 1f 8b rather than by its name.
 *
 * <p>Nothing is allocated from a header value alone: a plain file's header must agree with the file's length before
 * the data is read, and gzipped data is inflated into a buffer that grows with what actually comes out, up to the
 * size the header gives, which may not exceed {@link #MAX_DATA_BYTES}.
 */
public final class Idx {
    /** Largest data section accepted (1 GiB); the largest IDX sets in use (EMNIST) are about half of that. */
    public static final long MAX_DATA_BYTES = 1L << 30;
    public static final int IMAGES_MAGIC = 0x00000803;
    public static final int LABELS_MAGIC = 0x00000801;

    private static final int BUFFER_BYTES = 1 << 16;
    private static final int FIRST_INFLATE_BYTES = 1 << 20;

    private Idx() {}

    /** The ten classes of the MNIST family, unnamed; the data set is named after the images file. */
    public static ImageDataset read(Path images, Path labels) throws DatasetException {
        return read(images, labels, images.toString(), 10, List.of());
    }

    /**
     * Reads an image file and a label file into a data set of one channel. Every label must be below
     * {@code numClasses}; {@code classNames} is empty or has one name per class.
     */
    public static ImageDataset read(Path images, Path labels, String name, int numClasses, List<String> classNames)
            throws DatasetException {
        Section pixels = readSection(images, IMAGES_MAGIC);
        Section labelBytes = readSection(labels, LABELS_MAGIC);
        int n = pixels.dims[0];
        if (labelBytes.dims[0] != n) {
            throw new DatasetException(images, images + " holds " + n + " images but " + labels + " holds "
                    + labelBytes.dims[0] + " labels", null);
        }
        int[] classes = new int[n];
        for (int i = 0; i < n; i++) {
            classes[i] = labelBytes.data[i] & 0xFF;
            if (classes[i] >= numClasses) {
                throw DatasetException.at(labels, "label " + classes[i] + " of example " + i + " at "
                        + labelBytes.offsetName + " " + (labelBytes.headerBytes + i) + " is outside 0.."
                        + (numClasses - 1));
            }
        }
        return ImageDataset.wrap(name, pixels.data, classes, 1, pixels.dims[1], pixels.dims[2], numClasses,
                classNames);
    }

    /** The sizes from the header and the data after it; offsetName says whose offsets: the file's or the inflated. */
    private record Section(int[] dims, byte[] data, int headerBytes, String offsetName) {}

    private static Section readSection(Path file, int magic) throws DatasetException {
        int rank = magic & 0xFF;
        int headerBytes = 4 + 4 * rank;
        long inflated = 0; // bytes taken from the decompressed stream, for the error message if it breaks
        boolean gzipped = false;
        try (InputStream fileIn = new BufferedInputStream(Files.newInputStream(file), BUFFER_BYTES)) {
            long fileSize = Files.size(file);
            fileIn.mark(2);
            gzipped = fileIn.read() == 0x1f && fileIn.read() == 0x8b;
            fileIn.reset();
            InputStream in = gzipped ? new GZIPInputStream(fileIn, BUFFER_BYTES) : fileIn;
            String offsetName = gzipped ? "decompressed byte offset" : "byte offset";
            String dataHas = gzipped ? "decompressed data has " : "file has ";

            // The magic first: a file of the wrong kind should say so, whatever its length.
            byte[] header = in.readNBytes(4);
            inflated = header.length;
            if (header.length == 4) {
                int found = ByteBuffer.wrap(header).getInt(); // big-endian
                if (found != magic) {
                    throw DatasetException.at(file, String.format("bad magic number 0x%08x at %s 0: expected "
                            + "0x%08x, %s%s", found, offsetName, magic, kind(magic), swapHint(found, magic)));
                }
                header = Arrays.copyOf(header, headerBytes);
                inflated += in.readNBytes(header, 4, headerBytes - 4);
            }
            if (inflated < headerBytes) {
                throw DatasetException.at(file, dataHas + inflated + " bytes, too short for the " + headerBytes
                        + "-byte IDX header of " + kind(magic));
            }
            ByteBuffer h = ByteBuffer.wrap(header);
            int[] dims = new int[rank];
            for (int d = 0; d < rank; d++) {
                long size = Integer.toUnsignedLong(h.getInt(4 + 4 * d));
                if (size > Integer.MAX_VALUE || d > 0 && size == 0) {
                    throw DatasetException.at(file, "dimension " + d + " at " + offsetName + " " + (4 + 4 * d)
                            + " is " + size + ", outside " + (d > 0 ? 1 : 0) + ".." + Integer.MAX_VALUE);
                }
                dims[d] = (int) size;
            }
            String shape = shape(dims);
            long count = product(dims);
            long expected = count > Long.MAX_VALUE - headerBytes ? Long.MAX_VALUE : headerBytes + count;
            String expectedText = expected == Long.MAX_VALUE ? "more than 2^63" : Long.toString(expected);
            if (!gzipped && fileSize != expected) {
                throw DatasetException.at(file, "header says " + shape + ": expected " + expectedText
                        + " bytes, file has " + fileSize
                        + (fileSize < expected ? " (truncated)" : " (extra bytes at the end)"));
            }
            if (count > MAX_DATA_BYTES) {
                throw DatasetException.at(file, "header says " + shape + ": " + (count == Long.MAX_VALUE
                        ? "more than 2^63" : count) + " bytes of data, over the limit of " + MAX_DATA_BYTES);
            }
            // A plain file's length has been checked, so it is read straight into its final array; gzipped data
            // grows the buffer only as it arrives, so a lying header cannot make us allocate more than it inflates.
            byte[] data = new byte[(int) (gzipped ? Math.min(count, FIRST_INFLATE_BYTES) : count)];
            int filled = 0;
            while (filled < count) {
                if (filled == data.length) data = Arrays.copyOf(data, (int) Math.min(count, 2L * data.length));
                int read = in.read(data, filled, data.length - filled);
                if (read < 0) {
                    throw DatasetException.at(file, "header says " + shape + ": expected " + expected + " bytes, "
                            + dataHas + (headerBytes + filled) + " (truncated)");
                }
                filled += read;
                inflated = headerBytes + filled;
            }
            if (in.read() >= 0) {
                throw DatasetException.at(file, "header says " + shape + ": expected " + expected + " bytes, "
                        + dataHas + "more (extra bytes at the end)");
            }
            return new Section(dims, data, headerBytes, offsetName);
        } catch (DatasetException e) {
            throw e;
        } catch (NoSuchFileException e) {
            throw DatasetException.at(file, "file not found", e);
        } catch (IOException e) {
            String where = gzipped ? "gzip data is corrupt or cut short at decompressed byte offset " + inflated
                    : "read failed";
            throw DatasetException.at(file, where + ": " + e.getMessage(), e);
        }
    }

    private static String kind(int magic) {
        return magic == IMAGES_MAGIC ? "IDX unsigned-byte images [n, rows, cols]" : "IDX unsigned-byte labels [n]";
    }

    private static String swapHint(int found, int expected) {
        if (found == LABELS_MAGIC && expected == IMAGES_MAGIC) return " (this is a label file: files swapped?)";
        if (found == IMAGES_MAGIC && expected == LABELS_MAGIC) return " (this is an image file: files swapped?)";
        return "";
    }

    private static String shape(int[] dims) {
        StringBuilder s = new StringBuilder();
        for (int d : dims) s.append(s.isEmpty() ? "" : "×").append(d);
        return s.toString();
    }

    /** The number of elements, or Long.MAX_VALUE when it does not fit in a long. */
    private static long product(int[] dims) {
        long count = 1;
        try {
            for (int d : dims) count = Math.multiplyExact(count, d);
        } catch (ArithmeticException overflow) {
            return Long.MAX_VALUE;
        }
        return count;
    }
}

package ai.crate.model.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * The binary versions of CIFAR-10 and CIFAR-100: files of fixed-size records, each the label byte(s) then 3072 pixel
 * bytes, the 32×32 red plane, then green, then blue (already [C, H, W]). CIFAR-10 records have one label byte;
 * CIFAR-100 records a coarse label (20 superclasses) and then the fine label (100 classes), which is the one kept.
 * There is no header, so a file's length must be a whole number of records.
 */
final class Cifar {
    static final int CHANNELS = 3;
    static final int SIDE = 32;
    static final int IMAGE_BYTES = CHANNELS * SIDE * SIDE;
    static final int CIFAR100_COARSE_CLASSES = 20;

    private static final int BUFFER_BYTES = 1 << 16;

    private Cifar() {}

    /**
     * Reads the records of {@code files} in order. {@code labelBytes} is 1 (CIFAR-10) or 2 (CIFAR-100: coarse, then
     * fine); the last label byte is the class, which must be below {@code classNames.size()}.
     */
    static ImageDataset read(List<Path> files, int labelBytes, String name, List<String> classNames)
            throws DatasetException {
        int recordBytes = labelBytes + IMAGE_BYTES;
        long records = 0;
        for (Path file : files) {
            long size = size(file);
            if (size == 0) throw DatasetException.at(file, "file is empty; expected " + recordBytes + "-byte records");
            if (size % recordBytes != 0) {
                throw DatasetException.at(file, "file has " + size + " bytes, not a whole number of " + recordBytes
                        + "-byte records (" + labelBytes + " label byte" + (labelBytes > 1 ? "s" : "") + " + "
                        + IMAGE_BYTES + " pixels): " + size / recordBytes + " records and " + size % recordBytes
                        + " bytes over; truncated, or not " + (labelBytes == 1 ? "CIFAR-10" : "CIFAR-100"));
            }
            records += size / recordBytes;
        }
        if (records * IMAGE_BYTES > Integer.MAX_VALUE - 8) {
            throw DatasetException.at(files.getFirst(), records + " records of " + IMAGE_BYTES
                    + " pixels are more than one array can hold");
        }
        byte[] pixels = new byte[(int) records * IMAGE_BYTES];
        int[] labels = new int[(int) records];
        int numClasses = classNames.size();
        int example = 0;
        for (Path file : files) {
            long fileRecords = size(file) / recordBytes;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file), BUFFER_BYTES)) {
                byte[] label = new byte[labelBytes];
                for (long r = 0; r < fileRecords; r++, example++) {
                    long offset = r * recordBytes;
                    if (in.readNBytes(label, 0, labelBytes) < labelBytes
                            || in.readNBytes(pixels, example * IMAGE_BYTES, IMAGE_BYTES) < IMAGE_BYTES) {
                        throw DatasetException.at(file, "file ends inside record " + r + " at byte offset " + offset
                                + "; it was shortened while being read");
                    }
                    if (labelBytes == 2 && (label[0] & 0xFF) >= CIFAR100_COARSE_CLASSES) {
                        throw DatasetException.at(file, "coarse label " + (label[0] & 0xFF) + " of record " + r
                                + " at byte offset " + offset + " is outside 0.." + (CIFAR100_COARSE_CLASSES - 1));
                    }
                    labels[example] = label[labelBytes - 1] & 0xFF;
                    if (labels[example] >= numClasses) {
                        throw DatasetException.at(file, "label " + labels[example] + " of record " + r
                                + " at byte offset " + (offset + labelBytes - 1) + " is outside 0.."
                                + (numClasses - 1));
                    }
                }
            } catch (DatasetException e) {
                throw e;
            } catch (IOException e) {
                throw DatasetException.at(file, "read failed: " + e.getMessage(), e);
            }
        }
        return ImageDataset.wrap(name, pixels, labels, CHANNELS, SIDE, SIDE, numClasses, classNames);
    }

    private static long size(Path file) throws DatasetException {
        try {
            return Files.size(file);
        } catch (NoSuchFileException e) {
            throw DatasetException.at(file, "file not found", e);
        } catch (IOException e) {
            throw DatasetException.at(file, "cannot read: " + e.getMessage(), e);
        }
    }
}

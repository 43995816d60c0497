package ai.crate.model.data;

import static ai.crate.model.data.DataFiles.gzip;
import static ai.crate.model.data.DataFiles.idx;
import static ai.crate.model.data.DataFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The IDX reader: plain and gzipped round trips, and one test per kind of malformed file. */
class IdxTest {
    @TempDir
    Path dir;

    private Path file(String name) { return dir.resolve(name); }

    private static byte[] imageFile(int n, int h, int w) {
        return idx(Idx.IMAGES_MAGIC, new int[] {n, h, w}, DataFiles.pixels(n, 1, h, w));
    }

    private static byte[] labelFile(int n) {
        return idx(Idx.LABELS_MAGIC, new int[] {n}, DataFiles.labels(n, 10));
    }

    private DatasetException readFails(byte[] imageBytes, byte[] labelBytes) {
        Path img = write(file("img"), imageBytes), lab = write(file("lab"), labelBytes);
        return assertThrows(DatasetException.class, () -> Idx.read(img, lab));
    }

    private static void assertMessage(DatasetException e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + e.getMessage() + "' should contain '" + part + "'");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void roundTripKeepsEveryPixelAndLabel(boolean gzipped) throws Exception {
        Path img = file("train-images-idx3-ubyte" + (gzipped ? ".gz" : ""));
        Path lab = file("train-labels-idx1-ubyte" + (gzipped ? ".gz" : ""));
        DataFiles.writeIdxPair(img, lab, 7, 5, 4, gzipped);

        ImageDataset d = Idx.read(img, lab);

        assertEquals(7, d.size());
        assertEquals(1, d.channels());
        assertEquals(5, d.height());
        assertEquals(4, d.width());
        assertEquals(10, d.numClasses());
        for (int i = 0; i < 7; i++) {
            assertEquals((i * 7 + 3) % 10, d.label(i));
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 4; x++) assertEquals(DataFiles.pixel(i, 0, y, x), d.pixel(i, 0, y, x));
        }
        assertArrayEquals(Arrays.copyOfRange(DataFiles.pixels(7, 1, 5, 4), 40, 60), d.image(2));
    }

    @Test
    void gzipIsRecognisedByItsMagicNotItsName() throws Exception {
        Path img = write(file("images.idx"), gzip(imageFile(3, 2, 2)));   // gzipped, no .gz
        Path lab = write(file("labels.gz"), labelFile(3));                 // plain, named .gz
        assertEquals(3, Idx.read(img, lab).size());
    }

    @Test
    void namesAndClassesAreThoseGiven() throws Exception {
        Path img = write(file("i"), imageFile(2, 2, 2)), lab = write(file("l"), labelFile(2));
        ImageDataset d = Idx.read(img, lab, "tiny", 10, List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j"));
        assertEquals("tiny", d.name());
        assertEquals("d", d.className(d.label(0)));
    }

    @Test
    void truncatedImagesSayHowManyBytesWereExpected() {
        byte[] full = imageFile(4, 3, 3);
        DatasetException e = readFails(Arrays.copyOf(full, full.length - 5), labelFile(4));
        assertMessage(e, "img", "4×3×3", "expected " + full.length + " bytes, file has " + (full.length - 5),
                "truncated");
    }

    @Test
    void truncatedGzippedImagesSayHowMuchInflated() {
        byte[] full = imageFile(4, 3, 3);
        DatasetException e = readFails(gzip(Arrays.copyOf(full, full.length - 5)), labelFile(4));
        assertMessage(e, "img", "expected " + full.length + " bytes, decompressed data has " + (full.length - 5));
    }

    @Test
    void aCutGzipStreamIsReportedWithTheInflatedOffset() {
        byte[] gz = gzip(imageFile(40, 10, 10));
        DatasetException e = readFails(Arrays.copyOf(gz, gz.length / 2), labelFile(40));
        assertMessage(e, "img", "gzip data is corrupt or cut short at decompressed byte offset");
    }

    @Test
    void truncatedLabels() {
        byte[] full = labelFile(4);
        DatasetException e = readFails(imageFile(4, 3, 3), Arrays.copyOf(full, full.length - 1));
        assertMessage(e, "lab", "header says 4: expected 12 bytes, file has 11 (truncated)");
    }

    @Test
    void extraBytesAtTheEndAreAnError() {
        byte[] full = labelFile(4);
        DatasetException e = readFails(imageFile(4, 3, 3), Arrays.copyOf(full, full.length + 3));
        assertMessage(e, "lab", "expected 12 bytes, file has 15 (extra bytes at the end)");
        DatasetException gz = readFails(imageFile(4, 3, 3), gzip(Arrays.copyOf(full, full.length + 3)));
        assertMessage(gz, "lab", "expected 12 bytes, decompressed data has more");
    }

    @Test
    void fileShorterThanTheHeader() {
        DatasetException e = readFails(new byte[] {0, 0, 8, 3, 0}, labelFile(1));
        assertMessage(e, "img", "file has 5 bytes, too short for the 16-byte IDX header");
    }

    @Test
    void badMagicNamesTheOffsetAndBothNumbers() {
        byte[] bad = imageFile(2, 2, 2);
        bad[2] = 0x0D; // float elements
        assertMessage(readFails(bad, labelFile(2)), "img", "bad magic number 0x00000d03 at byte offset 0",
                "expected 0x00000803");
        assertMessage(readFails(gzip(bad), labelFile(2)), "bad magic number 0x00000d03 at decompressed byte offset 0");
    }

    @Test
    void swappedFilesAreRecognised() {
        DatasetException e = readFails(labelFile(2), imageFile(2, 2, 2));
        assertMessage(e, "img", "bad magic number 0x00000801", "this is a label file: files swapped?");
    }

    @Test
    void countMismatchNamesBothFiles() {
        DatasetException e = readFails(imageFile(5, 2, 2), labelFile(4));
        assertMessage(e, file("img") + " holds 5 images but " + file("lab") + " holds 4 labels");
    }

    @Test
    void labelOutOfRangeNamesTheExampleAndOffset() {
        byte[] lab = labelFile(6);
        lab[8 + 4] = 10;
        DatasetException e = readFails(imageFile(6, 2, 2), lab);
        assertMessage(e, "lab", "label 10 of example 4 at byte offset 12 is outside 0..9");
        assertEquals(file("lab"), e.file());
    }

    @Test
    void hugeHeaderOnASmallFileIsRefusedWithoutAllocating() {
        // 2^31-1 × 2^31-1 × 28 would be far past any heap; the reader must compare, not allocate.
        byte[] plain = idx(Idx.IMAGES_MAGIC, new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE, 28}, new byte[64]);
        assertMessage(readFails(plain, labelFile(1)), "expected more than 2^63 bytes, file has 80 (truncated)");
        byte[] large = idx(Idx.IMAGES_MAGIC, new int[] {1_000_000, 100, 100}, new byte[64]);
        assertMessage(readFails(large, labelFile(1)), "expected 10000000016 bytes, file has 80 (truncated)");
        // Gzipped, the size cannot be checked first: over the cap it is refused, under it only what inflates is kept.
        assertMessage(readFails(gzip(large), labelFile(1)), "10000000000 bytes of data, over the limit of "
                + Idx.MAX_DATA_BYTES);
        byte[] underCap = idx(Idx.IMAGES_MAGIC, new int[] {1_000_000, 28, 28}, new byte[64]);
        assertMessage(readFails(gzip(underCap), labelFile(1)),
                "expected 784000016 bytes, decompressed data has 80 (truncated)");
    }

    @Test
    void dimensionsAboveTwoToThe31AreRefusedWithTheirOffset() {
        byte[] b = imageFile(1, 2, 2);
        b[8] = (byte) 0xFF; // rows = 0xFF000002
        assertMessage(readFails(b, labelFile(1)), "dimension 1 at byte offset 8 is 4278190082, outside 1..");
    }

    @Test
    void zeroSizedImagesAreRefused() {
        byte[] b = idx(Idx.IMAGES_MAGIC, new int[] {3, 0, 28}, new byte[0]);
        assertMessage(readFails(b, labelFile(3)), "dimension 1 at byte offset 8 is 0, outside 1..");
    }

    @Test
    void missingFileIsNamed() {
        Path lab = write(file("lab"), labelFile(1));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.read(file("nope"), lab));
        assertMessage(e, file("nope").toString(), "file not found");
    }

    @Test
    void corruptedAndTruncatedFilesFailOnlyWithDatasetException() throws Exception {
        SplittableRandom rnd = new SplittableRandom(5);
        Path lab = write(file("lab"), labelFile(6));
        for (boolean gzipped : new boolean[] {false, true}) {
            byte[] original = gzipped ? gzip(imageFile(6, 5, 5)) : imageFile(6, 5, 5);
            List<byte[]> variants = new ArrayList<>();
            for (int length = 0; length < original.length; length++) variants.add(Arrays.copyOf(original, length));
            for (int m = 0; m < 300; m++) {
                byte[] b = original.clone();
                // mostly in the first 40 bytes: the gzip or IDX header, where a change is likeliest to matter
                for (int c = 1 + rnd.nextInt(3); c > 0; c--) {
                    b[rnd.nextInt(rnd.nextBoolean() ? 40 : b.length)] = (byte) rnd.nextInt(256);
                }
                variants.add(b);
            }
            for (byte[] variant : variants) {
                Path img = write(file("img"), variant);
                try {
                    Idx.read(img, lab);
                } catch (DatasetException expected) {
                    // the one allowed failure
                } catch (Throwable t) {
                    fail((gzipped ? "gzipped " : "") + variant.length + "-byte variant: " + t, t);
                }
            }
        }
    }
}

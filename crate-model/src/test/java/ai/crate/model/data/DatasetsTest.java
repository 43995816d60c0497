package ai.crate.model.data;

import static ai.crate.model.data.DataFiles.cifar;
import static ai.crate.model.data.DataFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading by name: the folders and file names searched, CIFAR records, the messages for missing or bad files. */
class DatasetsTest {
    @TempDir
    Path dir;

    private static void assertMessage(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + e.getMessage() + "' should contain '" + part + "'");
        }
    }

    private static void assertCifarPixels(ImageDataset d, int example, int fileIndex) {
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y += 7)
                for (int x = 0; x < 32; x += 5) {
                    assertEquals(DataFiles.pixel(fileIndex, c, y, x), d.pixel(example, c, y, x),
                            "example " + example + " (c, y, x) = (" + c + ", " + y + ", " + x + ")");
                }
    }

    // ---- IDX sets ---------------------------------------------------------------------------------------------

    @Test
    void fashionMnistFindsPlainAndGzippedFilesOfEachSplit() throws Exception {
        DataFiles.writeIdxPair(dir.resolve("train-images-idx3-ubyte.gz"), dir.resolve("train-labels-idx1-ubyte.gz"),
                6, 28, 28, true);
        DataFiles.writeIdxPair(dir.resolve("t10k-images-idx3-ubyte"), dir.resolve("t10k-labels-idx1-ubyte"),
                3, 28, 28, false);

        ImageDataset train = Datasets.fashionMnist(dir, true);
        ImageDataset test = Datasets.load("fashion-mnist", dir, false);

        assertEquals(6, train.size());
        assertEquals(3, test.size());
        assertEquals("fashion-mnist/train", train.name());
        assertEquals("fashion-mnist/test", test.name());
        assertEquals("T-shirt/top", train.className(0));
        assertEquals("Ankle boot", train.className(9));
        assertEquals(DataFiles.pixel(5, 0, 27, 27), train.pixel(5, 0, 27, 27));
    }

    @Test
    void mnistHasDigitNames() throws Exception {
        DataFiles.writeIdxPair(dir.resolve("t10k-images-idx3-ubyte"), dir.resolve("t10k-labels-idx1-ubyte"),
                2, 28, 28, false);
        ImageDataset d = Datasets.mnist(dir, false);
        assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), d.classNames());
        assertEquals("mnist/test", d.name());
    }

    @Test
    void missingFashionMnistSaysHowToGetIt() {
        DataFiles.writeIdxPair(dir.resolve("train-images-idx3-ubyte"), dir.resolve("x"), 1, 2, 2, false);
        DatasetException e = assertThrows(DatasetException.class, () -> Datasets.fashionMnist(dir, true));
        assertMessage(e, "Fashion-MNIST training data not found", "expected train-labels-idx1-ubyte (or the same "
                + "with .gz) in " + dir, "apt-get install dataset-fashion-mnist", "--data DIR",
                "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte");
        assertEquals(dir, e.file());
    }

    @Test
    void aMissingFolderIsSaidToBeMissing() {
        Path nowhere = dir.resolve("nowhere");
        DatasetException e = assertThrows(DatasetException.class, () -> Datasets.mnist(nowhere, false));
        assertMessage(e, "folder " + nowhere + " does not exist",
                "expected t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte", "--data DIR");
    }

    @Test
    void onlyFashionMnistHasADefaultFolder() {
        assertMessage(assertThrows(DatasetException.class, () -> Datasets.load("cifar10", null, true)),
                "CIFAR-10 has no default folder", "--data DIR");
        assertMessage(assertThrows(DatasetException.class, () -> Datasets.mnist(null, true)), "MNIST has no default");
    }

    @Test
    void unknownNamesListTheKnownOnes() {
        assertMessage(assertThrows(IllegalArgumentException.class, () -> Datasets.load("imagenet", dir, true)),
                "unknown data set 'imagenet'", "fashion-mnist, mnist, cifar10, cifar100");
        assertThrows(IllegalArgumentException.class, () -> Datasets.defaultNormalization("svhn"));
    }

    /** Debian's package, where installed: the real files, their sizes, balance and the normalisation's mean. */
    @Test
    void realFashionMnistWhereInstalled() throws Exception {
        assumeTrue(Files.isDirectory(Datasets.DEBIAN_FASHION_MNIST), "dataset-fashion-mnist is not installed");
        ImageDataset test = Datasets.fashionMnist(null, false);
        assertEquals(10_000, test.size());
        assertEquals(28, test.height());
        int[] perClass = new int[10];
        for (int label : test.labels()) perClass[label]++;
        int[] thousand = new int[10];
        Arrays.fill(thousand, 1000);
        assertArrayEquals(thousand, perClass);
        double sum = 0;
        for (int i = 0; i < test.size(); i++) for (byte p : test.image(i)) sum += (p & 0xFF) / 255.0;
        assertEquals(0.2860, sum / (test.size() * 784.0), 0.01); // the test split's mean is close to the train's
    }

    // ---- CIFAR --------------------------------------------------------------------------------------------------

    private void writeCifar10(Path folder, int perBatch) {
        for (int b = 1; b <= 5; b++) {
            write(folder.resolve("data_batch_" + b + ".bin"), cifar(perBatch, (b - 1) * perBatch, 1));
        }
        write(folder.resolve("test_batch.bin"), cifar(3, 1000, 1));
    }

    @Test
    void cifar10ReadsAllFiveTrainingBatchesInOrder() throws Exception {
        writeCifar10(dir, 2);
        ImageDataset d = Datasets.cifar10(dir, true);
        assertEquals(10, d.size());
        assertEquals(3, d.channels());
        assertEquals(32, d.height());
        assertEquals(32, d.width());
        assertEquals("cifar10/train", d.name());
        for (int i = 0; i < 10; i++) {
            assertEquals(i % 10, d.label(i));
            assertCifarPixels(d, i, i);
        }
        assertEquals("airplane", d.className(0));
        assertEquals("truck", d.className(9));
    }

    @Test
    void cifar10FromItsUsualSubfolder() throws Exception {
        writeCifar10(dir.resolve("cifar-10-batches-bin"), 1);
        ImageDataset test = Datasets.load("cifar10", dir, false);
        assertEquals(3, test.size());
        assertCifarPixels(test, 2, 1002);
    }

    @Test
    void cifar100KeepsTheFineLabel() throws Exception {
        write(dir.resolve("cifar-100-binary").resolve("train.bin"), cifar(5, 0, 2));
        ImageDataset d = Datasets.cifar100(dir, true);
        assertEquals(5, d.size());
        assertEquals(100, d.numClasses());
        assertEquals(100, new HashSet<>(d.classNames()).size());
        for (int i = 0; i < 5; i++) {
            assertEquals((i * 37) % 100, d.label(i));
            assertCifarPixels(d, i, i);
        }
        assertEquals("apple", d.className(0));
        assertEquals("worm", d.className(99));
    }

    @Test
    void missingCifarBatchesAreListed() {
        writeCifar10(dir, 1);
        Path missing = dir.resolve("data_batch_4.bin");
        assertTrue(missing.toFile().delete());
        DatasetException e = assertThrows(DatasetException.class, () -> Datasets.cifar10(dir, true));
        assertMessage(e, "CIFAR-10 training data not found: expected data_batch_4.bin in " + dir,
                "cifar-10-binary.tar.gz", "--data DIR");
        DatasetException none = assertThrows(DatasetException.class, () -> Datasets.cifar100(dir, false));
        assertMessage(none, "expected test.bin in " + dir + " or " + dir.resolve("cifar-100-binary"));
    }

    @Test
    void truncatedCifarFileSaysHowManyRecordsAndBytes() {
        writeCifar10(dir, 2);
        write(dir.resolve("data_batch_3.bin"), Arrays.copyOf(cifar(2, 0, 1), 2 * 3073 - 10));
        DatasetException e = assertThrows(DatasetException.class, () -> Datasets.cifar10(dir, true));
        assertMessage(e, dir.resolve("data_batch_3.bin").toString(), "file has 6136 bytes",
                "not a whole number of 3073-byte records", "1 records and 3063 bytes over");
    }

    @Test
    void cifar10FilesAreNotCifar100() {
        write(dir.resolve("test.bin"), cifar(3, 0, 1));
        assertMessage(assertThrows(DatasetException.class, () -> Datasets.cifar100(dir, false)),
                "not a whole number of 3074-byte records", "or not CIFAR-100");
    }

    @Test
    void emptyCifarFile() {
        write(dir.resolve("test_batch.bin"), new byte[0]);
        assertMessage(assertThrows(DatasetException.class, () -> Datasets.cifar10(dir, false)), "file is empty");
    }

    @Test
    void cifarLabelsOutOfRangeNameTheRecordAndOffset() {
        byte[] records = cifar(3, 0, 1);
        records[2 * 3073] = 10;
        write(dir.resolve("test_batch.bin"), records);
        assertMessage(assertThrows(DatasetException.class, () -> Datasets.cifar10(dir, false)),
                "label 10 of record 2 at byte offset 6146 is outside 0..9");

        byte[] fine = cifar(3, 0, 2);
        fine[3074 + 1] = (byte) 200;
        write(dir.resolve("test.bin"), fine);
        assertMessage(assertThrows(DatasetException.class, () -> Datasets.cifar100(dir, false)),
                "label 200 of record 1 at byte offset 3075 is outside 0..99");

        byte[] coarse = cifar(3, 0, 2);
        coarse[0] = 20;
        write(dir.resolve("test.bin"), coarse);
        assertMessage(assertThrows(DatasetException.class, () -> Datasets.cifar100(dir, false)),
                "coarse label 20 of record 0 at byte offset 0 is outside 0..19");
    }

    @Test
    void classNamesByName() {
        assertEquals(10, Datasets.classNames("fashion-mnist").size());
        assertEquals("Ankle boot", Datasets.classNames("fashion-mnist").get(9));
        assertEquals("ship", Datasets.classNames("cifar10").get(8));
        assertEquals(100, new HashSet<>(Datasets.classNames("cifar100")).size());
        assertThrows(IllegalArgumentException.class, () -> Datasets.classNames("svhn"));
    }

    // ---- normalisation ------------------------------------------------------------------------------------------

    @Test
    void defaultNormalizationsHaveOneEntryPerChannel() {
        assertArrayEquals(new float[] {0.2860f}, Datasets.defaultNormalization("fashion-mnist").mean());
        assertArrayEquals(new float[] {0.3081f}, Datasets.defaultNormalization("mnist").std());
        assertArrayEquals(new float[] {0.4914f, 0.4822f, 0.4465f}, Datasets.defaultNormalization("cifar10").mean());
        assertArrayEquals(new float[] {0.2673f, 0.2564f, 0.2762f}, Datasets.defaultNormalization("cifar100").std());
    }

    /** Centred on a zero canvas: every pixel moved by the margin, the margin zero, labels and names kept. */
    @Test
    void zeroPaddingCentresEveryImage() {
        byte[] pixels = new byte[2 * 3 * 3];
        for (int i = 0; i < pixels.length; i++) pixels[i] = (byte) (i + 1);
        ImageDataset set = ImageDataset.of("tiny", pixels, new int[] {1, 0}, 1, 3, 3, 2, List.of("a", "b"));
        ImageDataset padded = set.zeroPadded(7);
        assertEquals(7, padded.height());
        assertEquals(7, padded.width());
        assertArrayEquals(set.labels(), padded.labels());
        assertEquals(set.classNames(), padded.classNames());
        for (int n = 0; n < 2; n++) {
            for (int y = 0; y < 7; y++) {
                for (int x = 0; x < 7; x++) {
                    boolean inside = y >= 2 && y < 5 && x >= 2 && x < 5;
                    assertEquals(inside ? set.pixel(n, 0, y - 2, x - 2) : 0, padded.pixel(n, 0, y, x),
                            "image " + n + " at " + y + "," + x);
                }
            }
        }
        var e = assertThrows(IllegalArgumentException.class, () -> set.zeroPadded(6));
        assertTrue(e.getMessage().contains("tiny") && e.getMessage().contains("even"), e.getMessage());
    }
}

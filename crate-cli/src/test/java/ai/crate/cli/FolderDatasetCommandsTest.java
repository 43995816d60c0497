package ai.crate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.model.data.TrainingData;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --dataset folder} through the commands: train, eval, measure, predict by name, and the IDX route's twin. */
class FolderDatasetCommandsTest {
    @TempDir
    Path dir;

    /** A 28×28 grey item of class k (0..9): a bright band at rows 2k..2k+3 (even k) or columns (odd k), over noise. */
    static byte[] item(int k, SplittableRandom r) {
        byte[] px = new byte[784];
        for (int p = 0; p < 784; p++) {
            int y = p / 28, x = p % 28, at = k % 2 == 0 ? y : x;
            boolean band = at >= 2 * k && at < 2 * k + 4;
            px[p] = (byte) Math.min(255, r.nextInt(90) + (band ? 150 : 0));
        }
        return px;
    }

    static void writePng(Path file, byte[] px) throws IOException {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster raster = img.getRaster();
        for (int p = 0; p < 784; p++) raster.setSample(p % 28, p / 28, 0, px[p] & 255);
        Files.createDirectories(file.getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    /** n items per class under root/<class>/; returns the items in the folder's order (class, then name). */
    static List<byte[]> writeClasses(Path root, List<String> classes, int perClass, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        List<byte[]> items = new ArrayList<>();
        for (int k = 0; k < classes.size(); k++) {
            for (int i = 0; i < perClass; i++) {
                byte[] px = item(k, r);
                writePng(root.resolve(classes.get(k)).resolve(String.format("%04d.png", i)), px);
                items.add(px);
            }
        }
        return items;
    }

    static void writeIdx(Path folder, String split, List<byte[]> items, int perClass) throws IOException {
        Files.createDirectories(folder);
        try (var out = new DataOutputStream(Files.newOutputStream(folder.resolve(split + "-images-idx3-ubyte")))) {
            out.writeInt(0x803);
            out.writeInt(items.size());
            out.writeInt(28);
            out.writeInt(28);
            for (byte[] px : items) out.write(px);
        }
        try (var out = new DataOutputStream(Files.newOutputStream(folder.resolve(split + "-labels-idx1-ubyte")))) {
            out.writeInt(0x801);
            out.writeInt(items.size());
            for (int i = 0; i < items.size(); i++) out.write(i / perClass);
        }
    }

    @Test
    void trainEvalMeasurePredictOnAFolderTree() throws Exception {
        Path data = dir.resolve("pictures"), run = dir.resolve("run");
        writeClasses(data, List.of("band", "pillar"), 40, 1);
        Files.writeString(data.resolve("band/notes.txt"), "not an image");
        Files.write(data.resolve("pillar/broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        CrateCliTest.Run looked = CrateCliTest.run("data", "--dataset", "folder", "--data", data.toString(),
                "--epochs", "1", "--batch", "8");
        assertEquals(0, looked.code(), looked.err());
        assertTrue(looked.out().contains("2 classes [band, pillar]") && looked.out().contains("loader epoch 1: ")
                && looked.out().contains("random-resized crop 0.08..1 + flip"), looked.out());
        CrateCliTest.Run train = CrateCliTest.run("train", "--config", "fmnist-small", "--dataset", "folder",
                "--data", data.toString(), "--test-fraction", "0.25", "--split-seed", "3", "--epochs", "1",
                "--batch", "16", "--out", run.toString(), "--backend", "simd");
        assertEquals(0, train.code(), train.err());
        assertTrue(train.err().contains("skipped " + data.resolve("band/notes.txt")), train.err());
        assertTrue(train.err().contains("skipped " + data.resolve("pillar/broken.png")), train.err());
        var counts = java.util.regex.Pattern.compile("(\\d+) files? skipped").matcher(train.err());
        int skipped = 0, lines = 0;
        while (counts.find()) {
            skipped += Integer.parseInt(counts.group(1));
            lines++;
        }
        assertEquals(2, lines, "each split reports its count: " + train.err());
        assertEquals(2, skipped, train.err());
        assertTrue(train.err().contains("normalising with the training images' Normalization[mean="), train.err());
        TensorFile ckpt = Checkpoints.read(run.resolve("last.safetensors"));
        TrainingData trained = TrainingData.fromMetadata(ckpt.metadata()).orElseThrow();
        assertEquals(List.of("band", "pillar"), trained.classes());
        assertEquals("folder", trained.dataset());
        assertEquals(0.25, trained.testFraction());
        assertEquals(3, trained.splitSeed());

        // eval finds the data set, the split and the normalisation in the checkpoint
        CrateCliTest.Run eval = CrateCliTest.run("eval", "--checkpoint", run.resolve("last.safetensors").toString(),
                "--data", data.toString(), "--json");
        assertEquals(0, eval.code(), eval.err());
        JsonObject e = JsonParser.parseString(eval.out()).getAsJsonObject();
        int testImages = e.get("n").getAsInt();
        assertTrue(testImages > 5 && testImages < 40, "about a quarter of 80: " + testImages);
        assertTrue(e.getAsJsonObject("per_class").has("band") && e.getAsJsonObject("per_class").has("pillar"),
                eval.out());
        CrateCliTest.Run otherSplit = CrateCliTest.run("eval", "--checkpoint",
                run.resolve("last.safetensors").toString(), "--data", data.toString(), "--split-seed", "4", "--json");
        assertEquals(0, otherSplit.code(), otherSplit.err());
        assertNotEquals(testImages + " " + e.get("top1"), JsonParser.parseString(otherSplit.out()).getAsJsonObject()
                .get("n").getAsInt() + " " + JsonParser.parseString(otherSplit.out()).getAsJsonObject().get("top1"),
                "--split-seed overrides the checkpoint's");

        CrateCliTest.Run measure = CrateCliTest.run("measure", "--checkpoint",
                run.resolve("last.safetensors").toString(), "--data", data.toString(), "--batches", "1", "--batch",
                "4", "--json");
        assertEquals(0, measure.code(), measure.err());
        assertEquals(4, JsonParser.parseString(measure.out()).getAsJsonObject().get("images").getAsInt());

        Path png = dir.resolve("query.png");
        writePng(png, item(1, new SplittableRandom(99)));
        CrateCliTest.Run predict = CrateCliTest.run("predict", "--checkpoint",
                run.resolve("last.safetensors").toString(), png.toString());
        assertEquals(0, predict.code(), predict.err());
        assertTrue(predict.out().contains("pillar") && predict.out().contains("band"), predict.out());

        Path others = dir.resolve("others");
        writeClasses(others, List.of("cats", "dogs"), 5, 2);
        CrateCliTest.Run mismatch = CrateCliTest.run("eval", "--checkpoint",
                run.resolve("last.safetensors").toString(), "--data", others.toString());
        assertEquals(2, mismatch.code());
        assertTrue(mismatch.err().contains("[band, pillar]") && mismatch.err().contains("[cats, dogs]"),
                mismatch.err());

        CrateCliTest.Run oneClass = CrateCliTest.run("train", "--dataset", "folder", "--data",
                others.resolve("cats").toString(), "--out", dir.resolve("x").toString());
        assertEquals(3, oneClass.code(), "3: the data is unreadable");
        assertTrue(oneClass.err().contains("no class sub-folders"), oneClass.err());
    }

    /** A resumed run keeps the split and the normalisation it started with, even after images were added. */
    @Test
    void resumeKeepsTheSplitAndNormalisation() throws Exception {
        Path data = dir.resolve("grow"), run = dir.resolve("run");
        writeClasses(data, List.of("band", "pillar"), 12, 3);
        String[] args = {"train", "--config", "fmnist-small", "--dataset", "folder", "--data", data.toString(),
            "--split-seed", "5", "--batch", "8", "--steps", "1", "--out", run.toString(), "--backend", "simd"};
        CrateCliTest.Run first = CrateCliTest.run(args);
        assertEquals(0, first.code(), first.err());
        TrainingData before = TrainingData.fromMetadata(Checkpoints.read(run.resolve("last.safetensors")).metadata())
                .orElseThrow();
        for (int i = 0; i < 10; i++) writePng(data.resolve("band/new" + i + ".png"), new byte[784]);   // all black
        String[] again = java.util.Arrays.copyOf(args, args.length + 1);
        again[again.length - 1] = "--resume";
        again[java.util.Arrays.asList(args).indexOf("--steps") + 1] = "2";   // one more step
        CrateCliTest.Run resumed = CrateCliTest.run(again);
        assertEquals(0, resumed.code(), resumed.err());
        TrainingData after = TrainingData.fromMetadata(Checkpoints.read(run.resolve("last.safetensors")).metadata())
                .orElseThrow();
        assertEquals(before, after, "the black images added since did not change the stored statistics");
        CrateCliTest.Run fresh = CrateCliTest.run(concat(new String[] {"--config", "fmnist-small", "--dataset",
            "folder", "--data", data.toString(), "--batch", "8", "--steps", "1", "--backend", "simd"}, "--out",
                dir.resolve("fresh").toString()));
        assertEquals(0, fresh.code(), fresh.err());
        assertNotEquals(before.normalization(), TrainingData.fromMetadata(Checkpoints.read(
                dir.resolve("fresh/last.safetensors")).metadata()).orElseThrow().normalization(), "a new run sees them");
    }

    /**
     * The same images as PNG folders and as IDX files, in the same order, trained with the same seed and settings:
     * the folder route ends with the IDX route's weights, bit for bit, hence its accuracy. Ten classes, as the IDX
     * sets have.
     */
    @Test
    void aFolderOfPngsTrainsAsTheSameImagesInIdxFiles() throws Exception {
        List<String> classes = java.util.stream.IntStream.range(0, 10).mapToObj(k -> "c" + k).toList();
        Path folder = dir.resolve("folder"), idx = dir.resolve("idx");
        writeIdx(idx, "train", writeClasses(folder.resolve("train"), classes, 20, 5), 20);
        writeIdx(idx, "t10k", writeClasses(folder.resolve("test"), classes, 6, 6), 6);
        String[] common = {"--config", "fmnist-small", "--epochs", "2", "--batch", "16", "--no-augment", "--mean",
            "0.4", "--std", "0.3", "--seed", "7", "--backend", "simd"};
        CrateCliTest.Run viaFolder = CrateCliTest.run(concat(common, "--dataset", "folder", "--data",
                folder.toString(), "--out", dir.resolve("a").toString()));
        assertEquals(0, viaFolder.code(), viaFolder.err());
        CrateCliTest.Run viaIdx = CrateCliTest.run(concat(common, "--dataset", "mnist", "--data", idx.toString(),
                "--out", dir.resolve("b").toString()));
        assertEquals(0, viaIdx.code(), viaIdx.err());
        Map<String, StoredTensor> a = Checkpoints.read(dir.resolve("a/best.safetensors")).tensors();
        Map<String, StoredTensor> b = Checkpoints.read(dir.resolve("b/best.safetensors")).tensors();
        assertEquals(a.keySet(), b.keySet());
        for (String key : a.keySet()) {
            assertEquals(b.get(key), a.get(key), key);
        }
        List<String> metricsA = Files.readAllLines(dir.resolve("a/metrics.csv")),
                metricsB = Files.readAllLines(dir.resolve("b/metrics.csv"));
        for (int i = 1; i < metricsA.size(); i++) {
            String[] x = metricsA.get(i).split(","), y = metricsB.get(i).split(",");
            assertEquals(y[6], x[6], "test accuracy of epoch " + i);
        }
    }

    private static String[] concat(String[] head, String... tail) {
        String[] all = java.util.Arrays.copyOf(head, head.length + tail.length + 1);
        all[0] = "train";
        System.arraycopy(head, 0, all, 1, head.length);
        System.arraycopy(tail, 0, all, head.length + 1, tail.length);
        return all;
    }
}

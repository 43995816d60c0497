package ai.crate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.ReferenceBackend;
import ai.crate.model.family.Architectures;
import ai.crate.model.family.Checkpoints;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/** train, eval and predict end to end on a small Fashion-MNIST-shaped data set written by the test. */
class TrainCommandTest {
    @TempDir
    Path dir;

    /** IDX files of n 28×28 images: class k is a bright horizontal band at rows 2k..2k+2, over noise. */
    static void writeIdx(Path folder, String split, int n, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        Files.createDirectories(folder);
        byte[] px = new byte[n * 784];
        byte[] labels = new byte[n];
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(10);
            labels[i] = (byte) k;
            for (int p = 0; p < 784; p++) {
                int row = p / 28;
                px[i * 784 + p] = (byte) Math.min(255, r.nextInt(60) + (row >= 2 * k && row < 2 * k + 3 ? 180 : 0));
            }
        }
        try (var out = new DataOutputStream(Files.newOutputStream(folder.resolve(split + "-images-idx3-ubyte")))) {
            out.writeInt(0x803);
            out.writeInt(n);
            out.writeInt(28);
            out.writeInt(28);
            out.write(px);
        }
        try (var out = new DataOutputStream(Files.newOutputStream(folder.resolve(split + "-labels-idx1-ubyte")))) {
            out.writeInt(0x801);
            out.writeInt(n);
            out.write(labels);
        }
    }

    /** Every command on a trained model of each architecture: CRATE and its ViT twin. */
    @ParameterizedTest
    @ValueSource(strings = {"fmnist-small", "vit-fmnist-small", "crate-alpha-fmnist-small", "tost-fmnist-small"})
    void trainEvalPredict(String config) throws Exception {
        boolean vit = config.startsWith("vit"), tost = config.startsWith("tost");
        String architecture = vit ? "vit" : tost ? "tost" : config.startsWith("crate-alpha") ? "crate-alpha" : "crate";
        int layers = tost ? 8 : 6, side = (tost ? 32 : 28) * 8;   // ToST: 6 TSSA + 2 class-attention layers, 32 px
        Path data = dir.resolve("data"), out = dir.resolve("run");
        writeIdx(data, "train", 96, 1);
        writeIdx(data, "t10k", 40, 2);
        CrateCliTest.Run train = CrateCliTest.run("train", "--config", config, "--data", data.toString(), "--epochs",
                "2", "--batch", "16", "--out", out.toString(), "--backend", "simd");
        assertEquals(0, train.code(), train.err());
        assertTrue(train.out().contains("epoch 2/2"), train.out());
        List<String> metrics = Files.readAllLines(out.resolve("metrics.csv"));
        assertEquals(3, metrics.size(), "header and one row per epoch: " + metrics);
        assertTrue(Files.size(out.resolve("accuracy.png")) > 1000, "the accuracy curve was drawn");
        assertTrue(Files.exists(out.resolve("best.safetensors")) && Files.exists(out.resolve("last.safetensors")));

        CrateCliTest.Run eval = CrateCliTest.run("eval", "--checkpoint", out.resolve("best.safetensors").toString(),
                "--data", data.toString(), "--json");
        assertEquals(0, eval.code(), eval.err());
        JsonObject o = JsonParser.parseString(eval.out()).getAsJsonObject();
        assertEquals(40, o.get("n").getAsInt());
        assertTrue(o.get("top5").getAsDouble() >= o.get("top1").getAsDouble());
        assertTrue(o.getAsJsonObject("per_class").has("Trouser"), eval.out());

        Path measured = dir.resolve("measure");
        CrateCliTest.Run measure = CrateCliTest.run("measure", "--checkpoint", out.resolve("best.safetensors").toString(),
                "--data", data.toString(), "--batches", "2", "--batch", "8", "--out", measured.toString(), "--json");
        assertEquals(0, measure.code(), measure.err());
        JsonObject m = JsonParser.parseString(measure.out()).getAsJsonObject();
        assertEquals(16, m.get("images").getAsInt());
        List<String> csv = Files.readAllLines(measured.resolve("measure.csv"));
        assertEquals(7, csv.size());
        int width = ImageIO.read(measured.resolve("measure.png").toFile()).getWidth();
        if (vit) {
            for (String part : List.of("q", "k", "v")) {
                assertEquals(6, m.getAsJsonArray("rc_mean_" + part).size(), "one value per layer for " + part);
            }
            assertFalse(m.has("sparsity_mean"), measure.out());
            assertTrue(m.get("sparsity").getAsString().contains("no ISTA-type block"), measure.out());
            assertEquals("layer,rc_mean_q,rc_std_q,rc_mean_k,rc_std_k,rc_mean_v,rc_std_v", csv.getFirst());
            assertTrue(width == 500, "one panel: coding rates only");
        } else if (tost) {
            assertEquals(6, m.getAsJsonArray("rc_mean").size(), "the coding rate of TSSA's W per layer");
            assertFalse(m.has("sparsity_mean"), measure.out());
        } else {
            assertEquals(6, m.getAsJsonArray("rc_mean").size(), "one value per layer of fmnist-small");
            assertEquals(6, m.getAsJsonArray("sparsity_mean").size());
            assertTrue(width > 500, "two-panel PNG decodes");
        }

        CrateCliTest.Run segment = CrateCliTest.run("segment", "--checkpoint", out.resolve("best.safetensors").toString(),
                "--data", data.toString(), "--eval", "--images", "30", "--json");
        assertEquals(0, segment.code(), segment.err());
        JsonObject g = JsonParser.parseString(segment.out()).getAsJsonObject();
        assertEquals(30, g.get("images").getAsInt());
        assertEquals(layers, g.getAsJsonArray("miou").size(), "a row per layer");
        assertEquals(6, g.getAsJsonArray("miou").get(0).getAsJsonArray().size(), "a column per head");
        double best = g.getAsJsonObject("best").get("miou").getAsDouble();
        assertTrue(best > 0 && best <= 1, segment.out());

        BufferedImage img = new BufferedImage(56, 56, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 56; y++) for (int x = 0; x < 56; x++) img.setRGB(x, y, y < 10 ? 0xE0E0E0 : 0x202020);
        Path png = dir.resolve("item.png");
        ImageIO.write(img, "png", png.toFile());
        CrateCliTest.Run predict = CrateCliTest.run("predict", "--checkpoint", out.resolve("best.safetensors").toString(),
                png.toString());
        assertEquals(0, predict.code(), predict.err());

        Path maps = dir.resolve("maps");
        CrateCliTest.Run attention = CrateCliTest.run("attention", "--checkpoint",
                out.resolve("best.safetensors").toString(), "--layer", "3", "--out", maps.toString(), png.toString());
        assertEquals(0, attention.code(), attention.err());
        BufferedImage grid = ImageIO.read(maps.resolve("item-L3-heads.png").toFile());
        assertEquals(8 * side, grid.getWidth(), "original, 6 heads and the PCA side by side");
        assertTrue(ImageIO.read(maps.resolve("item-L3-head6.png").toFile()).getHeight() == side);
        assertTrue(ImageIO.read(maps.resolve("item-L3-pca.png").toFile()).getWidth() == side);
        assertTrue(predict.out().startsWith(png.toString() + ":") && predict.out().contains("%"), predict.out());

        CrateCliTest.Run info = CrateCliTest.run("info", "--checkpoint", out.resolve("best.safetensors").toString(),
                "--json");
        assertEquals(0, info.code(), info.err());
        assertEquals(architecture, JsonParser.parseString(info.out()).getAsJsonObject().get("architecture")
                .getAsString(), info.out());
    }

    @Test
    void aSecondTrainerOnTheSameOutIsRefusedWhileTheFirstHoldsIt() throws Exception {
        Path data = dir.resolve("data"), out = dir.resolve("busy");
        writeIdx(data, "train", 32, 3);
        writeIdx(data, "t10k", 16, 4);
        Files.createDirectories(out);
        String[] train = {"train", "--data", data.toString(), "--steps", "1", "--batch", "16", "--warmup", "0", "--out",
                out.toString(), "--backend", "simd"};
        try (FileChannel held = FileChannel.open(out.resolve(".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); FileLock lock = held.lock()) {
            CrateCliTest.Run refused = CrateCliTest.run(train);
            assertEquals(2, refused.code(), refused.out());
            assertTrue(refused.err().contains("another crate train is writing there"), refused.err());
            assertFalse(Files.exists(out.resolve("last.safetensors")), "the refused run wrote a checkpoint");
        }
        CrateCliTest.Run after = CrateCliTest.run(train);
        assertEquals(0, after.code(), after.err());
        assertTrue(Files.exists(out.resolve("last.safetensors")));
    }

    @Test
    void resumeContinuesWhereAStepLimitStopped() throws Exception {
        Path data = dir.resolve("data"), out = dir.resolve("run");
        writeIdx(data, "train", 64, 3);
        writeIdx(data, "t10k", 16, 4);
        String[] common = {"--data", data.toString(), "--epochs", "2", "--batch", "16", "--warmup", "2", "--out",
                out.toString(), "--backend", "simd"};
        CrateCliTest.Run first = CrateCliTest.run(concat(new String[] {"train", "--steps", "3"}, common));
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("stopped at step 3"), first.out());
        CrateCliTest.Run second = CrateCliTest.run(concat(new String[] {"train", "--resume"}, common));
        assertEquals(0, second.code(), second.err());
        assertTrue(second.out().contains("done: 8 steps"), second.out());
    }

    @Test
    void maskedAutoencoderTrainReconstructProbe() throws Exception {
        Path data = dir.resolve("data"), out = dir.resolve("mae");
        writeIdx(data, "train", 64, 5);
        writeIdx(data, "t10k", 24, 6);
        CrateCliTest.Run train = CrateCliTest.run("train-mae", "--data", data.toString(), "--epochs", "2", "--batch", "16",
                "--dim", "24", "--depth", "2", "--heads", "2", "--out", out.toString(), "--backend", "simd");
        assertEquals(0, train.code(), train.err());
        assertTrue(train.out().contains("epoch 2/2") && train.out().contains("test loss"), train.out());
        assertEquals(3, Files.readAllLines(out.resolve("metrics.csv")).size());

        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 28; y++) for (int x = 0; x < 28; x++) img.setRGB(x, y, y > 8 && y < 20 ? 0xC0C0C0 : 0);
        Path png = dir.resolve("coat.png");
        ImageIO.write(img, "png", png.toFile());
        CrateCliTest.Run rec = CrateCliTest.run("reconstruct", "--checkpoint", out.resolve("best.safetensors").toString(),
                "--out", dir.resolve("rec").toString(), png.toString());
        assertEquals(0, rec.code(), rec.err());
        BufferedImage grid = ImageIO.read(dir.resolve("rec/coat-mae.png").toFile());
        assertEquals(3 * 28 * 8, grid.getWidth(), "original | masked | reconstruction");

        CrateCliTest.Run probe = CrateCliTest.run("probe", "--checkpoint", out.resolve("best.safetensors").toString(),
                "--data", data.toString(), "--epochs", "2", "--json");
        assertEquals(0, probe.code(), probe.err());
        JsonObject o = JsonParser.parseString(probe.out()).getAsJsonObject();
        assertTrue(o.get("top1").getAsDouble() >= 0 && o.get("top1").getAsDouble() <= 1, probe.out());
        assertTrue(o.has("top1_random_init") && o.get("n_test").getAsInt() == 24, probe.out());
    }

    @Test
    void missingDataSaysHowToGetIt() throws Exception {
        CrateCliTest.Run r = CrateCliTest.run("train", "--data", dir.resolve("nothing-here").toString());
        assertEquals(3, r.code());
        assertTrue(r.err().contains("apt-get install dataset-fashion-mnist") && r.err().contains("--data"), r.err());
        // the checkpoint is read first: what it was trained on is the default data set
        Path model = dir.resolve("model.safetensors");
        Checkpoints.save(Architectures.createClassifier(Architectures.classifierPreset("fmnist-small"),
                new ReferenceBackend(), 0), model);
        CrateCliTest.Run eval = CrateCliTest.run("eval", "--checkpoint", model.toString(), "--data",
                dir.resolve("nothing-here").toString());
        assertEquals(3, eval.code(), "every command reading data exits 3 when it is missing: " + eval.err());
        assertTrue(eval.err().startsWith("crate eval: ") && eval.err().contains("apt-get install"), eval.err());
    }

    /** A bad number is one error naming the option and the value, before any data is read. */
    @Test
    void badNumbersNameTheirOption() throws Exception {
        String[][] cases = {
                {"train", "--epochs", "-1", "--epochs must be >= 1, got -1"},
                {"train", "--steps", "-5", "--steps must be >= 0, got -5"},
                {"train", "--warmup", "-3", "--warmup must be >= -1, got -3"},
                {"train", "--minutes", "-1", "--minutes must be in [0, "},
                {"train", "--batch", "0", "--batch must be >= 1, got 0"},
                {"train", "--label-smoothing", "1.5", "--label-smoothing must be in [0, 1), got 1.5"},
                {"train-mae", "--mask-ratio", "1", "--mask-ratio must be in [0, 1), got 1.0"},
                {"train-mae", "--heads", "0", "--heads must be >= 1, got 0"},
                {"bench", "--config", "fmnist-small", "--runs", "0", "--runs must be >= 1, got 0"},
                {"segment", "--checkpoint", "x.safetensors", "--mass", "2", "--mass must be in [0, 1], got 2.0"},
                {"eval", "--checkpoint", "x.safetensors", "--batch", "0", "--batch must be >= 1, got 0"}};
        for (String[] c : cases) {
            CrateCliTest.Run r = CrateCliTest.run(java.util.Arrays.copyOf(c, c.length - 1));
            assertEquals(2, r.code(), String.join(" ", c) + ": " + r.err());
            assertTrue(r.err().contains(c[c.length - 1]), String.join(" ", c) + " → " + r.err());
        }
        Path data = dir.resolve("data");
        writeIdx(data, "train", 32, 3);
        writeIdx(data, "t10k", 8, 4);
        CrateCliTest.Run lr = CrateCliTest.run("train", "--data", data.toString(), "--batch", "16", "--lr", "-1", "--out",
                dir.resolve("r").toString());
        assertTrue(lr.code() == 2 && lr.err().contains("--lr must be > 0, got -1.0"), lr.err());
        CrateCliTest.Run warm = CrateCliTest.run("train", "--data", data.toString(), "--batch", "16", "--epochs", "1",
                "--warmup", "99", "--out", dir.resolve("r").toString());
        assertTrue(warm.code() == 2 && warm.err().contains("--warmup 99 is longer than the run's 2 steps"), warm.err());
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

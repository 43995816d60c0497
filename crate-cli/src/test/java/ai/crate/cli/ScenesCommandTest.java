package ai.crate.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.model.data.Datasets;
import ai.crate.model.data.ImageDataset;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.TensorFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `crate scenes`: the written scenes rebuild from their stored provenance and the IDX files, and the seed picks them. */
class ScenesCommandTest {
    @TempDir
    Path dir;

    @Test
    void scenesRebuildFromTheirProvenanceAndTheSeedPicksThem() throws Exception {
        Path data = dir.resolve("data");
        TrainCommandTest.writeIdx(data, "train", 30, 1);
        TrainCommandTest.writeIdx(data, "t10k", 20, 2);
        CrateCliTest.Run run = CrateCliTest.run("scenes", "--data", data.toString(), "--split", "test", "--count", "12",
                "--seed", "5", "--out", dir.resolve("a").toString());
        assertEquals(0, run.code(), run.err());
        TensorFile f = SafeTensors.read(dir.resolve("a/scenes.safetensors"));
        ImageDataset items = Datasets.fashionMnist(data, false);
        float[] images = f.tensors().get("images").floats();
        long[] masks = f.tensors().get("masks").longs(), labels = f.tensors().get("labels").longs();
        long[] source = f.tensors().get("source").longs(), offset = f.tensors().get("offset").longs();
        long[] cs = f.tensors().get("clutter_source").longs(), crop = f.tensors().get("clutter_crop").longs();
        long[] at = f.tensors().get("clutter_offset").longs();
        assertArrayEquals(new int[] {12, 1, 64, 64}, f.tensors().get("images").shape());
        assertEquals("U8", f.tensors().get("masks").dtype().toString());
        for (int i = 0; i < 12; i++) {
            int src = (int) source[i], row = (int) offset[2 * i], col = (int) offset[2 * i + 1];
            assertEquals(items.label(src), labels[i]);
            float[] canvas = new float[64 * 64];
            long[] mask = new long[64 * 64];
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    canvas[(row + y) * 64 + col + x] = items.pixel(src, 0, y, x);
                    mask[(row + y) * 64 + col + x] = items.pixel(src, 0, y, x) > 25 ? 1 : 0;
                }
            }
            for (int j = 0; j < 8; j++) {
                int k = i * 8 + j, cy = (int) crop[2 * k], cx = (int) crop[2 * k + 1];
                int ay = (int) at[2 * k], ax = (int) at[2 * k + 1];
                for (int y = 0; y < 8; y++) {
                    for (int x = 0; x < 8; x++) {
                        int p = (ay + y) * 64 + ax + x;
                        canvas[p] = Math.max(canvas[p], items.pixel((int) cs[k], 0, cy + y, cx + x));
                    }
                }
            }
            for (int p = 0; p < canvas.length; p++) canvas[p] /= 255f;
            assertArrayEquals(canvas, Arrays.copyOfRange(images, i * 4096, (i + 1) * 4096), "scene " + i);
            assertArrayEquals(mask, Arrays.copyOfRange(masks, i * 4096, (i + 1) * 4096), "mask " + i);
        }
        assertEquals(8 * 66, ImageIO.read(dir.resolve("a/scenes.png").toFile()).getWidth(), "8 scenes a row");

        CrateCliTest.Run again = CrateCliTest.run("scenes", "--data", data.toString(), "--count", "12", "--seed", "5",
                "--out", dir.resolve("b").toString());
        CrateCliTest.Run other = CrateCliTest.run("scenes", "--data", data.toString(), "--count", "12", "--seed", "6",
                "--out", dir.resolve("c").toString());
        assertEquals(0, again.code() + other.code(), again.err() + other.err());
        byte[] a = Files.readAllBytes(dir.resolve("a/scenes.safetensors"));
        assertArrayEquals(a, Files.readAllBytes(dir.resolve("b/scenes.safetensors")), "the same seed, the same file");
        assertFalse(Arrays.equals(a, Files.readAllBytes(dir.resolve("c/scenes.safetensors"))), "another seed, others");
        CrateCliTest.Run bad = CrateCliTest.run("scenes", "--data", data.toString(), "--split", "val", "--out",
                dir.resolve("d").toString());
        assertTrue(bad.code() != 0 && bad.err().contains("--split must be test or train"), bad.err());
    }

    /** --dataset cluttered-fashion-mnist end to end: train records the scene seed, eval and segment read the same scenes. */
    @Test
    void trainEvalAndSegmentOnClutteredScenes() throws Exception {
        Path data = dir.resolve("data"), out = dir.resolve("run");
        TrainCommandTest.writeIdx(data, "train", 48, 3);
        TrainCommandTest.writeIdx(data, "t10k", 24, 4);
        CrateCliTest.Run train = CrateCliTest.run("train", "--config", "scenes-small", "--dataset",
                "cluttered-fashion-mnist", "--scene-seed", "3", "--data", data.toString(), "--epochs", "1", "--batch",
                "16", "--out", out.toString(), "--backend", "simd");
        assertEquals(0, train.code(), train.err());
        TensorFile ckpt = SafeTensors.read(out.resolve("last.safetensors"));
        assertEquals("cluttered-fashion-mnist", ckpt.metadata().get("data.dataset"));
        assertEquals("3", ckpt.metadata().get("data.scene_seed"));
        CrateCliTest.Run eval = CrateCliTest.run("eval", "--checkpoint", out.resolve("last.safetensors").toString(),
                "--data", data.toString(), "--json");
        assertEquals(0, eval.code(), eval.err());
        assertEquals(24, com.google.gson.JsonParser.parseString(eval.out()).getAsJsonObject().get("n").getAsInt());
        Path dump = dir.resolve("masks.safetensors");
        CrateCliTest.Run segment = CrateCliTest.run("segment", "--checkpoint", out.resolve("last.safetensors").toString(),
                "--data", data.toString(), "--images", "8", "--json", "--dump", dump.toString());
        assertEquals(0, segment.code(), segment.err());
        var g = com.google.gson.JsonParser.parseString(segment.out()).getAsJsonObject();
        var miou = g.getAsJsonArray("miou");
        assertEquals(6, miou.size());
        assertEquals(6, miou.get(0).getAsJsonArray().size());
        for (String b : new String[] {"box", "random", "bright"}) {
            assertEquals(6, g.getAsJsonObject("baselines").getAsJsonArray(b).size(), b);
        }
        assertEquals(g.get("baseline"), g.getAsJsonObject("baselines").get("box"), "baseline is baselines.box");
        assertEquals(6, g.getAsJsonArray("pca").size());
        // the dumped masks reproduce the reported mean IoUs, and the truth is each scene's item mask
        TensorFile masks = SafeTensors.read(dump);
        long[] pred = masks.tensors().get("pred").longs(), truth = masks.tensors().get("truth").longs();
        assertArrayEquals(new int[] {6, 6, 8, 64, 64}, masks.tensors().get("pred").shape());
        ai.crate.model.data.ClutteredScenes scenes = new ai.crate.model.data.ClutteredScenes(
                Datasets.fashionMnist(data, false), 3, false);
        for (int i = 0; i < 8; i++) {
            boolean[] m = scenes.mask(i);
            for (int k = 0; k < 4096; k++) assertEquals(m[k] ? 1 : 0, truth[i * 4096 + k], "truth of scene " + i);
        }
        for (int l = 0; l < 6; l++) {
            for (int h = 0; h < 6; h++) {
                double sum = 0;
                for (int i = 0; i < 8; i++) {
                    int inter = 0, union = 0;
                    for (int k = 0; k < 4096; k++) {
                        long a = pred[((l * 6 + h) * 8 + i) * 4096 + k], b = truth[i * 4096 + k];
                        inter += a & b;
                        union += a | b;
                    }
                    sum += union == 0 ? 1 : (double) inter / union;
                }
                assertEquals(sum / 8, miou.get(l).getAsJsonArray().get(h).getAsDouble(), 1e-12, "layer " + l + " head " + h);
            }
        }
        CrateCliTest.Run mae = CrateCliTest.run("train-mae", "--dataset", "cluttered-fashion-mnist", "--data",
                data.toString(), "--epochs", "1", "--out", dir.resolve("mae").toString());
        assertTrue(mae.code() != 0 && mae.err().contains("cluttered-fashion-mnist is for the classifier commands"),
                mae.err());
    }
}

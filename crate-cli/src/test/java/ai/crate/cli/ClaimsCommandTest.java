package ai.crate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.model.data.ClutteredScenes;
import ai.crate.model.data.Datasets;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `crate claims` end to end on a tiny data set: both models trained and measured, claims.md with its figures. */
class ClaimsCommandTest {
    @TempDir
    Path dir;

    @Test
    void trainsBothMeasuresThemAndWritesTheReport() throws Exception {
        Path data = dir.resolve("data"), out = dir.resolve("claims");
        TrainCommandTest.writeIdx(data, "train", 32, 5);
        TrainCommandTest.writeIdx(data, "t10k", 16, 6);
        CrateCliTest.Run run = CrateCliTest.run("claims", "--data", data.toString(), "--epochs", "1", "--batch", "16",
                "--images", "8", "--out", out.toString(), "--backend", "simd");
        assertEquals(0, run.code(), run.err() + run.out());
        String md = Files.readString(out.resolve("claims.md"));
        for (String want : new String[] {"| scenes-small |", "| vit-scenes-small |", "brightest patches", "PCA route",
                "coding rate", "sparsity", "no sparse code", "scenes-small/attention/scene0-L", "| crate-alpha-scenes-small |",
                "| tost-scenes-small |", "(accuracy.png)", "(segmentation.png)", "warmup a tenth"}) {
            assertTrue(md.contains(want), "claims.md lacks '" + want + "':\n" + md);
        }
        for (String png : new String[] {"accuracy.png", "segmentation.png"}) {
            assertTrue(Files.size(out.resolve(png)) > 1000, png);
        }
        for (String model : new String[] {"scenes-small", "vit-scenes-small", "crate-alpha-scenes-small", "tost-scenes-small"}) {
            try (var files = Files.list(out.resolve(model).resolve("attention"))) {
                assertEquals(4 * 8, files.count(), model + ": 4 scenes × (grid, 6 heads, PCA)");
            }
        }
        for (String command : new String[] {"eval", "info", "bench", "segment", "measure"}) {
            String json = Files.readString(out.resolve("vit-scenes-small").resolve(command + ".json"));
            assertTrue(json.startsWith("{") && json.length() > 20, command + ".json: " + json);
        }
        assertTrue(Files.readString(out.resolve("scenes-small/segment.json")).contains("\"baselines\""));
        boolean[] truth = new ClutteredScenes(Datasets.fashionMnist(data, false), 0, false).mask(1);
        BufferedImage mask = ImageIO.read(out.resolve("scenes/scene1-mask.png").toFile());
        assertEquals(64 * AttentionCommand.SCALE, mask.getWidth());
        for (int y = 0; y < mask.getHeight(); y++) {
            for (int x = 0; x < mask.getWidth(); x++) {
                int at = y / AttentionCommand.SCALE * 64 + x / AttentionCommand.SCALE;
                assertEquals(truth[at] ? 0xFFFFFF : 0, mask.getRGB(x, y) & 0xFFFFFF, "mask pixel " + at);
            }
        }
        assertTrue(md.contains("(scenes/scene1-mask.png) ![scenes-small scene1]"), md);
        assertTrue(run.out().contains("wrote " + out.resolve("claims.md")), run.out());
    }
}

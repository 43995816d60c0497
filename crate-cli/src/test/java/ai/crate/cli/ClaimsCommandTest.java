package ai.crate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
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
        assertTrue(run.out().contains("wrote " + out.resolve("claims.md")), run.out());
    }
}

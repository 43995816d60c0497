package ai.crate.cli;

import ai.crate.model.data.ClutteredScenes;
import ai.crate.model.data.Datasets;
import ai.crate.model.data.ImageDataset;
import ai.crate.model.io.DType;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Writes cluttered translated Fashion-MNIST scenes with their provenance, so anyone can rebuild each from the IDX
 * files: {@code scenes.safetensors} and a contact sheet of the first scenes with their masks outlined.
 */
@Command(name = "scenes", mixinStandardHelpOptions = true,
        description = "Cluttered translated Fashion-MNIST scenes (64×64, one item, 8 fragments) with masks and provenance.")
final class ScenesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--split", defaultValue = "test", paramLabel = "test|train", description = "Split (default ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--count", defaultValue = "100", paramLabel = "N", description = "Scenes 0..N-1 (default ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Scene seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--data", paramLabel = "DIR", description = "Fashion-MNIST's IDX files (default: Debian's "
            + "dataset-fashion-mnist).")
    Path data;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where scenes.safetensors and scenes.png go.")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (!split.equals("test") && !split.equals("train")) {
            throw new IllegalArgumentException("--split must be test or train, got '" + split + "'");
        }
        boolean train = split.equals("train");
        ImageDataset items = Datasets.fashionMnist(data, train);
        OptionChecks.inRange("--count", count, 1, items.size(), true);
        ClutteredScenes scenes = new ClutteredScenes(items, seed, train);
        int n = count, px = ClutteredScenes.SIZE * ClutteredScenes.SIZE, f = ClutteredScenes.FRAGMENTS;
        float[] images = new float[n * px];
        long[] masks = new long[n * px], labels = new long[n], source = new long[n], offset = new long[n * 2];
        long[] clutterSource = new long[n * f], crop = new long[n * f * 2], at = new long[n * f * 2];
        for (int i = 0; i < n; i++) {
            ClutteredScenes.Scene s = scenes.scene(i);
            for (int k = 0; k < px; k++) {
                images[i * px + k] = (s.pixels()[k] & 0xFF) / 255f;
                masks[i * px + k] = s.mask()[k] ? 1 : 0;
            }
            labels[i] = s.label();
            source[i] = s.source();
            offset[2 * i] = s.row();
            offset[2 * i + 1] = s.column();
            for (int j = 0; j < f; j++) {
                clutterSource[i * f + j] = s.clutterSource()[j];
                for (int c = 0; c < 2; c++) {
                    crop[(i * f + j) * 2 + c] = s.clutterCrop()[j][c];
                    at[(i * f + j) * 2 + c] = s.clutterOffset()[j][c];
                }
            }
        }
        int side = ClutteredScenes.SIZE;
        Map<String, StoredTensor> t = new LinkedHashMap<>();
        t.put("images", StoredTensor.f32(new int[] {n, 1, side, side}, images));
        t.put("masks", StoredTensor.ofLongs(DType.U8, new int[] {n, side, side}, masks));
        t.put("labels", StoredTensor.i64(new int[] {n}, labels));
        t.put("source", StoredTensor.i64(new int[] {n}, source));
        t.put("offset", StoredTensor.i64(new int[] {n, 2}, offset));
        t.put("clutter_source", StoredTensor.i64(new int[] {n, f}, clutterSource));
        t.put("clutter_crop", StoredTensor.i64(new int[] {n, f, 2}, crop));
        t.put("clutter_offset", StoredTensor.i64(new int[] {n, f, 2}, at));
        Files.createDirectories(out);
        Path file = out.resolve("scenes.safetensors"), sheet = out.resolve("scenes.png");
        SafeTensors.write(file, t, Map.of("format", "cluttered-fashion-mnist", "split", split, "seed",
                Long.toString(seed), "count", Integer.toString(n)));
        ImageIO.write(contactSheet(scenes, Math.min(n, 64)), "png", sheet.toFile());
        spec.commandLine().getOut().println("wrote " + file + " (" + n + " " + split + " scenes, seed " + seed + ") and "
                + sheet);
        return 0;
    }

    /** Up to 64 scenes, 8 per row, each item's mask outlined in red. */
    private static BufferedImage contactSheet(ClutteredScenes scenes, int n) {
        int side = ClutteredScenes.SIZE, cols = Math.min(n, 8), rows = (n + 7) / 8, gap = 2;
        BufferedImage img = new BufferedImage(cols * (side + gap), rows * (side + gap), BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < n; i++) {
            ClutteredScenes.Scene s = scenes.scene(i);
            int ox = (i % 8) * (side + gap), oy = (i / 8) * (side + gap);
            for (int y = 0; y < side; y++) {
                for (int x = 0; x < side; x++) {
                    boolean in = s.mask()[y * side + x];
                    boolean edge = in && (x == 0 || y == 0 || x == side - 1 || y == side - 1 || !s.mask()[y * side + x - 1]
                            || !s.mask()[y * side + x + 1] || !s.mask()[(y - 1) * side + x] || !s.mask()[(y + 1) * side + x]);
                    int v = s.pixels()[y * side + x] & 0xFF;
                    img.setRGB(ox + x, oy + y, edge ? 0xFF2020 : (v << 16) | (v << 8) | v);
                }
            }
        }
        return img;
    }
}

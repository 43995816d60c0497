package ai.crate.cli;

import ai.crate.model.data.ClutteredScenes;
import ai.crate.model.data.Datasets;
import ai.crate.model.data.Picture;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.lines.SeriesLines;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The claims study on cluttered translated Fashion-MNIST, one command: trains a CRATE and its ViT twin with the same
 * recipe, epochs and seed, then measures each with the library's own commands (eval, info, bench, segment with its
 * baselines and the PCA route, measure, attention) and writes {@code claims.md} with the tables and figures.
 */
@Command(name = "claims", mixinStandardHelpOptions = true,
        description = "CRATE against its ViT twin on cluttered scenes: accuracy, size, speed, emergent segmentation, "
                + "compression and sparsity, written to DIR/claims.md.")
final class ClaimsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--configs", split = ",", defaultValue = "scenes-small,vit-scenes-small,crate-alpha-scenes-small,tost-scenes-small",
            paramLabel = "A,B", description = "Presets to compare, each trained the same way (default ${DEFAULT-VALUE}).")
    List<String> configs;

    @Option(names = "--epochs", defaultValue = "1", paramLabel = "E", description = "Training epochs of each model "
            + "(default ${DEFAULT-VALUE}: the four default presets then take about 50 minutes on 2 cores).")
    int epochs;

    @Option(names = "--batch", defaultValue = "128", paramLabel = "B", description = "Training batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--images", defaultValue = "1000", paramLabel = "N", description = "Test scenes segment scores "
            + "(default ${DEFAULT-VALUE}).")
    int images;

    @Option(names = "--data", paramLabel = "DIR", description = "Fashion-MNIST's IDX files (default: Debian's).")
    Path data;

    @Option(names = "--scene-seed", defaultValue = "0", paramLabel = "S", description = "Scenes (default ${DEFAULT-VALUE}).")
    long sceneSeed;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "Init and shuffling (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the runs, figures and claims.md go.")
    Path out;

    @Option(names = "--backend", paramLabel = "NAME", description = "A backend by name (default: the best available).")
    String backend;

    private PrintWriter log;

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--epochs", epochs, 1);
        OptionChecks.atLeast("--images", images, 1);
        OptionChecks.atLeast("--batch", batch, 1);
        if (configs.size() < 2) throw new IllegalArgumentException("--configs needs at least two presets to compare");
        log = spec.commandLine().getOut();
        long start = System.nanoTime();
        Files.createDirectories(out);
        // A tenth of the run warms up: the trainer's default (one epoch) would leave a one-epoch study no decay.
        long warmup = Math.max(1, (long) epochs * Math.ceilDiv(Datasets.fashionMnist(data, true).size(), batch) / 10);
        List<Path> scenePngs = writeScenes(4);
        Map<String, Map<String, JsonObject>> results = new LinkedHashMap<>();
        for (String config : configs) {
            Path run = out.resolve(config);
            List<String> common = new ArrayList<>(List.of("--dataset", Datasets.CLUTTERED_FASHION_MNIST,
                    "--scene-seed", Long.toString(sceneSeed)));
            if (data != null) common.addAll(List.of("--data", data.toString()));
            List<String> device = backend == null ? List.of() : List.of("--backend", backend);
            List<String> train = new ArrayList<>(List.of("train", "--config", config, "--epochs", Integer.toString(epochs),
                    "--batch", Integer.toString(batch), "--warmup", Long.toString(warmup), "--seed", Long.toString(seed),
                    "--out", run.toString()));
            train.addAll(common);
            train.addAll(device);
            run(train);
            String ckpt = run.resolve("last.safetensors").toString();
            Map<String, JsonObject> r = new LinkedHashMap<>();
            r.put("eval", json(concat(List.of("eval", "--checkpoint", ckpt, "--json"), common, device)));
            r.put("info", json(List.of("info", "--checkpoint", ckpt, "--json")));
            r.put("bench", json(concat(List.of("bench", "--config", config, "--json", "--runs", "3", "--steps", "2",
                    "--warmup", "1"), device)));
            r.put("segment", json(concat(List.of("segment", "--checkpoint", ckpt, "--json", "--images",
                    Integer.toString(images)), common, device)));
            r.put("measure", json(concat(List.of("measure", "--checkpoint", ckpt, "--json", "--out",
                    run.resolve("measure").toString()), common, device)));
            int best = r.get("segment").getAsJsonObject("best").get("layer").getAsInt();
            for (Path png : scenePngs) {
                run(concat(List.of("attention", "--checkpoint", ckpt, "--layer", Integer.toString(best), "--out",
                        run.resolve("attention").toString(), png.toString()), device));
            }
            for (Map.Entry<String, JsonObject> e : r.entrySet()) {   // every number of the report, for re-checking
                Files.writeString(run.resolve(e.getKey() + ".json"), e.getValue() + "\n");
            }
            results.put(config, r);
        }
        double minutes = (System.nanoTime() - start) / 6e10;
        figures(results);
        Path md = out.resolve("claims.md");
        Files.writeString(md, report(results, scenePngs, minutes));
        log.printf(Locale.ROOT, "wrote %s (%.1f minutes)%n", md, minutes);
        return 0;
    }

    /** The first test scenes as PNGs, for the attention figures. */
    private List<Path> writeScenes(int n) throws Exception {
        ClutteredScenes scenes = new ClutteredScenes(Datasets.fashionMnist(data, false), sceneSeed, false);
        Path dir = out.resolve("scenes");
        Files.createDirectories(dir);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Picture p = scenes.picture(i);
            BufferedImage img = new BufferedImage(p.width(), p.height(), BufferedImage.TYPE_BYTE_GRAY);
            for (int y = 0; y < p.height(); y++) {
                for (int x = 0; x < p.width(); x++) {
                    int v = p.pixel(0, y, x);
                    img.setRGB(x, y, (v << 16) | (v << 8) | v);
                }
            }
            Path f = dir.resolve("scene" + i + ".png");
            ImageIO.write(img, "png", f.toFile());
            ImageIO.write(maskImage(scenes.mask(i), p.width(), AttentionCommand.SCALE), "png",
                    dir.resolve("scene" + i + "-mask.png").toFile());
            files.add(f);
        }
        return files;
    }

    /** The ground-truth mask, white on black, each pixel a block as wide as the attention figures draw it. */
    static BufferedImage maskImage(boolean[] mask, int width, int scale) {
        BufferedImage img = new BufferedImage(width * scale, mask.length / width * scale, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                if (mask[y / scale * width + x / scale]) img.setRGB(x, y, 0xFFFFFF);
            }
        }
        return img;
    }

    @SafeVarargs
    private static List<String> concat(List<String>... parts) {
        List<String> all = new ArrayList<>();
        for (List<String> p : parts) all.addAll(p);
        return all;
    }

    /** Runs one of our commands in this JVM; its output goes to the log; a failure ends the study with its message. */
    private String run(List<String> args) {
        log.println("crate claims: crate " + String.join(" ", args));
        log.flush();
        CommandLine cl = CrateCli.commandLine();
        StringWriter captured = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(captured, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args.toArray(String[]::new));
        if (code != 0) {
            throw new IllegalStateException("crate " + args.getFirst() + " failed (exit " + code + "): " + err.toString().strip());
        }
        return captured.toString();
    }

    private JsonObject json(List<String> args) {
        String text = run(args).strip();
        return JsonParser.parseString(text.substring(text.lastIndexOf("\n{") + 1)).getAsJsonObject();
    }

    private String report(Map<String, Map<String, JsonObject>> results, List<Path> scenes, double minutes) {
        StringBuilder s = new StringBuilder();
        s.append("# CRATE against ViT on cluttered translated Fashion-MNIST\n\n");
        s.append(String.format(Locale.ROOT, "`crate claims --epochs %d --batch %d --scene-seed %d --seed %d --images %d` "
                + "(%s; warmup a tenth of the steps, then cosine): %.1f minutes. Scenes: 64×64, one item at a random offset, 8 clutter fragments of other "
                + "images; the mask is the item's pixels > 25.%n%n", epochs, batch, sceneSeed, seed, images,
                String.join(", ", results.keySet()), minutes));
        s.append("![test accuracy](accuracy.png)\n\n## Accuracy, size, speed\n\n| model | test accuracy | parameters | GFLOPs/image | train img/s | inference img/s |\n|---|---|---|---|---|---|\n");
        results.forEach((name, r) -> s.append(String.format(Locale.ROOT, "| %s | %.2f %% | %,d | %.3f | %.1f | %.1f |%n",
                name, 100 * r.get("eval").get("top1").getAsDouble(), r.get("info").get("parameters").getAsLong(),
                r.get("info").get("forward_gflops_per_image").getAsDouble(), r.get("bench").get("train_img_s").getAsDouble(),
                r.get("bench").get("infer_img_s").getAsDouble())));
        s.append("\n## Segmentation from attention (mean IoU against the item's mask)\n\n");
        s.append("| model | best head (layer, head) | its mIoU | same-area centred box | random patches | brightest patches "
                + "| best layer's mean over heads | PCA route, best layer |\n|---|---|---|---|---|---|---|---|\n");
        results.forEach((name, r) -> {
            JsonObject g = r.get("segment"), best = g.getAsJsonObject("best");
            int l = best.get("layer").getAsInt() - 1, h = best.get("head").getAsInt() - 1;
            JsonArray layer = g.getAsJsonArray("miou").get(l).getAsJsonArray();
            double mean = 0;
            for (int i = 0; i < layer.size(); i++) mean += layer.get(i).getAsDouble() / layer.size();
            JsonArray pca = g.getAsJsonArray("pca");
            int bestPca = 0;
            for (int i = 1; i < pca.size(); i++) if (pca.get(i).getAsDouble() > pca.get(bestPca).getAsDouble()) bestPca = i;
            JsonObject b = g.getAsJsonObject("baselines");
            s.append(String.format(Locale.ROOT, "| %s | %d, %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f (layer %d) |%n",
                    name, l + 1, h + 1, best.get("miou").getAsDouble(), at(b, "box", l, h), at(b, "random", l, h),
                    at(b, "bright", l, h), mean, pca.get(bestPca).getAsDouble(), bestPca + 1));
        });
        s.append("\n![segmentation by layer](segmentation.png)\n\nPer layer and head (one bracket per layer):\n\n");
        results.forEach((name, r) -> {
            s.append("- ").append(name).append(" (").append(r.get("segment").get("rule").getAsString()).append("):");
            for (var row : r.get("segment").getAsJsonArray("miou")) {
                s.append(" [");
                for (var v : row.getAsJsonArray()) s.append(String.format(Locale.ROOT, " %.3f", v.getAsDouble()));
                s.append(" ]");
            }
            s.append("\n");
        });
        s.append("\n## Compression and sparsity per layer (`measure`)\n\n");
        results.forEach((name, r) -> {
            JsonObject m = r.get("measure");
            s.append("- ").append(name).append(": coding rate");
            for (String key : m.keySet()) {
                if (!key.startsWith("rc_mean")) continue;
                s.append(key.equals("rc_mean") ? "" : " (" + key.substring("rc_mean_".length()) + ")").append(" ")
                        .append(numbers(m.getAsJsonArray(key)));
            }
            s.append(m.has("sparsity_mean") ? "; sparsity " + numbers(m.getAsJsonArray("sparsity_mean"))
                    : "; no sparse code").append("\n");
        });
        s.append("\n## Attention on the same test scenes\n\n");
        results.forEach((name, r) -> {
            int l = r.get("segment").getAsJsonObject("best").get("layer").getAsInt();
            s.append("**").append(name).append("**, layer ").append(l)
                    .append(" (the item's mask; the scene, every head, PCA):\n\n");
            for (Path p : scenes) {
                String stem = p.getFileName().toString().replace(".png", "");
                s.append("![").append(stem).append(" mask](scenes/").append(stem).append("-mask.png) ![").append(name)
                        .append(" ").append(stem).append("](").append(name).append("/attention/").append(stem)
                        .append("-L").append(l).append("-heads.png)\n");
            }
            s.append("\n");
        });
        return s.toString();
    }

    /** accuracy.png (test accuracy per model) and segmentation.png (each layer's best head and the box baseline). */
    private void figures(Map<String, Map<String, JsonObject>> results) throws Exception {
        CategoryChart bars = new CategoryChartBuilder().width(800).height(450).title("Test accuracy on cluttered scenes")
                .xAxisTitle("model").yAxisTitle("test accuracy (%)").build();
        bars.getStyler().setLegendVisible(false);
        List<String> names = new ArrayList<>(results.keySet());
        List<Double> acc = new ArrayList<>();
        for (String name : names) acc.add(100 * results.get(name).get("eval").get("top1").getAsDouble());
        bars.addSeries("test accuracy", names, acc);
        BitmapEncoder.saveBitmap(bars, out.resolve("accuracy.png").toString(), BitmapEncoder.BitmapFormat.PNG);

        XYChart lines = new XYChartBuilder().width(900).height(520).title("Segmentation mIoU by layer: best head "
                + "against a same-area centred box").xAxisTitle("layer").yAxisTitle("mIoU").build();
        results.forEach((name, r) -> {
            JsonArray miou = r.get("segment").getAsJsonArray("miou");
            JsonArray box = r.get("segment").getAsJsonObject("baselines").getAsJsonArray("box");
            List<Double> layer = new ArrayList<>(), best = new ArrayList<>(), boxAtBest = new ArrayList<>();
            for (int l = 0; l < miou.size(); l++) {
                JsonArray heads = miou.get(l).getAsJsonArray();
                int h = 0;
                for (int i = 1; i < heads.size(); i++) if (heads.get(i).getAsDouble() > heads.get(h).getAsDouble()) h = i;
                layer.add(l + 1.0);
                best.add(heads.get(h).getAsDouble());
                boxAtBest.add(box.get(l).getAsJsonArray().get(h).getAsDouble());
            }
            lines.addSeries(name + " best head", layer, best);
            lines.addSeries(name + " box", layer, boxAtBest).setLineStyle(SeriesLines.DASH_DASH);
        });
        BitmapEncoder.saveBitmap(lines, out.resolve("segmentation.png").toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static double at(JsonObject baselines, String key, int l, int h) {
        return baselines.getAsJsonArray(key).get(l).getAsJsonArray().get(h).getAsDouble();
    }

    private static String numbers(JsonArray a) {
        StringBuilder s = new StringBuilder();
        for (var v : a) s.append(s.isEmpty() ? "" : " ").append(String.format(Locale.ROOT, "%.3f", v.getAsDouble()));
        return s.toString();
    }
}

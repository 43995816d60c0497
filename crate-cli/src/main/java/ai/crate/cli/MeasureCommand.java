package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchIterator;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.Augmentation;
import ai.crate.model.data.ImageSource;
import ai.crate.model.family.ClassifierConfig;
import java.io.PrintWriter;
import ai.crate.model.whitebox.LayerMeasures;
import com.google.gson.Gson;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
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
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Layer by layer: the coding rate of the head features (MSSA's W; an attention's q, k and v apart) and the sparsity
 * of the ISTA output where the model has one, on test images.
 */
@Command(name = "measure", mixinStandardHelpOptions = true,
        description = "Coding rate and sparsity per layer (does each layer compress and sparsify?).")
final class MeasureCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CheckpointOptions weights;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--batches", defaultValue = "4", description = "Test batches to measure (default ${DEFAULT-VALUE}).")
    int batches;

    @Option(names = "--batch", defaultValue = "100", description = "Images per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--out", paramLabel = "DIR", description = "Writes measure.csv and measure.png here.")
    Path out;

    @Option(names = "--json", description = "One JSON object: parts, rc_mean, rc_std (rc_mean_q ... for q, k, v), sparsity_mean, sparsity_std.")
    boolean json;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--batches", batches, 1);
        OptionChecks.atLeast("--batch", batch, 1);
        Backend be = backendOptions.resolve();
        ImageClassifier model = weights.load(be);
        ClassifierConfig c = model.config();
        dataOptions.trainedOn(weights.trainingData());
        PrintWriter log = spec.commandLine().getErr();
        ImageSource test = dataOptions.load(false, c.imageSize(), c.channels(), Augmentation.none(), log);
        int depth = model.config().depth();
        List<String> parts = null;
        List<List<List<Double>>> rc = new ArrayList<>();     // [part][layer] → values over images
        List<List<Double>> sp = null;
        BatchLoader loader = BatchLoader.forEvaluation(test, batch,
                dataOptions.normalization(c.imageSize(), c.channels(), log));
        try (BatchIterator it = loader.evaluation()) {
            for (int n = 0; n < batches && it.hasNext(); n++) {
                Batch b = it.next();
                Tensor images = be.fromArray(b.images(), loader.batchShape(b.size()));
                LayerMeasures.PerImage m = LayerMeasures.of(model, images);
                be.release(images);
                if (parts == null) {
                    parts = m.parts();
                    for (int k = 0; k < parts.size(); k++) rc.add(lists(depth));
                    if (m.sparsity() != null) sp = lists(depth);
                }
                for (int l = 0; l < depth; l++) {
                    for (int k = 0; k < parts.size(); k++) for (double v : m.codingRate()[k][l]) rc.get(k).get(l).add(v);
                    if (sp != null) for (double v : m.sparsity()[l]) sp.get(l).add(v);
                }
            }
        }
        Map<String, double[]> columns = new LinkedHashMap<>();    // name → per layer, in print order
        for (int k = 0; k < parts.size(); k++) {
            String suffix = parts.size() == 1 ? "" : "_" + parts.get(k);
            columns.put("rc_mean" + suffix, stat(rc.get(k), true));
            columns.put("rc_std" + suffix, stat(rc.get(k), false));
        }
        if (sp != null) {
            columns.put("sparsity_mean", stat(sp, true));
            columns.put("sparsity_std", stat(sp, false));
        }
        String noSparsity = "not reported: the " + model.config().architecture() + " model has no ISTA-type block, "
                + "so the share of zeros of its feature maps says nothing about sparse coding";
        int images = rc.getFirst().getFirst().size();
        if (out != null) {
            Files.createDirectories(out);
            StringBuilder csv = new StringBuilder("layer," + String.join(",", columns.keySet()) + "\n");
            for (int l = 0; l < depth; l++) {
                csv.append(l + 1);
                for (double[] col : columns.values()) csv.append(String.format(Locale.ROOT, ",%.6f", col[l]));
                csv.append('\n');
            }
            Files.writeString(out.resolve("measure.csv"), csv, StandardCharsets.UTF_8);
            plot(parts, columns, out.resolve("measure.png"));
        }
        var o = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("images", images);
            j.put("parts", parts);
            j.putAll(columns);
            if (sp == null) j.put("sparsity", noSparsity);
            o.println(new Gson().toJson(j));
            return 0;
        }
        o.printf(Locale.ROOT, "%s on %d images of %s%nlayer", weights.checkpoint.getFileName(), images, test.name());
        for (String part : parts) o.printf(Locale.ROOT, "  %-24s", "coding rate " + (parts.size() == 1 ? "" : part + " ") + "(mean ± std)");
        if (sp != null) o.print("  sparsity (mean ± std)");
        o.println();
        for (int l = 0; l < depth; l++) {
            o.printf(Locale.ROOT, "%5d", l + 1);
            for (String part : parts) {
                String suffix = parts.size() == 1 ? "" : "_" + part;
                o.printf(Locale.ROOT, "  %10.2f ± %-11.2f", columns.get("rc_mean" + suffix)[l], columns.get("rc_std" + suffix)[l]);
            }
            if (sp != null) o.printf(Locale.ROOT, "  %10.4f ± %.4f", columns.get("sparsity_mean")[l], columns.get("sparsity_std")[l]);
            o.println();
        }
        if (sp == null) o.println("sparsity " + noSparsity);
        return 0;
    }

    private static List<List<Double>> lists(int n) {
        List<List<Double>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new ArrayList<>());
        return out;
    }

    /** Per layer, the mean (or population std) of the values gathered for it. */
    private static double[] stat(List<List<Double>> perLayer, boolean mean) {
        double[] out = new double[perLayer.size()];
        for (int l = 0; l < out.length; l++) {
            double[] v = perLayer.get(l).stream().mapToDouble(Double::doubleValue).toArray();
            out[l] = mean ? LayerMeasures.mean(v) : LayerMeasures.std(v);
        }
        return out;
    }

    /** Like the paper's layer-wise figure: R^c against layer (a series per part), and sparsity beside it when measured. */
    private static void plot(List<String> parts, Map<String, double[]> columns, Path png) throws Exception {
        int depth = columns.values().iterator().next().length;
        double[] layers = new double[depth];
        for (int l = 0; l < depth; l++) layers[l] = l + 1;
        XYChart rc = new XYChartBuilder().width(500).height(400).title("Compression: coding rate R^c")
                .xAxisTitle("layer").yAxisTitle("R^c").build();
        for (String part : parts) {
            String suffix = parts.size() == 1 ? "" : "_" + part;
            rc.addSeries(parts.size() == 1 ? "R^c" : "R^c of " + part, layers, columns.get("rc_mean" + suffix),
                    columns.get("rc_std" + suffix));
        }
        BufferedImage left = BitmapEncoder.getBufferedImage(rc);
        if (!columns.containsKey("sparsity_mean")) {
            ImageIO.write(left, "png", png.toFile());
            return;
        }
        XYChart sp = new XYChartBuilder().width(500).height(400).title("Sparsity of the ISTA output")
                .xAxisTitle("layer").yAxisTitle("share of zeros").build();
        sp.addSeries("sparsity", layers, columns.get("sparsity_mean"), columns.get("sparsity_std"));
        BufferedImage right = BitmapEncoder.getBufferedImage(sp);
        BufferedImage both = new BufferedImage(left.getWidth() + right.getWidth(), Math.max(left.getHeight(),
                right.getHeight()), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = both.createGraphics();
        g.drawImage(left, 0, 0, null);
        g.drawImage(right, left.getWidth(), 0, null);
        g.dispose();
        ImageIO.write(both, "png", png.toFile());
    }
}

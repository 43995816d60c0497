package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchIterator;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.ImageDataset;
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

/** Layer by layer: the coding rate of the head features and the sparsity of the ISTA output, on test images. */
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

    @Option(names = "--json", description = "One JSON object with arrays rc_mean, rc_std, sparsity_mean, sparsity_std.")
    boolean json;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--batches", batches, 1);
        OptionChecks.atLeast("--batch", batch, 1);
        ImageDataset test = dataOptions.load(false);
        Backend be = backendOptions.resolve();
        ImageClassifier model = weights.load(be);
        int depth = model.config().depth();
        List<List<Double>> rc = new ArrayList<>(), sp = new ArrayList<>();
        for (int l = 0; l < depth; l++) { rc.add(new ArrayList<>()); sp.add(new ArrayList<>()); }
        BatchLoader loader = BatchLoader.forEvaluation(test, batch, dataOptions.normalization());
        try (BatchIterator it = loader.evaluation()) {
            for (int n = 0; n < batches && it.hasNext(); n++) {
                Batch b = it.next();
                Tensor images = be.fromArray(b.images(), loader.batchShape(b.size()));
                LayerMeasures.PerImage m = LayerMeasures.of(model, images);
                be.release(images);
                for (int l = 0; l < depth; l++) {
                    for (double v : m.codingRate()[l]) rc.get(l).add(v);
                    for (double v : m.sparsity()[l]) sp.get(l).add(v);
                }
            }
        }
        double[] rcMean = new double[depth], rcStd = new double[depth], spMean = new double[depth], spStd = new double[depth];
        for (int l = 0; l < depth; l++) {
            double[] r = rc.get(l).stream().mapToDouble(Double::doubleValue).toArray();
            double[] s = sp.get(l).stream().mapToDouble(Double::doubleValue).toArray();
            rcMean[l] = LayerMeasures.mean(r);
            rcStd[l] = LayerMeasures.std(r);
            spMean[l] = LayerMeasures.mean(s);
            spStd[l] = LayerMeasures.std(s);
        }
        int images = rc.getFirst().size();
        if (out != null) {
            Files.createDirectories(out);
            StringBuilder csv = new StringBuilder("layer,rc_mean,rc_std,sparsity_mean,sparsity_std\n");
            for (int l = 0; l < depth; l++) {
                csv.append(String.format(Locale.ROOT, "%d,%.6f,%.6f,%.6f,%.6f%n", l + 1, rcMean[l], rcStd[l], spMean[l],
                        spStd[l]));
            }
            Files.writeString(out.resolve("measure.csv"), csv, StandardCharsets.UTF_8);
            plot(rcMean, rcStd, spMean, spStd, out.resolve("measure.png"));
        }
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("images", images);
            o.put("rc_mean", rcMean);
            o.put("rc_std", rcStd);
            o.put("sparsity_mean", spMean);
            o.put("sparsity_std", spStd);
            spec.commandLine().getOut().println(new Gson().toJson(o));
        } else {
            var o = spec.commandLine().getOut();
            o.printf(Locale.ROOT, "%s on %d %s test images%nlayer  coding rate (mean ± std)  sparsity (mean ± std)%n",
                    weights.checkpoint.getFileName(), images, dataOptions.dataset);
            for (int l = 0; l < depth; l++) {
                o.printf(Locale.ROOT, "%5d  %10.2f ± %-8.2f  %12.4f ± %.4f%n", l + 1, rcMean[l], rcStd[l], spMean[l],
                        spStd[l]);
            }
        }
        return 0;
    }

    /** Two panels side by side, like the paper's layer-wise figure: R^c and sparsity against layer, ±1 std bars. */
    private static void plot(double[] rcMean, double[] rcStd, double[] spMean, double[] spStd, Path png) throws Exception {
        double[] layers = new double[rcMean.length];
        for (int l = 0; l < layers.length; l++) layers[l] = l + 1;
        XYChart rc = new XYChartBuilder().width(500).height(400).title("Compression: coding rate R^c")
                .xAxisTitle("layer").yAxisTitle("R^c").build();
        rc.addSeries("R^c", layers, rcMean, rcStd);
        XYChart sp = new XYChartBuilder().width(500).height(400).title("Sparsity of the ISTA output")
                .xAxisTitle("layer").yAxisTitle("share of zeros").build();
        sp.addSeries("sparsity", layers, spMean, spStd);
        BufferedImage left = BitmapEncoder.getBufferedImage(rc), right = BitmapEncoder.getBufferedImage(sp);
        BufferedImage both = new BufferedImage(left.getWidth() + right.getWidth(), Math.max(left.getHeight(),
                right.getHeight()), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = both.createGraphics();
        g.drawImage(left, 0, 0, null);
        g.drawImage(right, left.getWidth(), 0, null);
        g.dispose();
        ImageIO.write(both, "png", png.toFile());
    }
}

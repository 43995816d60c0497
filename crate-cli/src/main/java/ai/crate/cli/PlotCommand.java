package ai.crate.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * PNG figures for BENCHMARKS.md: test accuracy per epoch of several training runs (their metrics.csv) on one chart,
 * or the token scaling of {@code crate bench --attention --json} rows (log-log, with the fitted slopes printed).
 */
@Command(name = "plot", mixinStandardHelpOptions = true,
        description = "Accuracy-per-epoch of several runs, or token scaling from bench JSON lines, as a PNG.")
final class PlotCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    static final class Source {
        @Option(names = "--metrics", paramLabel = "NAME=FILE", description = "A run's metrics.csv under a legend name "
                + "(repeatable).")
        List<String> metrics;

        @Option(names = "--scaling", paramLabel = "FILE.jsonl", description = "Lines of `crate bench --attention --json`"
                + " over image sizes: images/s and attention time against tokens, log-log, one series per config.")
        Path scaling;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--out", required = true, paramLabel = "FILE.png", description = "The PNG to write.")
    Path out;

    @Override
    public Integer call() throws Exception {
        XYChart chart = source.scaling != null ? scaling(source.scaling) : accuracy(source.metrics);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        BitmapEncoder.saveBitmap(chart, out.toString(), BitmapEncoder.BitmapFormat.PNG);
        spec.commandLine().getOut().println("wrote " + out);
        return 0;
    }

    private XYChart accuracy(List<String> runs) throws Exception {
        XYChart chart = new XYChartBuilder().width(800).height(500).title("Test accuracy per epoch")
                .xAxisTitle("epoch").yAxisTitle("test accuracy (%)").build();
        for (String run : runs) {
            int eq = run.indexOf('=');
            if (eq < 1) throw new IllegalArgumentException("--metrics takes NAME=FILE, got '" + run + "'");
            Path file = Path.of(run.substring(eq + 1));
            List<String> lines = Files.readAllLines(file);
            List<String> header = List.of(lines.getFirst().split(","));
            int epoch = header.indexOf("epoch"), test = header.indexOf("test_acc");
            if (epoch < 0 || test < 0) throw new IllegalArgumentException(file + ": no epoch or test_acc column");
            List<Double> x = new ArrayList<>(), y = new ArrayList<>();
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.split(",");
                x.add(Double.parseDouble(f[epoch]));
                y.add(100 * Double.parseDouble(f[test]));
            }
            if (!x.isEmpty()) chart.addSeries(run.substring(0, eq), x, y);
        }
        return chart;
    }

    /** Per config, train and inference ms/image and the attention's train ms against tokens; slopes printed. */
    private XYChart scaling(Path jsonl) throws Exception {
        Map<String, List<JsonObject>> rows = new LinkedHashMap<>();
        for (String line : Files.readAllLines(jsonl)) {
            if (line.isBlank()) continue;
            JsonObject o = JsonParser.parseString(line).getAsJsonObject();
            rows.computeIfAbsent(o.get("config").getAsString(), k -> new ArrayList<>()).add(o);
        }
        XYChart chart = new XYChartBuilder().width(900).height(560).title("Time per image against tokens (log-log)")
                .xAxisTitle("tokens").yAxisTitle("ms per image").build();
        chart.getStyler().setXAxisLogarithmic(true).setYAxisLogarithmic(true);
        for (var e : rows.entrySet()) {
            String[][] series = {{"train_img_s", "train step"}, {"infer_img_s", "inference"},
                    {"attention_train_ms", "attention fwd+bwd"}};
            for (String[] s : series) {
                List<Double> x = new ArrayList<>(), y = new ArrayList<>();
                for (JsonObject o : e.getValue()) {
                    if (!o.has(s[0])) continue;
                    x.add(o.get("tokens").getAsDouble());
                    double v = o.get(s[0]).getAsDouble();
                    y.add(s[0].endsWith("_img_s") ? 1000 / v : v / o.get("batch").getAsDouble());
                }
                if (x.size() < 2) continue;
                chart.addSeries(e.getKey() + " " + s[1], x, y);
                spec.commandLine().getOut().printf(Locale.ROOT, "%s %s: slope %.2f%n", e.getKey(), s[1], slope(x, y));
            }
        }
        return chart;
    }

    /** The least-squares slope of log y against log x. */
    static double slope(List<Double> x, List<Double> y) {
        int n = x.size();
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) {
            mx += Math.log(x.get(i)) / n;
            my += Math.log(y.get(i)) / n;
        }
        double sxy = 0, sxx = 0;
        for (int i = 0; i < n; i++) {
            double dx = Math.log(x.get(i)) - mx;
            sxy += dx * (Math.log(y.get(i)) - my);
            sxx += dx * dx;
        }
        return sxy / sxx;
    }
}

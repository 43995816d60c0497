package ai.crate.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

/** The accuracy-vs-time PNG from a trainer's metrics.csv. */
final class Plot {
    private Plot() {}

    /** Test and train accuracy (%) against elapsed minutes; nothing is written when there are no rows yet. */
    static void accuracyCurve(Path metricsCsv, Path png) throws IOException {
        List<String> lines = Files.readAllLines(metricsCsv);
        if (lines.size() < 2) return;
        List<String> header = List.of(lines.getFirst().split(","));
        int time = header.indexOf("elapsed_s"), test = header.indexOf("test_acc"), train = header.indexOf("train_acc");
        if (time < 0 || test < 0 || train < 0) {
            throw new IOException(metricsCsv + ": header lacks elapsed_s, test_acc or train_acc: " + lines.getFirst());
        }
        List<Double> minutes = new ArrayList<>(), testAcc = new ArrayList<>(), trainAcc = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            minutes.add(Double.parseDouble(f[time]) / 60);
            testAcc.add(100 * Double.parseDouble(f[test]));
            trainAcc.add(100 * Double.parseDouble(f[train]));
        }
        XYChart chart = new XYChartBuilder().width(800).height(500).title("CRATE accuracy vs. time")
                .xAxisTitle("minutes").yAxisTitle("accuracy (%)").build();
        chart.addSeries("test", minutes, testAcc);
        chart.addSeries("train", minutes, trainAcc);
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}

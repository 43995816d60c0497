package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchIterator;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.Augmentation;
import ai.crate.model.data.ClutteredScenes;
import ai.crate.model.data.ImageSource;
import ai.crate.model.data.Picture;
import java.io.PrintWriter;
import ai.crate.model.whitebox.Segmentation;
import com.google.gson.Gson;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Scores emergent segmentation on a labelled-only classifier: per layer and head, foreground masks from the CLS
 * attention against the images' own foreground, as mean IoU, beside a centred box of the same area.
 */
@Command(name = "segment", mixinStandardHelpOptions = true,
        description = "Mean IoU of foreground masks from each layer's and head's map (CLS attention; ToST: membership Π), beside a same-area centred box.")
final class SegmentCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CheckpointOptions weights;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--eval", description = "Score against the ground truth (what this command does).")
    boolean eval;

    @Option(names = "--images", defaultValue = "1000", description = "Test images to score (default ${DEFAULT-VALUE}).")
    int images;

    @Option(names = "--mass", defaultValue = "0.6", description = "Share of a head's map (CLS attention, or ToST's Π) the mask keeps (default ${DEFAULT-VALUE}).")
    double mass;

    @Option(names = "--threshold", defaultValue = "25", description = "Ground truth: pixels above this grey level of "
            + "0..255 (default ${DEFAULT-VALUE}).")
    int threshold;

    @Option(names = "--json", description = "One JSON object: miou and baseline [layer][head], best, the rule and the layer names.")
    boolean json;

    @Mixin
    BackendOptions backendOptions;

    private String rule;
    private java.util.List<String> layerNames;

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--images", images, 1);
        OptionChecks.inRange("--mass", mass, 0, 1, true);
        Backend be = backendOptions.resolve();
        ImageClassifier model = weights.load(be);
        ClassifierConfig c = model.config();
        dataOptions.trainedOn(weights.trainingData());
        if (!dataOptions.dataset().contains("mnist")) {
            throw new IllegalArgumentException("segment needs a data set whose foreground is its bright pixels "
                    + "(fashion-mnist, mnist), got " + dataOptions.dataset());
        }
        PrintWriter log = spec.commandLine().getErr();
        ImageSource test = dataOptions.load(false, c.imageSize(), c.channels(), Augmentation.none(), log);
        int heads = c.heads(), grid = c.gridSize(), patch = c.patchSize();
        double[][] iou = null, base = null;
        BatchLoader loader = BatchLoader.forEvaluation(test, 100,
                dataOptions.normalization(c.imageSize(), c.channels(), log));
        int scored = 0;
        try (BatchIterator it = loader.evaluation()) {
            while (it.hasNext() && scored < images) {
                Batch b = it.next();
                Tensor x = be.fromArray(b.images(), loader.batchShape(b.size()));
                ImageClassifier.HeadMaps maps = model.headMaps(x);
                be.release(x);
                if (iou == null) {
                    iou = new double[maps.maps().size()][heads];
                    base = new double[maps.maps().size()][heads];
                    rule = maps.rule();
                    layerNames = maps.layers();
                }
                int take = Math.min(b.size(), images - scored), p = grid * grid;
                for (int l = 0; l < maps.maps().size(); l++) {
                    float[] m = maps.maps().get(l).toFloatArray();
                    for (int i = 0; i < take; i++) {
                        boolean[] truth = foreground(test, scored + i, c.imageSize());
                        for (int h = 0; h < heads; h++) {
                            float[] row = java.util.Arrays.copyOfRange(m, (i * heads + h) * p, (i * heads + h + 1) * p);
                            boolean[] mask = Segmentation.maskByMass(row, mass);
                            iou[l][h] += Segmentation.iou(Segmentation.toPixels(mask, grid, patch), truth);
                            boolean[] box = Segmentation.centredBox(grid, Segmentation.count(mask));
                            base[l][h] += Segmentation.iou(Segmentation.toPixels(box, grid, patch), truth);
                        }
                    }
                    be.release(maps.maps().get(l));
                }
                scored += take;
            }
        }
        int bestL = 0, bestH = 0;
        for (int l = 0; l < iou.length; l++) {
            for (int h = 0; h < heads; h++) {
                iou[l][h] /= scored;
                base[l][h] /= scored;
                if (iou[l][h] > iou[bestL][bestH]) { bestL = l; bestH = h; }
            }
        }
        report(iou, base, bestL, bestH, scored);
        return 0;
    }

    /**
     * The image's foreground: a cluttered scene's own mask (its item, not the bright clutter), else the pixels brighter
     * than the threshold (the items sit on a black background).
     */
    private boolean[] foreground(ImageSource data, int index, int size) {
        if (data instanceof ClutteredScenes scenes) return scenes.mask(index);
        boolean[] m = new boolean[size * size];
        Picture p = data.picture(index);
        for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) m[y * size + x] = p.pixel(0, y, x) > threshold;
        return m;
    }

    private void report(double[][] iou, double[][] base, int bestL, int bestH, int scored) {
        var o = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("images", scored);
            j.put("mass", mass);
            j.put("threshold", threshold);
            j.put("miou", iou);
            j.put("baseline", base);
            j.put("best", Map.of("layer", bestL + 1, "head", bestH + 1, "miou", iou[bestL][bestH],
                    "baseline", base[bestL][bestH]));
            j.put("rule", rule);
            j.put("layers", layerNames);
            o.println(new Gson().toJson(j));
            return;
        }
        o.printf(Locale.ROOT, "%s on %d %s test images: masks keep %.0f %% of a head's map (%s); ground truth ="
                + " pixels > %d/255%n", weights.checkpoint.getFileName(), scored, dataOptions.dataset(), 100 * mass, rule,
                threshold);
        o.println("layer  mean IoU per head                                   mean   | centred box, same area");
        for (int l = 0; l < iou.length; l++) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%5d ", l + 1));
            if (!layerNames.get(l).equals("layer " + (l + 1))) line.append("(").append(layerNames.get(l)).append(") ");
            double sum = 0, bsum = 0;
            for (int h = 0; h < iou[l].length; h++) {
                line.append(String.format(Locale.ROOT, " %.3f", iou[l][h]));
                sum += iou[l][h];
                bsum += base[l][h];
            }
            o.printf(Locale.ROOT, "%s   %.3f  | %.3f%n", line, sum / iou[l].length, bsum / iou[l].length);
        }
        o.printf(Locale.ROOT, "best: layer %d head %d, mean IoU %.3f (its same-area centred box: %.3f)%n", bestL + 1,
                bestH + 1, iou[bestL][bestH], base[bestL][bestH]);
    }
}

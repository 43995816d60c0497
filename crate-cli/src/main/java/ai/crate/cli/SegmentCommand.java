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
import ai.crate.model.io.DType;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.whitebox.PatchPca;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
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

    @Option(names = "--json", description = "One JSON object: miou [layer][head], best, baselines {box, random, bright} "
            + "[layer][head] of the same areas (baseline = baselines.box), pca [layer], the rule and the layer names.")
    boolean json;

    @Option(names = "--dump", paramLabel = "FILE", description = "Also write safetensors 'pred' [layers, heads, N, H, W] "
            + "and 'truth' [N, H, W] (uint8 0/1), from which the mean IoUs can be recomputed (N ≤ " + MAX_DUMP + ").")
    Path dump;

    static final int MAX_DUMP = 256;
    /** Draws of the random baseline per image, layer and head. */
    static final int RANDOM_DRAWS = 5;

    @Mixin
    BackendOptions backendOptions;

    private String rule;
    private List<String> layerNames;
    private Map<String, double[][]> baselines;
    private double[] pca;

    private static long[] bits(boolean[] m) {
        long[] out = new long[m.length];
        for (int i = 0; i < m.length; i++) out[i] = m[i] ? 1 : 0;
        return out;
    }

    /** Channel 0 of a picture as floats 0..255. */
    private static float[] pixels(Picture p, int size) {
        float[] out = new float[size * size];
        for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) out[y * size + x] = p.pixel(0, y, x);
        return out;
    }

    /** pred [layers, heads, N, H, W] and truth [N, H, W], uint8 0/1. */
    private void writeDump(List<List<long[]>> predicted, List<long[]> truths, int layers, int heads, int n, int size)
            throws Exception {
        int img = size * size;
        long[] pred = new long[layers * heads * n * img];
        for (int k = 0; k < predicted.size(); k++) {
            for (int i = 0; i < n; i++) System.arraycopy(predicted.get(k).get(i), 0, pred, (k * n + i) * img, img);
        }
        long[] truth = new long[n * size * size];
        for (int i = 0; i < n; i++) System.arraycopy(truths.get(i), 0, truth, i * size * size, size * size);
        Map<String, StoredTensor> t = new LinkedHashMap<>();
        t.put("pred", StoredTensor.ofLongs(DType.U8, new int[] {layers, heads, n, size, size}, pred));
        t.put("truth", StoredTensor.ofLongs(DType.U8, new int[] {n, size, size}, truth));
        SafeTensors.write(dump, t, Map.of("rule", rule, "mass", Double.toString(mass), "layers", String.join(",", layerNames)));
    }

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--images", images, 1);
        if (dump != null && images > MAX_DUMP) {
            throw new IllegalArgumentException("--dump keeps every mask in memory: give --images " + MAX_DUMP
                    + " or fewer, got " + images);
        }
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
        int heads = c.heads(), grid = c.gridSize(), patch = c.patchSize(), size = c.imageSize();
        double[][] iou = null, base = null, random = null, bright = null;
        double[] pca = new double[c.depth()];
        List<List<long[]>> predicted = new ArrayList<>();
        List<long[]> truths = new ArrayList<>();
        BatchLoader loader = BatchLoader.forEvaluation(test, 100,
                dataOptions.normalization(c.imageSize(), c.channels(), log));
        int scored = 0, p = grid * grid;
        try (BatchIterator it = loader.evaluation()) {
            while (it.hasNext() && scored < images) {
                Batch b = it.next();
                Tensor x = be.fromArray(b.images(), loader.batchShape(b.size()));
                float[][] layerTokens = new float[c.depth()][];
                ImageClassifier.HeadMaps maps = model.headMaps(x, (layer, w, z, code) -> layerTokens[layer] = z.toFloatArray());
                be.release(x);
                int layers = maps.maps().size();
                if (iou == null) {
                    iou = new double[layers][heads];
                    base = new double[layers][heads];
                    random = new double[layers][heads];
                    bright = new double[layers][heads];
                    rule = maps.rule();
                    layerNames = maps.layers();
                    for (int l = 0; l < layers * heads; l++) predicted.add(new ArrayList<>());
                }
                int take = Math.min(b.size(), images - scored);
                boolean[][] truth = new boolean[take][];
                float[][] brightness = new float[take][];
                for (int i = 0; i < take; i++) {
                    truth[i] = foreground(test, scored + i, size);
                    brightness[i] = Segmentation.patchBrightness(pixels(test.picture(scored + i), size), grid, patch);
                    if (dump != null) truths.add(bits(truth[i]));
                }
                for (int l = 0; l < layers; l++) {
                    float[] m = maps.maps().get(l).toFloatArray();
                    for (int i = 0; i < take; i++) {
                        for (int h = 0; h < heads; h++) {
                            float[] row = Segmentation.headMap(m, i, h, heads, p);
                            boolean[] mask = Segmentation.maskByMass(row, mass);
                            boolean[] pixels = Segmentation.toPixels(mask, grid, patch);
                            iou[l][h] += Segmentation.iou(pixels, truth[i]);
                            int area = Segmentation.count(mask);
                            base[l][h] += Segmentation.iou(Segmentation.toPixels(Segmentation.centredBox(grid, area),
                                    grid, patch), truth[i]);
                            bright[l][h] += Segmentation.iou(Segmentation.toPixels(
                                    Segmentation.brightestMask(brightness[i], area), grid, patch), truth[i]);
                            SplittableRandom r = new SplittableRandom(((long) (scored + i) * 1009 + l) * 1009 + h);
                            for (int d = 0; d < RANDOM_DRAWS; d++) {
                                random[l][h] += Segmentation.iou(Segmentation.toPixels(
                                        Segmentation.randomMask(grid, area, r), grid, patch), truth[i]) / RANDOM_DRAWS;
                            }
                            if (dump != null) predicted.get(l * heads + h).add(bits(pixels));
                        }
                    }
                    be.release(maps.maps().get(l));
                }
                int width = c.dim(), rows = layerTokens[0].length / (b.size() * width), skip = rows - p;
                for (int l = 0; l < c.depth(); l++) {
                    for (int i = 0; i < take; i++) {
                        double[] first = PatchPca.scores(layerTokens[l], (i * rows + skip) * width, p, width, width, 1)[0];
                        pca[l] += Segmentation.iou(Segmentation.toPixels(Segmentation.pcaMask(first, grid), grid, patch),
                                truth[i]);
                    }
                }
                scored += take;
            }
        }
        for (int l = 0; l < pca.length; l++) pca[l] /= scored;
        for (int l = 0; l < iou.length; l++) {
            for (int h = 0; h < heads; h++) {
                random[l][h] /= scored;
                bright[l][h] /= scored;
            }
        }
        baselines = new LinkedHashMap<>();
        baselines.put("box", base);
        baselines.put("random", random);
        baselines.put("bright", bright);
        this.pca = pca;
        if (dump != null) writeDump(predicted, truths, iou.length, heads, scored, size);
        int bestL = 0, bestH = 0;
        for (int l = 0; l < iou.length; l++) {
            for (int h = 0; h < iou[l].length; h++) {
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
            j.put("baselines", baselines);
            j.put("pca", pca);
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
        o.println("layer  mean IoU per head                                   mean   | same area: centred box, random, brightest");
        for (int l = 0; l < iou.length; l++) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%5d ", l + 1));
            if (!layerNames.get(l).equals("layer " + (l + 1))) line.append("(").append(layerNames.get(l)).append(") ");
            double sum = 0, bsum = 0, rsum = 0, brsum = 0;
            for (int h = 0; h < iou[l].length; h++) {
                line.append(String.format(Locale.ROOT, " %.3f", iou[l][h]));
                sum += iou[l][h];
                bsum += base[l][h];
                rsum += baselines.get("random")[l][h];
                brsum += baselines.get("bright")[l][h];
            }
            int k = iou[l].length;
            o.printf(Locale.ROOT, "%s   %.3f  | %.3f %.3f %.3f%n", line, sum / k, bsum / k, rsum / k, brsum / k);
        }
        o.printf(Locale.ROOT, "best: layer %d head %d, mean IoU %.3f (its same-area centred box: %.3f, random: %.3f, "
                + "brightest: %.3f)%n", bestL + 1, bestH + 1, iou[bestL][bestH], base[bestL][bestH],
                baselines.get("random")[bestL][bestH], baselines.get("bright")[bestL][bestH]);
        StringBuilder p = new StringBuilder("PCA route (first component of each layer's patch tokens, border = background):");
        for (double v : pca) p.append(String.format(Locale.ROOT, " %.3f", v));
        o.println(p);
    }
}

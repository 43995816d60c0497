package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.data.Picture;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.ClassifierInference;
import ai.crate.model.whitebox.PatchPca;
import ai.crate.model.whitebox.Segmentation;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Pictures of what a layer attends to: per head the CLS row of its attention over the patches as a heat map over the
 * image, a grid of all heads, and the PCA of the patch features (first component thresholded as foreground, the next
 * three as RGB), as in the CRATE segmentation paper.
 */
@Command(name = "attention", mixinStandardHelpOptions = true,
        description = "Per-head heat maps (CLS attention; ToST: membership Π), a grid of all heads, and the PCA of patch features.")
final class AttentionCommand implements Callable<Integer> {
    static final int SCALE = 8;

    @Spec
    CommandSpec spec;

    @Mixin
    CheckpointOptions weights;

    @Option(names = "--layer", description = "Layer, 1-based (default: the last; ToST counts its class-attention blocks after its TSSA layers).")
    Integer layer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the PNG files go.")
    Path out;

    @Mixin
    ImageOptions images;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        Backend be = backendOptions.resolve();
        ImageClassifier model = weights.load(be);
        images.trainedOn(weights.trainingData());
        ClassifierConfig c = model.config();
        Files.createDirectories(out);
        int size = c.imageSize(), n = c.tokens(), grid = c.gridSize(), heads = c.heads(), d = heads * c.headDim();
        for (int f = 0; f < images.images.size(); f++) {
            Path file = images.images.get(f);
            Picture picture = images.read(f, size, c.channels());
            float[] input = images.input(picture);
            BufferedImage img = ImageFiles.image(picture);
            Tensor x = be.fromArray(input, 1, c.channels(), size, size);
            float[][] features = new float[c.depth()][];   // the PCA reads a block's head features
            ImageClassifier.HeadMaps maps = model.headMaps(x, (layerIndex, w, z, code) -> features[layerIndex] = w.toFloatArray());
            int l = layer == null ? maps.maps().size() : layer;
            if (l < 1 || l > maps.maps().size()) {
                throw new IllegalArgumentException("--layer must be in 1.." + maps.maps().size() + " (" + maps.layers()
                        + "), got " + l);
            }
            int featureLayer = Math.min(l, c.depth()) - 1;
            float[] attn = maps.maps().get(l - 1).toFloatArray();
            String stem = file.getFileName().toString().replaceFirst("\\.[^.]*$", "") + "-L" + l;
            BufferedImage base = ImageFiles.resize(img, size * SCALE, size * SCALE);
            BufferedImage all = new BufferedImage((heads + 2) * size * SCALE, size * SCALE, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = all.createGraphics();
            g.drawImage(base, 0, 0, null);
            for (int h = 0; h < heads; h++) {
                float[] row = Segmentation.headMap(attn, 0, h, heads, grid * grid);
                BufferedImage heat = overlay(base, row, grid);
                ImageIO.write(heat, "png", out.resolve(stem + "-head" + (h + 1) + ".png").toFile());
                g.drawImage(heat, (h + 1) * size * SCALE, 0, null);
            }
            BufferedImage pca = pca(features[featureLayer], n, d, grid, size * SCALE);
            ImageIO.write(pca, "png", out.resolve(stem + "-pca.png").toFile());
            g.drawImage(pca, (heads + 1) * size * SCALE, 0, null);
            g.dispose();
            ImageIO.write(all, "png", out.resolve(stem + "-heads.png").toFile());
            spec.commandLine().getOut().println(file + ": wrote " + out.resolve(stem + "-heads.png") + " (original, "
                    + heads + " heads of " + maps.layers().get(l - 1) + ": " + maps.rule() + "; PCA) and one file per head");
        }
        return 0;
    }

    /** The image with the patch values (scaled to their max) blended in as red over blue. */
    static BufferedImage overlay(BufferedImage base, float[] patches, int grid) {
        float max = 0;
        for (float v : patches) max = Math.max(max, v);
        int w = base.getWidth(), cell = w / grid;
        BufferedImage out = new BufferedImage(w, base.getHeight(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < out.getHeight(); y++) {
            for (int x = 0; x < w; x++) {
                float v = max > 0 ? patches[Math.min(grid - 1, y / cell) * grid + Math.min(grid - 1, x / cell)] / max : 0;
                Color px = new Color(base.getRGB(x, y));
                int r = (int) (0.45 * px.getRed() + 0.55 * 255 * v), b = (int) (0.45 * px.getBlue() + 0.55 * 255 * (1 - v));
                out.setRGB(x, y, new Color(r, (int) (0.45 * px.getGreen()), b).getRGB());
            }
        }
        return out;
    }

    /**
     * {@code width} wide, half as high. Left half: the first component's sign as foreground (white), oriented so that the border patches are mostly
     * background; right half: components 2–4 as RGB, each scaled to [0, 255].
     */
    static BufferedImage pca(float[] w, int tokens, int d, int grid, int width) {
        int n = grid * grid, stride = w.length / tokens;   // rows of W, or of q | k | v (the first d columns: q)
        double[][] s = PatchPca.scores(w, (tokens - n) * stride, n, d, stride, 4);   // the patch rows only (no CLS)
        double border = 0;
        for (int i = 0; i < n; i++) {
            int y = i / grid, x = i % grid;
            if (y == 0 || x == 0 || y == grid - 1 || x == grid - 1) border += Math.signum(s[0][i]);
        }
        double sign = border > 0 ? -1 : 1;
        int cell = SCALE * 2, half = grid * cell;
        BufferedImage out = new BufferedImage(2 * half, half, BufferedImage.TYPE_INT_RGB);
        double[][] range = new double[4][2];
        for (int c = 1; c < s.length; c++) {
            range[c][0] = Double.MAX_VALUE;
            range[c][1] = -Double.MAX_VALUE;
            for (double v : s[c]) { range[c][0] = Math.min(range[c][0], v); range[c][1] = Math.max(range[c][1], v); }
        }
        for (int y = 0; y < half; y++) {
            for (int x = 0; x < 2 * half; x++) {
                int i = (y / cell) * grid + (x % half) / cell;
                int rgb;
                if (x < half) {
                    rgb = sign * s[0][i] > 0 ? 0xFFFFFF : 0;
                } else {
                    int[] ch = new int[3];
                    for (int c = 1; c < Math.min(4, s.length); c++) {
                        double span = range[c][1] - range[c][0];
                        ch[c - 1] = span > 0 ? (int) (255 * (s[c][i] - range[c][0]) / span) : 0;
                    }
                    rgb = ch[0] << 16 | ch[1] << 8 | ch[2];
                }
                out.setRGB(x, y, rgb);
            }
        }
        return ImageFiles.resize(out, width, width / 2);
    }
}

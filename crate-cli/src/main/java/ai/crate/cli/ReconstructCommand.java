package ai.crate.cli;

import ai.crate.autograd.Autograd;
import ai.crate.engine.Backend;
import ai.crate.engine.CounterRandom;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.mae.CrateMaeArchitecture;
import ai.crate.model.mae.CrateMae;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.mae.CrateMaeArchitecture;
import ai.crate.model.mae.CrateMaeConfig;
import ai.crate.model.data.Normalization;
import ai.crate.model.io.TensorFile;
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

/** Original | masked | reconstruction grids of a CRATE-MAE, one PNG per image. */
@Command(name = "reconstruct", mixinStandardHelpOptions = true,
        description = "PNG grids of CRATE-MAE reconstructions: original | masked | reconstruction.")
final class ReconstructCommand implements Callable<Integer> {
    static final int SCALE = 8;

    @Spec
    CommandSpec spec;

    @Mixin
    MaeCheckpointOptions weights;

    @Option(names = "--mask-ratio", description = "Share of patches removed (default: the model's).")
    Float maskRatio;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the masking noise (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the PNG grids go.")
    Path out;

    @Mixin
    ImageOptions images;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        if (maskRatio != null) OptionChecks.inRange("--mask-ratio", maskRatio, 0, 1, false);
        Backend be = backendOptions.resolve();
        TensorFile f = Checkpoints.read(weights.checkpoint);
        CrateMaeConfig c = CrateMaeArchitecture.INSTANCE.configFrom(f, LoadOptions.heads(weights.heads));
        if (maskRatio != null) {
            c = new CrateMaeConfig(c.imageSize(), c.channels(), c.patchSize(), c.dim(), c.depth(), c.heads(), c.eta(),
                    c.lambda(), c.normPixLoss(), maskRatio);
        }
        CrateMae mae = new CrateMae(c, be, 0);
        Checkpoints.loadInto(mae, f);
        Normalization norm = images.normalization();
        Files.createDirectories(out);
        int size = c.imageSize(), p = c.patchSize(), g = c.gridSize(), ch = c.channels(), l = c.numPatches();
        for (int n = 0; n < images.images.size(); n++) {
            float[] input = images.input(images.read(n, size, ch));
            float[] noise = new float[l];
            for (int i = 0; i < l; i++) noise[i] = CounterRandom.uniform(seed, (long) n * l + i);
            float[] pred, mask;
            try (var noGrad = Autograd.noGrad()) {
                CrateMae.Output o = mae.forward(be.fromArray(input, 1, ch, size, size), noise);
                pred = o.pred().value().toFloatArray();
                mask = o.mask();
            }
            float[] recon = input.clone(), masked = input.clone();
            for (int patch = 0; patch < l; patch++) {
                if (mask[patch] == 0f) continue;
                int py = patch / g, px = patch % g;
                float[] stats = c.normPixLoss() ? patchStats(input, py, px, p, size, ch) : null;
                for (int y = 0; y < p; y++) {
                    for (int x = 0; x < p; x++) {
                        for (int k = 0; k < ch; k++) {
                            float v = pred[(patch * p * p + y * p + x) * ch + k];       // (p q c) order
                            if (stats != null) v = v * stats[1] + stats[0];
                            int at = (k * size + py * p + y) * size + px * p + x;
                            recon[at] = v;
                            masked[at] = Float.NaN;
                        }
                    }
                }
            }
            BufferedImage grid = new BufferedImage(3 * size * SCALE, size * SCALE, BufferedImage.TYPE_INT_RGB);
            Graphics2D gr = grid.createGraphics();
            gr.drawImage(ImageFiles.resize(picture(input, c, norm), size * SCALE, size * SCALE), 0, 0, null);
            gr.drawImage(ImageFiles.resize(picture(masked, c, norm), size * SCALE, size * SCALE), size * SCALE, 0, null);
            gr.drawImage(ImageFiles.resize(picture(recon, c, norm), size * SCALE, size * SCALE), 2 * size * SCALE, 0, null);
            gr.dispose();
            Path file = out.resolve(images.images.get(n).getFileName().toString().replaceFirst("\\.[^.]*$", "") + "-mae.png");
            ImageIO.write(grid, "png", file.toFile());
            spec.commandLine().getOut().println(images.images.get(n) + ": wrote " + file);
        }
        return 0;
    }

    /** Mean and unbiased std of one input patch (all channels), to undo a norm-pix target. */
    private static float[] patchStats(float[] x, int py, int px, int p, int size, int ch) {
        double s = 0, ss = 0;
        int n = p * p * ch;
        for (int k = 0; k < ch; k++)
            for (int y = 0; y < p; y++)
                for (int xx = 0; xx < p; xx++) s += x[(k * size + py * p + y) * size + px * p + xx];
        double mean = s / n;
        for (int k = 0; k < ch; k++)
            for (int y = 0; y < p; y++)
                for (int xx = 0; xx < p; xx++) ss += StrictMath.pow(x[(k * size + py * p + y) * size + px * p + xx] - mean, 2);
        return new float[] {(float) mean, (float) Math.sqrt(ss / Math.max(n - 1, 1) + 1e-6)};
    }

    /** Model input back to a picture: un-normalised, clamped to [0, 1]; NaN (a removed patch) shows as mid grey. */
    private static BufferedImage picture(float[] x, CrateMaeConfig c, Normalization norm) {
        int size = c.imageSize();
        float[] mean = norm.isNone() ? null : norm.mean(), std = norm.isNone() ? null : norm.std();
        BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size; y++) {
            for (int xx = 0; xx < size; xx++) {
                int[] rgb = new int[3];
                for (int k = 0; k < 3; k++) {
                    int ch = c.channels() == 1 ? 0 : k;
                    float v = x[(ch * size + y) * size + xx];
                    if (Float.isNaN(v)) { rgb[k] = 128; continue; }
                    if (mean != null) v = v * std[ch] + mean[ch];
                    rgb[k] = Math.round(255 * Math.max(0f, Math.min(1f, v)));
                }
                img.setRGB(xx, y, rgb[0] << 16 | rgb[1] << 8 | rgb[2]);
            }
        }
        return img;
    }
}

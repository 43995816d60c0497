package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.Crate;
import ai.crate.model.CrateConfig;
import ai.crate.model.data.Datasets;
import ai.crate.model.data.Normalization;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Top-k classes of PNG/JPEG images: each resized to the model's size, grey or RGB as it takes, normalised. */
@Command(name = "predict", mixinStandardHelpOptions = true, description = "Top-k classes of PNG/JPEG images.")
final class PredictCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CheckpointOptions weights;

    @Option(names = "--dataset", defaultValue = "fashion-mnist",
            description = "Whose class names and normalisation to use (default ${DEFAULT-VALUE}).")
    String dataset;

    @Option(names = "--top", defaultValue = "3", description = "How many classes to print (default ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--invert", description = "Invert grey levels (Fashion-MNIST items are light on black).")
    boolean invert;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "PNG or JPEG files.")
    List<Path> images;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        Backend be = backendOptions.resolve();
        Crate model = weights.load(be);
        CrateConfig c = model.config();
        Normalization norm = Datasets.defaultNormalization(dataset);
        List<String> names = Datasets.classNames(dataset);
        int size = c.imageSize(), px = size * size;
        float[] pixels = new float[images.size() * c.channels() * px];
        for (int i = 0; i < images.size(); i++) read(images.get(i), c, norm, pixels, i * c.channels() * px);
        Tensor logits = model.inference().logits(be.fromArray(pixels, images.size(), c.channels(), size, size));
        Tensor probs = be.allocate(logits.shape());
        be.softmax(logits, probs);
        float[] p = probs.toFloatArray();
        int classes = c.numClasses();
        for (int i = 0; i < images.size(); i++) {
            List<Integer> order = new ArrayList<>();
            for (int k = 0; k < classes; k++) order.add(k);
            int base = i * classes;
            order.sort((a, b) -> Float.compare(p[base + b], p[base + a]));
            StringBuilder line = new StringBuilder(images.get(i).toString()).append(':');
            for (int k = 0; k < Math.min(top, classes); k++) {
                int cls = order.get(k);
                String name = cls < names.size() ? names.get(cls) : "class " + cls;
                line.append(String.format(Locale.ROOT, "  %s %.1f %%", name, 100 * p[base + cls]));
            }
            spec.commandLine().getOut().println(line);
        }
        return 0;
    }

    private void read(Path file, CrateConfig c, Normalization norm, float[] out, int off) throws IOException {
        BufferedImage src;
        try {
            src = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": cannot read image: " + e.getMessage(), e);
        }
        if (src == null) throw new IOException(file + ": not a PNG or JPEG image this JVM can decode");
        int size = c.imageSize();
        BufferedImage scaled = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = scaled.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(src, 0, 0, size, size, null);
        g.dispose();
        float[] mean = norm.isNone() ? null : norm.mean(), std = norm.isNone() ? null : norm.std();
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int rgb = scaled.getRGB(x, y);
                float[] ch = {(rgb >> 16 & 255) / 255f, (rgb >> 8 & 255) / 255f, (rgb & 255) / 255f};
                for (int k = 0; k < c.channels(); k++) {
                    float v = c.channels() == 1 ? 0.299f * ch[0] + 0.587f * ch[1] + 0.114f * ch[2] : ch[k];
                    if (invert) v = 1f - v;
                    if (mean != null) v = (v - mean[k]) / std[k];
                    out[off + (k * size + y) * size + x] = v;
                }
            }
        }
    }
}

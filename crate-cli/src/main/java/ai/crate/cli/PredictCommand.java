package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.Crate;
import ai.crate.model.CrateConfig;
import ai.crate.model.data.Datasets;
import ai.crate.model.data.Normalization;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
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
        for (int i = 0; i < images.size(); i++) {
            ImageFiles.toInput(ImageFiles.read(images.get(i), size), c.channels(), norm, invert, pixels, i * c.channels() * px);
        }
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
}

package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.ClassifierConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Top-k classes of PNG/JPEG images, by name when the checkpoint says them: each resized and centre-cropped to the
 * model's size, grey or RGB as it takes, normalised as in training.
 */
@Command(name = "predict", mixinStandardHelpOptions = true, description = "Top-k classes of PNG/JPEG images.")
final class PredictCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CheckpointOptions weights;


    @Option(names = "--top", defaultValue = "3", description = "How many classes to print (default ${DEFAULT-VALUE}).")
    int top;

    @Mixin
    ImageOptions images;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--top", top, 1);
        Backend be = backendOptions.resolve();
        ImageClassifier model = weights.load(be);
        images.trainedOn(weights.trainingData());
        ClassifierConfig c = model.config();
        List<String> names = images.classNames();
        List<Path> files = images.images;
        int size = c.imageSize(), per = c.channels() * size * size;
        float[] pixels = new float[files.size() * per];
        for (int i = 0; i < files.size(); i++) {
            System.arraycopy(images.input(images.read(i, size, c.channels())), 0, pixels, i * per, per);
        }
        Tensor logits = model.inference().logits(be.fromArray(pixels, files.size(), c.channels(), size, size));
        Tensor probs = be.allocate(logits.shape());
        be.softmax(logits, probs);
        float[] p = probs.toFloatArray();
        int classes = c.numClasses();
        for (int i = 0; i < files.size(); i++) {
            List<Integer> order = new ArrayList<>();
            for (int k = 0; k < classes; k++) order.add(k);
            int base = i * classes;
            order.sort((a, b) -> Float.compare(p[base + b], p[base + a]));
            StringBuilder line = new StringBuilder(files.get(i).toString()).append(':');
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

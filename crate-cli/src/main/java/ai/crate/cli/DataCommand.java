package ai.crate.cli;

import ai.crate.model.data.Augmentation;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchIterator;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.FolderImages;
import ai.crate.model.data.ImageSource;
import ai.crate.model.data.Normalization;
import ai.crate.model.family.Architectures;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.train.Recipes;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A data set as training would read it, without a model: its classes and splits, what loading skipped, the
 * training images' statistics, and how many images per second the loader delivers (decoded, augmented, normalised
 * batches) — to check a folder of one's own images before training on it.
 */
@Command(name = "data", mixinStandardHelpOptions = true,
        description = "Classes, splits, statistics and loader speed of a data set (e.g. --dataset folder --data DIR).")
final class DataCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--config", defaultValue = "fmnist-small", paramLabel = "NAME",
            description = "The preset whose input size and channels the images are loaded at (default ${DEFAULT-VALUE}).")
    String config;

    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--epochs", defaultValue = "2", description = "Training epochs to time (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--no-augment", description = "Time the loader without augmentation.")
    boolean noAugment;

    @Option(names = "--crop-scale", paramLabel = "S", description = "Random-resized crop scale, as train takes it.")
    Double cropScale;

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--batch", batch, 1);
        OptionChecks.atLeast("--epochs", epochs, 1);
        ClassifierConfig c = Architectures.classifierPreset(config);
        String dataset = dataOptions.dataset();
        Augmentation aug = noAugment ? Augmentation.none() : Recipes.augmentation(dataset, null, cropScale, true);
        PrintWriter out = spec.commandLine().getOut(), log = spec.commandLine().getErr();
        ImageSource train = dataOptions.load(true, c.imageSize(), c.channels(), aug, log);
        ImageSource test = dataOptions.load(false, c.imageSize(), c.channels(), Augmentation.none(), log);
        out.printf(Locale.ROOT, "%s: %d classes %s; %,d train and %,d test images of %d×%d×%d%n",
                dataOptions.isFolder() ? dataOptions.scan(log) : dataset, train.numClasses(), train.classNames(),
                train.size(), test.size(), train.channels(), train.height(), train.width());
        Normalization norm = train instanceof FolderImages f ? f.statistics()
                : ai.crate.model.data.Datasets.defaultNormalization(dataset);
        out.println((train instanceof FolderImages ? "training images' statistics: " : "usual normalisation: ") + norm);
        BatchLoader loader = new BatchLoader(train, Math.min(batch, train.size()), true, true, aug, norm, 0);
        for (int e = 0; e < epochs; e++) {
            long start = System.nanoTime();
            long images = 0;
            try (BatchIterator it = loader.epoch(e, 0)) {
                while (it.hasNext()) {
                    Batch b = it.next();
                    images += b.size();
                }
            }
            double s = (System.nanoTime() - start) / 1e9;
            out.printf(Locale.ROOT, "loader epoch %d: %,d images in %.2f s = %,.0f images/s (batch %d, %s%s)%n", e + 1,
                    images, s, images / s, loader.batchSize(), describe(aug),
                    train instanceof FolderImages f ? String.format(Locale.ROOT, ", %,d of %,d decoded images cached",
                            f.cached(), f.size()) : train.inMemory() ? ", in memory" : ", built as drawn");
        }
        return 0;
    }

    private static String describe(Augmentation a) {
        if (a.isNone()) return "no augmentation";
        String crop = a.resizesCrops() ? String.format(Locale.ROOT, "random-resized crop %.2f..1", a.minScale())
                : a.pad() > 0 ? "pad-" + a.pad() + " crop" : "no crop";
        return crop + (a.flip() ? " + flip" : "");
    }
}

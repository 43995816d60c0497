package ai.crate.cli;

import ai.crate.model.data.DatasetException;
import ai.crate.model.data.Datasets;
import ai.crate.model.data.ImageDataset;
import ai.crate.model.data.Normalization;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Which data set a command reads, and from where. */
final class DataOptions {
    @Option(names = "--data", paramLabel = "DIR", description = "Data folder (default for fashion-mnist: the Debian "
            + "package's, /usr/share/datasets/fashion-mnist).")
    Path data;

    @Option(names = "--dataset", defaultValue = "fashion-mnist", paramLabel = "NAME",
            description = "fashion-mnist, mnist, cifar10 or cifar100 (default ${DEFAULT-VALUE}).")
    String dataset;

    Path folder() {
        return data != null ? data : dataset.equals("fashion-mnist") ? Datasets.DEBIAN_FASHION_MNIST : Path.of("data", dataset);
    }

    /** The train or test split; the exception says how to get missing data. */
    ImageDataset load(boolean train) throws DatasetException {
        if (!Datasets.NAMES.contains(dataset)) {
            throw new IllegalArgumentException("--dataset must be one of " + Datasets.NAMES + ", got '" + dataset + "'");
        }
        return Datasets.load(dataset, folder(), train);
    }

    Normalization normalization() { return Datasets.defaultNormalization(dataset); }
}

package ai.crate.cli;

import ai.crate.model.data.Augmentation;
import ai.crate.model.data.ClutteredScenes;
import ai.crate.model.data.DatasetException;
import ai.crate.model.data.Datasets;
import ai.crate.model.data.FolderDataset;
import ai.crate.model.data.FolderImages;
import ai.crate.model.data.ImageDataset;
import ai.crate.model.data.ImageSource;
import ai.crate.model.data.Normalization;
import ai.crate.model.data.TrainingData;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * Which data set a command reads, and from where: a standard set by name, or {@code folder}, the user's own images in
 * a folder per class. A command that reads a checkpoint first hands it what the model was trained on
 * ({@link #trainedOn}); then the data set, the folder's split and the normalisation default to the training run's.
 */
final class DataOptions {
    static final List<String> NAMES;

    static {
        List<String> names = new ArrayList<>(Datasets.NAMES);
        names.add(Datasets.CLUTTERED_FASHION_MNIST);
        names.add("folder");
        NAMES = List.copyOf(names);
    }

    @Option(names = "--data", paramLabel = "DIR", description = "Data folder (default for fashion-mnist: the Debian "
            + "package's, /usr/share/datasets/fashion-mnist). For --dataset folder: DIR/train/<class>/… and "
            + "DIR/test/<class>/…, or one tree DIR/<class>/… split by --test-fraction.")
    Path data;

    @Option(names = "--dataset", paramLabel = "NAME", description = "fashion-mnist, mnist, cifar10, cifar100, "
            + "cluttered-fashion-mnist (64×64 scenes made from Fashion-MNIST) or folder (default: what the checkpoint "
            + "was trained on, else fashion-mnist).")
    String dataset;

    @Option(names = "--scene-seed", paramLabel = "S", description = "cluttered-fashion-mnist: which scenes (default: "
            + "the checkpoint's, else 0; apart from --seed, which picks the init and the shuffling).")
    Long sceneSeed;

    @Option(names = "--test-fraction", paramLabel = "F", description = "folder as one tree: the share of images in the "
            + "test split, chosen by a hash of each path (default: the checkpoint's, else 0.2).")
    Double testFraction;

    @Option(names = "--split-seed", paramLabel = "S", description = "folder as one tree: the seed of that hash "
            + "(default: the checkpoint's, else 0; apart from --seed, so another init keeps the split).")
    Long splitSeed;

    @Option(names = "--cache-mb", defaultValue = "1024", paramLabel = "MB", description = "folder: keep decoded "
            + "images in memory up to this many MB; the rest are decoded again when drawn (default ${DEFAULT-VALUE}).")
    long cacheMb;

    private TrainingData trainedOn;
    private FolderDataset folder;

    /** What the checkpoint the command reads was trained on: the defaults of the data set, split and normalisation. */
    void trainedOn(Optional<TrainingData> data) { trainedOn = data.orElse(null); }

    /** The data set's name: as given, else the checkpoint's, else fashion-mnist. */
    String dataset() {
        String name = dataset != null ? dataset : trainedOn != null ? trainedOn.dataset() : "fashion-mnist";
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("--dataset must be one of " + NAMES + ", got '" + name + "'");
        }
        return name;
    }

    boolean isFolder() { return dataset().equals("folder"); }

    boolean isScenes() { return dataset().equals(Datasets.CLUTTERED_FASHION_MNIST); }

    /** The scene seed: as given, else the checkpoint's, else 0. */
    long sceneSeed() {
        if (sceneSeed != null) return sceneSeed;
        return trainedOn != null && trainedOn.sceneSeed() != null ? trainedOn.sceneSeed() : 0;
    }

    Path folder() {
        String name = dataset();
        if (data != null) return data;
        if (name.equals("folder")) throw new IllegalArgumentException("--dataset folder needs --data DIR");
        return name.equals("fashion-mnist") || name.equals(Datasets.CLUTTERED_FASHION_MNIST)
                ? Datasets.DEBIAN_FASHION_MNIST : Path.of("data", name);
    }

    /**
     * The train or test split as a model of {@code size} × {@code size} × {@code channels} inputs takes it, to be
     * served with {@code augmentation} (a folder decodes to that size; a standard set smaller than the model's input
     * is centred on a zero canvas of that size, as ToST's 32×32 Fashion-MNIST twin wants, saying so; otherwise the
     * command checks its size). Loading reports go to {@code log}. The exception says how to get missing data.
     */
    ImageSource load(boolean train, int size, int channels, Augmentation augmentation, PrintWriter log)
            throws DatasetException {
        if (isScenes()) return new ClutteredScenes(Datasets.fashionMnist(folder(), train), sceneSeed(), train);
        if (!isFolder()) {
            ImageDataset set = Datasets.load(dataset(), folder(), train);
            if (set.height() >= size || (size - set.height()) % 2 != 0 || set.height() != set.width()) return set;
            log.println("crate: " + dataset() + " " + (train ? "train" : "test") + " images " + set.height() + "×"
                    + set.width() + " zero-padded to " + size + "×" + size + " for the model's input");
            log.flush();
            return set.zeroPadded(size);
        }
        FolderDataset f = scan(log);
        return f.load(train, size, channels, augmentation, cacheMb << 20, line -> {
            log.println("crate: " + line);
            log.flush();
        });
    }

    /** The standard sets only, for the CRATE-MAE commands (a folder's image size would have to come from a model). */
    ImageDataset loadStandard(boolean train) throws DatasetException {
        if (isFolder() || isScenes()) {
            throw new IllegalArgumentException("the CRATE-MAE commands read the standard data sets " + Datasets.NAMES
                    + "; --dataset " + dataset() + " is for the classifier commands (train, eval, measure, predict)");
        }
        return Datasets.load(dataset(), folder(), train);
    }

    /** The usual normalisation of a standard set. */
    Normalization standardNormalization() { return Datasets.defaultNormalization(dataset()); }

    /** The folder's file list, scanned once per command. */
    FolderDataset scan(PrintWriter log) throws DatasetException {
        if (folder == null) {
            if (cacheMb < 0) throw new IllegalArgumentException("--cache-mb must be >= 0, got " + cacheMb);
            double fraction = testFraction != null ? testFraction
                    : trainedOn != null && trainedOn.hasSplit() ? trainedOn.testFraction()
                    : FolderDataset.DEFAULT_TEST_FRACTION;
            long seed = splitSeed != null ? splitSeed : trainedOn != null && trainedOn.hasSplit()
                    ? trainedOn.splitSeed() : 0;
            folder = FolderDataset.scan(folder(), fraction, seed);
            for (String note : folder.notes()) log.println("crate: " + note);
            log.flush();
        }
        return folder;
    }

    /**
     * How a command that evaluates a checkpoint normalises: as training did when the checkpoint says, else the data
     * set's usual figures; a folder without them gets its training split's statistics, computed now.
     */
    Normalization normalization(int size, int channels, PrintWriter log) throws DatasetException {
        if (trainedOn != null && trainedOn.dataset().equals(dataset())) return trainedOn.normalization();
        if (!isFolder()) return Datasets.defaultNormalization(dataset());
        log.println("crate: the checkpoint does not say how its inputs were normalised: using the folder's training "
                + "images' mean and std");
        FolderImages train = scan(log).load(true, size, channels, Augmentation.none(), 0, line -> {});
        return train.statistics();
    }

    /** Throws unless the data's classes are the ones the checkpoint was trained on (when it says). */
    void checkClasses(ImageSource test, String checkpoint) {
        if (trainedOn == null || !trainedOn.dataset().equals(dataset())) return;
        if (!trainedOn.classes().isEmpty() && !test.classNames().isEmpty()
                && !trainedOn.classes().equals(test.classNames())) {
            throw new IllegalArgumentException(checkpoint + " was trained on the classes " + trainedOn.classes()
                    + ", " + test.name() + " has " + test.classNames());
        }
    }

    /** What a training run on these options is trained on, for its checkpoints. */
    TrainingData describe(ImageSource train, Normalization normalization) {
        if (isScenes()) return TrainingData.scenes(dataset(), train.classNames(), normalization, sceneSeed());
        if (!isFolder() || folder.presplit()) return new TrainingData(dataset(), train.classNames(), normalization);
        return new TrainingData(dataset(), train.classNames(), normalization, folder.testFraction(),
                folder.splitSeed());
    }
}

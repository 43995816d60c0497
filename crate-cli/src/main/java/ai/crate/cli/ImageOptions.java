package ai.crate.cli;

import ai.crate.model.data.Datasets;
import ai.crate.model.data.Normalization;
import ai.crate.model.data.Picture;
import ai.crate.model.data.TrainingData;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Image files given on the command line, and how to turn them into model input: as evaluation does (shorter side to
 * the model's size, centre crop, grey or RGB as the model takes), normalised as the checkpoint was trained.
 */
final class ImageOptions {
    @Option(names = "--dataset", paramLabel = "NAME", description = "Whose normalisation and class names to use "
            + "(default: what the checkpoint was trained on, else fashion-mnist).")
    String dataset;

    @Option(names = "--invert", description = "Invert grey levels first (Fashion-MNIST items are light on black).")
    boolean invert;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "PNG or JPEG files.")
    List<Path> images;

    private TrainingData trainedOn;

    /** What the checkpoint was trained on, when its metadata says: the default normalisation and class names. */
    void trainedOn(Optional<TrainingData> data) { trainedOn = data.orElse(null); }

    /** The given data set's, else the checkpoint's, else Fashion-MNIST's. */
    Normalization normalization() {
        if (usesCheckpoint()) return trainedOn.normalization();
        return Datasets.defaultNormalization(standardName());
    }

    /** Class names in label order, as {@link #normalization()} chooses; empty when unknown. */
    List<String> classNames() {
        if (usesCheckpoint()) return trainedOn.classes();
        return Datasets.classNames(standardName());
    }

    private boolean usesCheckpoint() {
        return trainedOn != null && (dataset == null || dataset.equals(trainedOn.dataset()));
    }

    private String standardName() {
        String name = dataset != null ? dataset : "fashion-mnist";
        if (name.equals("folder")) {
            throw new IllegalArgumentException("--dataset folder: the checkpoint does not say its classes and "
                    + "normalisation (it was not trained by crate train on a folder)");
        }
        if (!Datasets.NAMES.contains(name)) {
            throw new IllegalArgumentException("--dataset must be one of " + Datasets.NAMES + ", got '" + name + "'");
        }
        return name;
    }

    /** Image file {@code i} as the model sees it: size × size, {@code channels} channels. */
    Picture read(int i, int size, int channels) throws IOException {
        return Picture.read(images.get(i)).withChannels(channels).fitted(size);
    }

    /** A picture as normalised [C, H, W] model input, inverted first when asked. */
    float[] input(Picture picture) {
        float[] out = new float[picture.bytes()];
        ImageFiles.toInput(picture, normalization(), invert, out, 0);
        return out;
    }
}

package ai.crate.cli;

import ai.crate.model.data.Datasets;
import ai.crate.model.data.Normalization;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Image files given on the command line, and how to turn them into model input. */
final class ImageOptions {
    @Option(names = "--dataset", defaultValue = "fashion-mnist",
            description = "Whose normalisation (and class names) to use (default ${DEFAULT-VALUE}).")
    String dataset;

    @Option(names = "--invert", description = "Invert grey levels first (Fashion-MNIST items are light on black).")
    boolean invert;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "PNG or JPEG files.")
    List<Path> images;

    Normalization normalization() { return Datasets.defaultNormalization(dataset); }

    /** An image (already resized) as normalised [C, H, W] model input. */
    float[] input(BufferedImage img, int channels) {
        float[] out = new float[channels * img.getWidth() * img.getHeight()];
        ImageFiles.toInput(img, channels, normalization(), invert, out, 0);
        return out;
    }

    /** Image file {@code i}, decoded and resized to size × size. */
    BufferedImage read(int i, int size) throws IOException { return ImageFiles.read(images.get(i), size); }
}

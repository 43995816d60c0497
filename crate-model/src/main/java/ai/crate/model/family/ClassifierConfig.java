package ai.crate.model.family;

import ai.crate.model.nn.Pool;

/** An image classifier's shape: square images cut into square patches, a width, depth and heads, the classes. */
public interface ClassifierConfig extends ModelConfig {
    int imageSize();

    int channels();

    int patchSize();

    int dim();

    int depth();

    int heads();

    int numClasses();

    Pool pool();

    /** The same model with another number of classes (a data set's). */
    ClassifierConfig withNumClasses(int classes);

    /** The same model for square images of {@code size} pixels (a multiple of the patch; learned positions resized). */
    ClassifierConfig withImageSize(int size);

    default int gridSize() { return imageSize() / patchSize(); }

    default int numPatches() { return gridSize() * gridSize(); }

    /** Tokens per image entering the blocks: the patches and the CLS token. */
    default int tokens() { return numPatches() + 1; }

    default int headDim() { return dim() / heads(); }

    /**
     * The checks every classifier's shape passes: all positive, the image a whole number of patches, the width a
     * whole number of heads. For the members' record constructors.
     */
    static void checkShape(int imageSize, int channels, int patchSize, int dim, int depth, int heads, int numClasses) {
        int[] values = {imageSize, channels, patchSize, dim, depth, heads, numClasses};
        String[] names = {"imageSize", "channels", "patchSize", "dim", "depth", "heads", "numClasses"};
        for (int i = 0; i < values.length; i++) {
            if (values[i] < 1) throw new IllegalArgumentException(names[i] + " must be positive, got " + values[i]);
        }
        if (imageSize % patchSize != 0) {
            throw new IllegalArgumentException("image size " + imageSize + " is not a multiple of patch size " + patchSize);
        }
        if (dim % heads != 0) throw new IllegalArgumentException("dim " + dim + " does not split into " + heads + " heads");
    }
}

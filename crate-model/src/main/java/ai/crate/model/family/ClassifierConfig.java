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

    default int gridSize() { return imageSize() / patchSize(); }

    default int numPatches() { return gridSize() * gridSize(); }

    /** Tokens per image entering the blocks: the patches and the CLS token. */
    default int tokens() { return numPatches() + 1; }

    default int headDim() { return dim() / heads(); }
}

package ai.crate.model.family;

import ai.crate.engine.Backend;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import java.util.List;
import java.util.Map;

/**
 * A member of the family as the registry ({@link Architectures}) knows it: its presets, its factory, the official
 * keys that identify its checkpoints, how a checkpoint's configuration is read, and its size and cost.
 *
 * @param <C> its configuration type
 */
public interface Architecture<C extends ModelConfig> {
    /** The registry name, also the {@code format} in checkpoint metadata ("crate", "crate-mae", ...). */
    String name();

    /** One line for listings. */
    String description();

    Class<C> configType();

    /** Named configurations, e.g. crate-tiny; names are unique across the registry. */
    Map<String, C> presets();

    /** A freshly initialised model (the official init), its weights a function of {@code seed} alone. */
    Model create(C config, Backend backend, long seed);

    /**
     * Official state_dict keys every checkpoint of this architecture holds, and that together tell it from the other
     * members (used when a file's metadata does not say).
     */
    List<String> signatureKeys();

    /** The configuration of the model in {@code f}: from its metadata where present, else from tensor shapes. */
    C configFrom(TensorFile f, LoadOptions options) throws CheckpointException;

    /** Trainable scalars of a model of this configuration, without building it. */
    long parameterCount(C config);

    /**
     * Floating-point operations of one image's forward pass, counting a multiply-add as two; matrix products only
     * (norms, softmax and elementwise work are a few percent).
     */
    double forwardFlopsPerImage(C config);

    /** {@code config} as this architecture's type, or an error naming both. */
    default C cast(ModelConfig config) {
        if (!configType().isInstance(config)) {
            throw new IllegalArgumentException("a " + config.architecture() + " configuration is not a " + name()
                    + " configuration");
        }
        return configType().cast(config);
    }
}

package ai.crate.model.crate;

import ai.crate.model.family.Architectures;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.ModelConfig;
import ai.crate.model.nn.Pool;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a CRATE classifier: square images of {@code imageSize} pixels with {@code channels} channels cut into
 * {@code patchSize}² patches, {@code depth} layers of width {@code dim} with {@code heads} heads, {@code numClasses}
 * outputs, the pooling, and ISTA's step size η and sparsity λ (official defaults 0.1 and 0.1).
 */
public record CrateConfig(int imageSize, int channels, int patchSize, int dim, int depth, int heads, int numClasses,
                          Pool pool, float eta, float lambda) implements ClassifierConfig {

    public static final float DEFAULT_ETA = 0.1f;
    public static final float DEFAULT_LAMBDA = 0.1f;

    public CrateConfig {
        ClassifierConfig.checkShape(imageSize, channels, patchSize, dim, depth, heads, numClasses);
        if (pool == null || pool == Pool.AVG) {
            throw new IllegalArgumentException("CRATE pools by 'cls' or 'mean' (as the official code), got " + pool);
        }
        if (!Float.isFinite(eta) || !Float.isFinite(lambda)) {
            throw new IllegalArgumentException("eta and lambda must be finite, got " + eta + ", " + lambda);
        }
    }

    /** A custom configuration with the official defaults: CLS pooling, η = λ = 0.1. */
    public static CrateConfig of(int imageSize, int channels, int patchSize, int dim, int depth, int heads,
                                 int numClasses) {
        return new CrateConfig(imageSize, channels, patchSize, dim, depth, heads, numClasses, Pool.CLS, DEFAULT_ETA,
                DEFAULT_LAMBDA);
    }


    /** crate-tiny/small/base/large (ImageNet, 224 px), fmnist-small, cifar-tiny, scenes-small (64×64 scenes). */
    static Map<String, CrateConfig> presets() {
        Map<String, CrateConfig> m = new LinkedHashMap<>();
        m.put("crate-tiny", of(224, 3, 16, 384, 12, 6, 1000));
        m.put("crate-small", of(224, 3, 16, 576, 12, 12, 1000));
        m.put("crate-base", of(224, 3, 16, 768, 12, 12, 1000));
        m.put("crate-large", of(224, 3, 16, 1024, 24, 16, 1000));
        m.put("fmnist-small", of(28, 1, 4, 192, 6, 6, 10));
        m.put("cifar-tiny", of(32, 3, 4, 384, 12, 6, 10));
        m.put("scenes-small", of(64, 1, 8, 192, 6, 6, 10));   // cluttered-fashion-mnist: 64 patches
        return Collections.unmodifiableMap(m);
    }

    /** A named CRATE preset: crate-tiny/small/base/large, fmnist-small, cifar-tiny. */
    public static CrateConfig preset(String name) {
        CrateConfig c = CrateArchitecture.INSTANCE.presets().get(name);
        if (c == null) {
            throw new IllegalArgumentException("unknown CRATE preset '" + name + "'; known: "
                    + CrateArchitecture.INSTANCE.presets().keySet());
        }
        return c;
    }

    @Override
    public String architecture() { return CrateArchitecture.NAME; }

    @Override
    public CrateConfig withNumClasses(int n) {
        return new CrateConfig(imageSize, channels, patchSize, dim, depth, heads, n, pool, eta, lambda);
    }

    public CrateConfig withPool(Pool p) {
        return new CrateConfig(imageSize, channels, patchSize, dim, depth, heads, numClasses, p, eta, lambda);
    }

    public CrateConfig withIsta(float newEta, float newLambda) {
        return new CrateConfig(imageSize, channels, patchSize, dim, depth, heads, numClasses, pool, newEta, newLambda);
    }

    /** Width of a flattened patch, p²·C. */
    public int patchDim() { return patchSize * patchSize * channels; }

    /** The configuration as safetensors {@code __metadata__} strings (keys as our checkpoints write them). */
    @Override
    public CrateConfig withImageSize(int size) {
        return new CrateConfig(size, channels, patchSize, dim, depth, heads, numClasses, pool, eta, lambda);
    }

    @Override
    public Map<String, String> toMetadata() {
        return ModelConfig.metadata("format", architecture(), "preset", Architectures.presetName(this), "image_size",
                imageSize, "channels", channels, "patch_size", patchSize, "dim", dim, "depth", depth, "heads", heads,
                "pool", pool.id(), "eta", eta, "lambda", lambda, "num_classes", numClasses);
    }
}

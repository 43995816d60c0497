package ai.crate.model.alpha;

import ai.crate.model.family.Architectures;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.ModelConfig;
import ai.crate.model.nn.Pool;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a CRATE-α classifier: square images of {@code imageSize} pixels with {@code channels} channels cut
 * into {@code patchSize}² patches by a strided convolution, {@code depth} layers of width {@code dim} with
 * {@code heads} heads of width {@code headDim} (the official presets use dim/heads), the dictionaries D and D1 of
 * {@code overcomplete}·dim atoms (4 in the paper), ISTA's η and λ (0.1 and 0.1), {@code numClasses} outputs. The
 * head always reads the CLS row, as the official code.
 */
public record CrateAlphaConfig(int imageSize, int channels, int patchSize, int dim, int depth, int heads, int headDim,
                               int overcomplete, int numClasses, float eta, float lambda) implements ClassifierConfig {

    public static final int DEFAULT_OVERCOMPLETE = 4;
    public static final float DEFAULT_ETA = 0.1f;
    public static final float DEFAULT_LAMBDA = 0.1f;

    public CrateAlphaConfig {
        ClassifierConfig.checkShape(imageSize, channels, patchSize, dim, depth, heads, numClasses);
        if (headDim < 1) throw new IllegalArgumentException("headDim must be positive, got " + headDim);
        if (overcomplete < 1) throw new IllegalArgumentException("overcomplete must be positive, got " + overcomplete);
        if (!Float.isFinite(eta) || !Float.isFinite(lambda)) {
            throw new IllegalArgumentException("eta and lambda must be finite, got " + eta + ", " + lambda);
        }
    }

    /** The official defaults: heads of width dim/heads, 4× overcomplete dictionaries, η = λ = 0.1. */
    public static CrateAlphaConfig of(int imageSize, int channels, int patchSize, int dim, int depth, int heads,
                                      int numClasses) {
        return new CrateAlphaConfig(imageSize, channels, patchSize, dim, depth, heads, dim / heads,
                DEFAULT_OVERCOMPLETE, numClasses, DEFAULT_ETA, DEFAULT_LAMBDA);
    }

    /** The paper's sizes (ImageNet, 224 px) and the Fashion-MNIST and CIFAR twins of CRATE's small presets. */
    static Map<String, CrateAlphaConfig> presets() {
        Map<String, CrateAlphaConfig> m = new LinkedHashMap<>();
        m.put("crate-alpha-tiny", of(224, 3, 16, 192, 12, 3, 1000));
        m.put("crate-alpha-small", of(224, 3, 16, 576, 12, 12, 1000));
        m.put("crate-alpha-base", of(224, 3, 16, 768, 12, 12, 1000));
        m.put("crate-alpha-large", of(224, 3, 14, 1024, 24, 16, 1000));
        m.put("crate-alpha-huge", of(224, 3, 14, 1280, 32, 16, 1000));
        m.put("crate-alpha-fmnist-small", of(28, 1, 4, 192, 6, 6, 10));
        m.put("crate-alpha-cifar-tiny", of(32, 3, 4, 384, 12, 6, 10));
        m.put("crate-alpha-scenes-small", of(64, 1, 8, 192, 6, 6, 10));
        return Collections.unmodifiableMap(m);
    }

    @Override
    public String architecture() { return CrateAlphaArchitecture.NAME; }

    @Override
    public Pool pool() { return Pool.CLS; }

    @Override
    public int headDim() { return headDim; }

    /** Width of the head features W = LN(Z)·Uᵀ: heads × headDim. */
    public int innerDim() { return heads * headDim; }

    /** Atoms in each dictionary: overcomplete × dim. */
    public int atoms() { return overcomplete * dim; }

    @Override
    public CrateAlphaConfig withNumClasses(int n) {
        return new CrateAlphaConfig(imageSize, channels, patchSize, dim, depth, heads, headDim, overcomplete, n, eta,
                lambda);
    }

    @Override
    public CrateAlphaConfig withImageSize(int size) {
        return new CrateAlphaConfig(size, channels, patchSize, dim, depth, heads, headDim, overcomplete, numClasses, eta, lambda);
    }

    @Override
    public Map<String, String> toMetadata() {
        return ModelConfig.metadata("format", architecture(), "preset", Architectures.presetName(this), "image_size",
                imageSize, "channels", channels, "patch_size", patchSize, "dim", dim, "depth", depth, "heads", heads,
                "head_dim", headDim, "overcomplete", overcomplete, "eta", eta, "lambda", lambda, "num_classes",
                numClasses);
    }
}

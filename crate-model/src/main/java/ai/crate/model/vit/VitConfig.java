package ai.crate.model.vit;

import ai.crate.model.family.Architectures;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.ModelConfig;
import ai.crate.model.nn.Pool;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a ViT as timm's {@code VisionTransformer} builds it: square images of {@code imageSize} pixels with
 * {@code channels} channels cut into {@code patchSize}² patches, {@code depth} blocks of width {@code dim} with
 * {@code heads} heads and an MLP of {@code mlpDim} hidden units (4·dim in every timm preset), {@code numClasses}
 * outputs, pooling {@link Pool#CLS} (timm's {@code token}) or {@link Pool#AVG}.
 */
public record VitConfig(int imageSize, int channels, int patchSize, int dim, int depth, int heads, int mlpDim,
                        int numClasses, Pool pool) implements ClassifierConfig {

    /** timm's LayerNorm eps in ViT. */
    public static final float EPS = 1e-6f;

    public VitConfig {
        ClassifierConfig.checkShape(imageSize, channels, patchSize, dim, depth, heads, numClasses);
        if (mlpDim < 1) throw new IllegalArgumentException("mlpDim must be positive, got " + mlpDim);
        if (pool != Pool.CLS && pool != Pool.AVG) {
            throw new IllegalArgumentException("ViT pools by 'token' (cls) or 'avg' as timm, got " + pool);
        }
    }

    /** timm's defaults: MLP ratio 4, token pooling. */
    public static VitConfig of(int imageSize, int channels, int patchSize, int dim, int depth, int heads,
                               int numClasses) {
        return new VitConfig(imageSize, channels, patchSize, dim, depth, heads, 4 * dim, numClasses, Pool.CLS);
    }


    /**
     * timm's vit-tiny/small/base/large (patch 16, 224 px, ImageNet-1k) and the twins of the CRATE presets: the same
     * image, channels, patch, width, depth and heads as fmnist-small, cifar-tiny and crate-tiny. CRATE-T's shape is
     * ViT-S's, so vit-crate-tiny is vit-small by its comparison's name (checkpoints record the first, vit-small).
     */
    static Map<String, VitConfig> presets() {
        Map<String, VitConfig> m = new LinkedHashMap<>();
        m.put("vit-tiny", of(224, 3, 16, 192, 12, 3, 1000));
        m.put("vit-small", of(224, 3, 16, 384, 12, 6, 1000));
        m.put("vit-base", of(224, 3, 16, 768, 12, 12, 1000));
        m.put("vit-large", of(224, 3, 16, 1024, 24, 16, 1000));
        m.put("vit-fmnist-small", of(28, 1, 4, 192, 6, 6, 10));
        m.put("vit-cifar-tiny", of(32, 3, 4, 384, 12, 6, 10));
        m.put("vit-crate-tiny", of(224, 3, 16, 384, 12, 6, 1000));
        m.put("vit-scenes-small", of(64, 1, 8, 192, 6, 6, 10));
        return Collections.unmodifiableMap(m);
    }

    /** A named ViT preset. */
    public static VitConfig preset(String name) {
        VitConfig c = VitArchitecture.INSTANCE.presets().get(name);
        if (c == null) {
            throw new IllegalArgumentException("unknown ViT preset '" + name + "'; known: "
                    + VitArchitecture.INSTANCE.presets().keySet());
        }
        return c;
    }

    @Override
    public String architecture() { return VitArchitecture.NAME; }

    @Override
    public VitConfig withNumClasses(int n) {
        return new VitConfig(imageSize, channels, patchSize, dim, depth, heads, mlpDim, n, pool);
    }

    @Override
    public VitConfig withImageSize(int size) {
        return new VitConfig(size, channels, patchSize, dim, depth, heads, mlpDim, numClasses, pool);
    }

    public VitConfig withPool(Pool p) {
        return new VitConfig(imageSize, channels, patchSize, dim, depth, heads, mlpDim, numClasses, p);
    }

    @Override
    public Map<String, String> toMetadata() {
        return ModelConfig.metadata("format", architecture(), "preset", Architectures.presetName(this), "image_size",
                imageSize, "channels", channels, "patch_size", patchSize, "dim", dim, "depth", depth, "heads", heads,
                "mlp_dim", mlpDim, "pool", pool.id(), "num_classes", numClasses);
    }
}

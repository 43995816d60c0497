package ai.crate.model.tost;

import ai.crate.model.family.Architectures;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.ModelConfig;
import ai.crate.model.nn.Pool;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a ToST classifier ({@code tost_cab_*}): square images with {@code channels} channels, a convolutional
 * stem of stride {@code patchSize} (8 or 16), {@code depth} TSSA blocks of width {@code dim} with {@code heads}
 * heads and an MLP of 4·dim, two class-attention blocks, {@code numClasses} outputs; LayerScale starts at
 * {@code layerScale} (1 for 12 layers or fewer, 1e-5 deeper, as the official presets).
 */
public record TostConfig(int imageSize, int channels, int patchSize, int dim, int depth, int heads, int numClasses,
                         float layerScale) implements ClassifierConfig {

    public TostConfig {
        ClassifierConfig.checkShape(imageSize, channels, patchSize, dim, depth, heads, numClasses);
        ConvStem.widths(patchSize, dim);
        if (dim % (patchSize == 16 ? 8 : 4) != 0) {
            throw new IllegalArgumentException("dim " + dim + " does not split into the stem's widths for patch "
                    + patchSize);
        }
        if (!(layerScale > 0) || !Float.isFinite(layerScale)) {
            throw new IllegalArgumentException("layerScale must be positive and finite, got " + layerScale);
        }
    }

    /** With the official LayerScale init for the depth. */
    public static TostConfig of(int imageSize, int channels, int patchSize, int dim, int depth, int heads,
                                int numClasses) {
        return new TostConfig(imageSize, channels, patchSize, dim, depth, heads, numClasses, depth <= 12 ? 1f : 1e-5f);
    }

    /** The official sizes (ImageNet, 224 px, patch 16), crate-tiny's twin, and the 32×32 twins with patch 8. */
    static Map<String, TostConfig> presets() {
        Map<String, TostConfig> m = new LinkedHashMap<>();
        m.put("tost-tiny", of(224, 3, 16, 192, 12, 4, 1000));
        m.put("tost-small", of(224, 3, 16, 384, 12, 8, 1000));
        m.put("tost-medium", of(224, 3, 16, 512, 24, 8, 1000));
        m.put("tost-large", of(224, 3, 16, 768, 24, 16, 1000));
        m.put("tost-crate-tiny", of(224, 3, 16, 384, 12, 6, 1000));   // crate-tiny's width, depth and heads
        m.put("tost-fmnist-small", of(32, 1, 8, 192, 6, 6, 10));
        m.put("tost-cifar-tiny", of(32, 3, 8, 384, 12, 6, 10));
        m.put("tost-scenes-small", of(64, 1, 8, 192, 6, 6, 10));
        return Collections.unmodifiableMap(m);
    }

    @Override
    public String architecture() { return TostArchitecture.NAME; }

    @Override
    public Pool pool() { return Pool.CLS; }

    /** The TSSA blocks see the patches only (the CLS token joins for the class-attention blocks). */
    @Override
    public int tokens() { return numPatches(); }

    @Override
    public TostConfig withNumClasses(int n) {
        return new TostConfig(imageSize, channels, patchSize, dim, depth, heads, n, layerScale);
    }

    @Override
    public TostConfig withImageSize(int size) {
        return new TostConfig(size, channels, patchSize, dim, depth, heads, numClasses, layerScale);
    }

    @Override
    public Map<String, String> toMetadata() {
        return ModelConfig.metadata("format", architecture(), "preset", Architectures.presetName(this), "image_size",
                imageSize, "channels", channels, "patch_size", patchSize, "dim", dim, "depth", depth, "heads", heads,
                "layer_scale", layerScale, "num_classes", numClasses);
    }
}

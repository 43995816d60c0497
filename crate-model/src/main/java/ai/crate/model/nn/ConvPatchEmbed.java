package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;

/**
 * A p×p convolution of stride p ({@code <conv>.weight} [d, C, p, p], {@code <conv>.bias}) as timm's
 * {@code PatchEmbed} ({@code proj}) and CRATE-α's {@code conv1} compute it: one GEMM on the patches flattened
 * channel-first, (c p q). PyTorch's default conv init.
 */
public final class ConvPatchEmbed extends Stem {
    private final int channels;
    private final int imageSize;
    private final int patchSize;
    private final Variable weight;
    private final Variable bias;

    /** timm's, its convolution named {@code proj}. */
    public ConvPatchEmbed(Init init, int channels, int imageSize, int patchSize, int dim) {
        this(init, "proj", channels, imageSize, patchSize, dim);
    }

    public ConvPatchEmbed(Init init, String conv, int channels, int imageSize, int patchSize, int dim) {
        this.channels = channels;
        this.imageSize = imageSize;
        this.patchSize = patchSize;
        float bound = (float) (1 / Math.sqrt(channels * patchSize * patchSize));
        this.weight = parameter(conv + ".weight", init.uniform(bound, dim, channels, patchSize, patchSize));
        this.bias = parameter(conv + ".bias", init.uniform(bound, dim));
    }

    @Override
    public Variable forward(Tensor images) {
        Variable patches = Variable.temporaryUnlessViewOf(patchesChannelFirst(images), images);
        Variable tokens = F.linear(patches, F.reshape(weight, weight.shape()[0], -1), bias);
        patches.discard();
        return tokens;
    }

    /** Patches as the stride-p convolution sees them: [B, L, C·p·p] in (c p q) order. */
    Tensor patchesChannelFirst(Tensor images) {
        PatchEmbed.requireImages(images, channels, imageSize);
        int b = images.dim(0), p = patchSize, g = imageSize / p;
        Tensor grid = images.reshape(b, channels, g, p, g, p).permute(0, 2, 4, 1, 3, 5);   // [B, gh, gw, C, p, q]
        return grid.contiguous().reshape(b, g * g, channels * p * p);
    }
}

package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;

/**
 * timm's {@code PatchEmbed}: a p×p convolution of stride p ({@code proj.weight} [d, C, p, p], {@code proj.bias}),
 * computed as one GEMM on the patches flattened channel-first, (c p q). PyTorch's default conv init.
 */
public final class ConvPatchEmbed extends Stem {
    private final int channels;
    private final int imageSize;
    private final int patchSize;
    private final Variable weight;
    private final Variable bias;

    public ConvPatchEmbed(Init init, int channels, int imageSize, int patchSize, int dim) {
        this.channels = channels;
        this.imageSize = imageSize;
        this.patchSize = patchSize;
        float bound = (float) (1 / Math.sqrt(channels * patchSize * patchSize));
        this.weight = parameter("proj.weight", init.uniform(bound, dim, channels, patchSize, patchSize));
        this.bias = parameter("proj.bias", init.uniform(bound, dim));
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

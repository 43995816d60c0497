package ai.crate.model.nn;

import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;
import java.util.Arrays;

/**
 * CRATE's {@code to_patch_embedding}: images [B, C, H, W] cut into p×p patches flattened channel-last
 * ({@code b c (h p1) (w p2) -> b (h w) (p1 p2 c)}), then LayerNorm(p²C) → Linear(p²C → d) → LayerNorm(d), official
 * children "1", "2", "3".
 */
public final class PatchEmbed extends Stem {
    private final int channels;
    private final int imageSize;
    private final int patchSize;
    private final LayerNorm patchNorm;
    private final Linear projection;
    private final LayerNorm tokenNorm;

    public PatchEmbed(Init init, int channels, int imageSize, int patchSize, int dim) {
        this.channels = channels;
        this.imageSize = imageSize;
        this.patchSize = patchSize;
        int patchDim = patchSize * patchSize * channels;
        this.patchNorm = child("1", new LayerNorm(init, patchDim));
        this.projection = child("2", new Linear(init, patchDim, dim, true));
        this.tokenNorm = child("3", new LayerNorm(init, dim));
    }

    @Override
    public Variable forward(Tensor images) {
        // patchify copies the images into patch order (unless they already are): the graph owns the copy
        Variable patches = Variable.temporaryUnlessViewOf(patchify(images, channels, imageSize, patchSize), images);
        Variable normed = patchNorm.forward(patches);
        patches.discard();
        Variable projected = projection.forward(normed);
        normed.discard();
        Variable tokens = tokenNorm.forward(projected);
        projected.discard();
        return tokens;
    }

    /** Images [B, C, size, size] → patches [B, (size/p)², p·p·C] in (p1 p2 c) order: one strided copy. */
    public static Tensor patchify(Tensor images, int channels, int size, int patch) {
        requireImages(images, channels, size);
        int b = images.dim(0), g = size / patch;
        Tensor grid = images.reshape(b, channels, g, patch, g, patch).permute(0, 2, 4, 3, 5, 1);   // [B, gh, gw, p1, p2, C]
        return grid.contiguous().reshape(b, g * g, patch * patch * channels);
    }

    /** One clear error for images of the wrong shape for a model of {@code channels} × size × size. */
    public static void requireImages(Tensor images, int channels, int size) {
        int[] s = images.shape();
        if (s.length != 4 || s[1] != channels || s[2] != size || s[3] != size) {
            throw new IllegalArgumentException("images must be [batch, " + channels + ", " + size + ", " + size
                    + "] for this model, got " + Arrays.toString(s));
        }
    }
}

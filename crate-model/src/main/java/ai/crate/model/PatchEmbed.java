package ai.crate.model;

import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;
import java.util.Arrays;

/**
 * The official {@code to_patch_embedding}: images [B, C, H, W] cut into p×p patches flattened channel-last
 * ({@code b c (h p1) (w p2) -> b (h w) (p1 p2 c)}), then LayerNorm(p²C) → Linear(p²C → d) → LayerNorm(d).
 */
public final class PatchEmbed extends Module {
    private final CrateConfig config;
    private final LayerNorm patchNorm;
    private final Linear projection;
    private final LayerNorm tokenNorm;

    public PatchEmbed(Init init, CrateConfig config) {
        this.config = config;
        this.patchNorm = child("1", new LayerNorm(init, config.patchDim()));
        this.projection = child("2", new Linear(init, config.patchDim(), config.dim(), true));
        this.tokenNorm = child("3", new LayerNorm(init, config.dim()));
    }

    LayerNorm patchNorm() { return patchNorm; }

    Linear projection() { return projection; }

    LayerNorm tokenNorm() { return tokenNorm; }

    /** Patch tokens [B, n, d]. */
    public Variable forward(Tensor images) {
        // patchify copies the images into patch order (unless they already are): releaseGraph hands the copy back
        Variable patches = Variable.temporaryUnlessViewOf(patchify(images, config), images);
        return tokenNorm.forward(projection.forward(patchNorm.forward(patches)));
    }

    /** Images [B, C, H, W] → patches [B, (H/p)(W/p), p·p·C] in (p1 p2 c) order: one strided copy. */
    public static Tensor patchify(Tensor images, CrateConfig config) {
        return patchify(images, config.channels(), config.imageSize(), config.patchSize());
    }

    /** As {@link #patchify(Tensor, CrateConfig)} for images of {@code channels} × size × size cut into p × p patches. */
    public static Tensor patchify(Tensor images, int channels, int size, int patch) {
        int[] s = images.shape();
        if (s.length != 4 || s[1] != channels || s[2] != size || s[3] != size) {
            throw new IllegalArgumentException("images must be [batch, " + channels + ", " + size + ", " + size
                    + "] for this model, got " + Arrays.toString(s));
        }
        int b = s[0], g = size / patch;
        Tensor grid = images.reshape(b, channels, g, patch, g, patch).permute(0, 2, 4, 3, 5, 1);   // [B, gh, gw, p1, p2, C]
        return grid.contiguous().reshape(b, g * g, patch * patch * channels);
    }
}

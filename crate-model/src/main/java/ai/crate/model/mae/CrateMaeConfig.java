package ai.crate.model.mae;

import ai.crate.model.family.ModelConfig;

import java.util.Map;

/**
 * The shape of a CRATE-MAE: square images, patch size, width, depth (the encoder's and the decoder's), heads, ISTA's
 * η and λ (official 0.1 and 0.5), per-patch normalised targets or not, and the masking ratio (official 0.75).
 */
public record CrateMaeConfig(int imageSize, int channels, int patchSize, int dim, int depth, int heads, float eta,
                             float lambda, boolean normPixLoss, float maskRatio) implements ModelConfig {
    public CrateMaeConfig {
        if (imageSize < 1 || channels < 1 || patchSize < 1 || dim < 1 || depth < 1 || heads < 1) {
            throw new IllegalArgumentException("CRATE-MAE sizes must be positive: image " + imageSize + ", channels "
                    + channels + ", patch " + patchSize + ", dim " + dim + ", depth " + depth + ", heads " + heads);
        }
        if (imageSize % patchSize != 0) {
            throw new IllegalArgumentException("image size " + imageSize + " is not a multiple of patch size " + patchSize);
        }
        if (dim % heads != 0) throw new IllegalArgumentException("dim " + dim + " does not split into " + heads + " heads");
        if (dim % 4 != 0) throw new IllegalArgumentException("dim " + dim + " must be a multiple of 4 (2-D sin-cos positions)");
        if (!(maskRatio >= 0 && maskRatio < 1)) throw new IllegalArgumentException("mask ratio must be in [0, 1), got " + maskRatio);
    }

    public int gridSize() { return imageSize / patchSize; }

    public int numPatches() { return gridSize() * gridSize(); }

    /** Width of a predicted patch, p²C. */
    public int patchDim() { return patchSize * patchSize * channels; }

    /** Patches the encoder keeps unmasked: ⌊L·(1 − ratio)⌋, as the official code. */
    public int keptPatches() { return (int) (numPatches() * (1 - (double) maskRatio)); }

    @Override
    public String architecture() { return CrateMaeArchitecture.NAME; }

    /** As our checkpoints write it in safetensors {@code __metadata__}. */
    @Override
    public Map<String, String> toMetadata() {
        return ModelConfig.metadata("format", architecture(), "image_size", imageSize, "channels", channels,
                "patch_size", patchSize, "dim", dim, "depth", depth, "heads", heads, "eta", eta, "lambda", lambda,
                "norm_pix_loss", normPixLoss, "mask_ratio", maskRatio);
    }

    /** From our metadata; every key must be there. */
    public static CrateMaeConfig fromMetadata(Map<String, String> m) {
        try {
            return new CrateMaeConfig(Integer.parseInt(m.get("image_size")), Integer.parseInt(m.get("channels")),
                    Integer.parseInt(m.get("patch_size")), Integer.parseInt(m.get("dim")),
                    Integer.parseInt(m.get("depth")), Integer.parseInt(m.get("heads")), Float.parseFloat(m.get("eta")),
                    Float.parseFloat(m.get("lambda")), Boolean.parseBoolean(m.get("norm_pix_loss")),
                    Float.parseFloat(m.getOrDefault("mask_ratio", "0.75")));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("CRATE-MAE metadata incomplete or malformed: " + m, e);
        }
    }
}

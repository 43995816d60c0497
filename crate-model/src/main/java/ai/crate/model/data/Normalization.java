package ai.crate.model.data;

import java.util.Arrays;

/**
 * Per-channel normalisation of pixels scaled to [0, 1]: (p/255 − mean[c]) / std[c], computed in float as
 * torchvision's ToTensor then Normalize do. {@link #none()} (empty arrays) keeps p/255 for any channel count.
 */
public record Normalization(float[] mean, float[] std) {
    public Normalization {
        if (mean.length != std.length) {
            throw new IllegalArgumentException("normalization has " + mean.length + " means but " + std.length
                    + " standard deviations");
        }
        for (int c = 0; c < mean.length; c++) {
            if (!Float.isFinite(mean[c]) || !(std[c] > 0) || !Float.isFinite(std[c])) {
                throw new IllegalArgumentException("normalization of channel " + c + ": mean " + mean[c] + ", std "
                        + std[c] + "; the mean must be finite and the std finite and positive");
            }
        }
        mean = mean.clone();
        std = std.clone();
    }

    /** Pixels/255, nothing else. */
    public static Normalization none() { return new Normalization(new float[0], new float[0]); }

    public boolean isNone() { return mean.length == 0; }

    @Override
    public float[] mean() { return mean.clone(); }

    @Override
    public float[] std() { return std.clone(); }

    /** Throws unless this applies to images of {@code channels} channels. */
    public void checkChannels(int channels, String dataset) {
        if (!isNone() && mean.length != channels) {
            throw new IllegalArgumentException("normalization has mean and std for " + mean.length + " channel"
                    + (mean.length == 1 ? "" : "s") + " but " + dataset + " has " + channels);
        }
    }

    /** table[c][p]: the normalised value of pixel byte p in channel c, so a batch is built by lookups. */
    float[][] lookupTable(int channels) {
        float[][] table = new float[channels][256];
        for (int c = 0; c < channels; c++) {
            for (int p = 0; p < 256; p++) {
                float x = p / 255f;
                table[c][p] = isNone() ? x : (x - mean[c]) / std[c];
            }
        }
        return table;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Normalization n && Arrays.equals(mean, n.mean) && Arrays.equals(std, n.std);
    }

    @Override
    public int hashCode() { return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std); }

    @Override
    public String toString() {
        return isNone() ? "Normalization[none]"
                : "Normalization[mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + "]";
    }
}

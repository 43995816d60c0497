package ai.crate.model.data;

/**
 * Separable bilinear resampling of 8-bit planes as PIL's {@code Image.resize(..., BILINEAR, box)}: the triangle filter
 * widened by the scale factor when shrinking (so a large reduction averages every source pixel instead of aliasing,
 * which Java2D's bilinear does not), weights normalised per output pixel. Computed in double and rounded once.
 */
final class Resample {
    private Resample() {}

    /** The source taps of each output position along one axis: first index, count and weights. */
    private record Taps(int[] first, int[] count, double[][] weights) {}

    /** Region (top, left, regionHeight × regionWidth) of src [C, H, W] resampled to [C, outHeight, outWidth]. */
    static byte[] bilinear(byte[] src, int channels, int height, int width, double top, double left,
            double regionHeight, double regionWidth, int outHeight, int outWidth) {
        Taps ys = taps(top, regionHeight, height, outHeight);
        Taps xs = taps(left, regionWidth, width, outWidth);
        int rowFrom = ys.first[0], rowTo = ys.first[outHeight - 1] + ys.count[outHeight - 1];
        double[] rows = new double[(rowTo - rowFrom) * outWidth];   // horizontal pass over the rows needed
        byte[] out = new byte[channels * outHeight * outWidth];
        for (int c = 0; c < channels; c++) {
            int plane = c * height * width;
            for (int y = rowFrom; y < rowTo; y++) {
                int in = plane + y * width, at = (y - rowFrom) * outWidth;
                for (int x = 0; x < outWidth; x++) {
                    double sum = 0;
                    double[] w = xs.weights[x];
                    for (int k = 0, sx = xs.first[x]; k < w.length; k++) sum += w[k] * (src[in + sx + k] & 255);
                    rows[at + x] = sum;
                }
            }
            int outPlane = c * outHeight * outWidth;
            for (int y = 0; y < outHeight; y++) {
                double[] w = ys.weights[y];
                int base = (ys.first[y] - rowFrom) * outWidth;
                for (int x = 0; x < outWidth; x++) {
                    double sum = 0;
                    for (int k = 0; k < w.length; k++) sum += w[k] * rows[base + k * outWidth + x];
                    out[outPlane + y * outWidth + x] = (byte) Math.clamp(Math.round(sum), 0, 255);
                }
            }
        }
        return out;
    }

    /** PIL's precompute_coeffs for the bilinear filter (support 1) over [start, start + length) of a size-long axis. */
    private static Taps taps(double start, double length, int size, int outSize) {
        double scale = length / outSize;
        double widen = Math.max(scale, 1), support = widen;
        int[] first = new int[outSize], count = new int[outSize];
        double[][] weights = new double[outSize][];
        for (int i = 0; i < outSize; i++) {
            double centre = start + (i + 0.5) * scale;
            int from = Math.max((int) (centre - support + 0.5), 0);
            int to = Math.min((int) (centre + support + 0.5), size);
            double[] w = new double[Math.max(to - from, 0)];
            double total = 0;
            for (int k = 0; k < w.length; k++) {
                w[k] = Math.max(0, 1 - Math.abs((from + k - centre + 0.5) / widen));
                total += w[k];
            }
            if (total > 0) for (int k = 0; k < w.length; k++) w[k] /= total;
            first[i] = from;
            count[i] = w.length;
            weights[i] = w;
        }
        return new Taps(first, count, weights);
    }
}

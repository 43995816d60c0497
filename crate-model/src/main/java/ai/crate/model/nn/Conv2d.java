package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * nn.Conv2d with square kernel k, stride s and zero padding p, no bias ({@code weight} [out, in, k, k], PyTorch's
 * default init), on channels-last feature maps: [B, H·W, in] to [B, Ho·Wo, out], Ho = ⌊(H + 2p − k)/s⌋ + 1. Computed
 * as im2col + GEMM from autograd primitives: a zero row appended for the padding, one gather of every tap's row (its
 * backward a scatter-add), and a linear layer against the weight in (ky, kx, c) order.
 */
public final class Conv2d extends Module {
    private final int in;
    private final int out;
    private final int kernel;
    private final int stride;
    private final int padding;
    private final Variable weight;
    private int[] cachedIndex;
    private int cachedBatch, cachedH, cachedW;

    public Conv2d(Init init, int in, int out, int kernel, int stride, int padding) {
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.weight = parameter("weight", init.uniform((float) (1 / Math.sqrt((double) in * kernel * kernel)), out, in,
                kernel, kernel));
    }

    public int outputSize(int size) { return (size + 2 * padding - kernel) / stride + 1; }

    public int outChannels() { return out; }

    /** Feature map x [B, h·w, in] (row-major positions) → [B, Ho·Wo, out]. */
    public Variable forward(Variable x, int h, int w) {
        int[] s = x.shape();
        if (s.length != 3 || s[1] != h * w || s[2] != in) {
            throw new IllegalArgumentException("conv2d: expected [B, " + h + "·" + w + ", " + in + "], got "
                    + Arrays.toString(s));
        }
        int b = s[0], ho = outputSize(h), wo = outputSize(w);
        Backend be = x.backend();
        Tensor zero = be.empty(b, 1, in);
        be.fill(zero, 0f);
        Variable padded = F.concat(List.of(x, Variable.temporary(zero)), 1);       // row h·w is the zero padding
        Variable taps = F.gather(padded, 1, index(b, h, w, ho, wo));              // [B, Ho·Wo·k·k, in]
        padded.discard();
        Variable cols = F.reshape(taps, b, ho * wo, kernel * kernel * in);
        Variable kernelRows = F.reshape(F.transpose(F.transpose(weight, 1, 2), 2, 3), out, kernel * kernel * in);
        Variable y = F.linear(cols, kernelRows, null);
        cols.discard();
        return y;
    }

    /** For every output position and tap (ky, kx) the input row it reads, or h·w (the zero row) outside the image. */
    private int[] index(int b, int h, int w, int ho, int wo) {
        if (cachedIndex != null && cachedBatch == b && cachedH == h && cachedW == w) return cachedIndex;
        int taps = ho * wo * kernel * kernel;
        int[] idx = new int[b * taps];
        int at = 0;
        for (int oy = 0; oy < ho; oy++) {
            for (int ox = 0; ox < wo; ox++) {
                for (int ky = 0; ky < kernel; ky++) {
                    for (int kx = 0; kx < kernel; kx++) {
                        int y = oy * stride - padding + ky, xx = ox * stride - padding + kx;
                        idx[at++] = y < 0 || y >= h || xx < 0 || xx >= w ? h * w : y * w + xx;
                    }
                }
            }
        }
        for (int i = 1; i < b; i++) System.arraycopy(idx, 0, idx, i * taps, taps);
        cachedBatch = b;
        cachedH = h;
        cachedW = w;
        return cachedIndex = idx;
    }

    /** FLOPs on an h×w input. */
    public double flops(int h, int w) { return 2.0 * outputSize(h) * outputSize(w) * out * in * kernel * kernel; }
}

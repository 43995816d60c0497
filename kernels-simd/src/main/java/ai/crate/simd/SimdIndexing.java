package ai.crate.simd;

import ai.crate.engine.Tensor;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Data movement: strided copy (the basis of slice and concat), gather and its adjoint scatter-add. Contiguous runs
 * move with {@link System#arraycopy} (an intrinsic vector copy); scatter-add sums with vectors.
 */
final class SimdIndexing {
    private static final VectorSpecies<Float> S = VectorMath.S;
    private static final int L = S.length();

    private SimdIndexing() {}

    /**
     * dst = src for any two views of the same shape. Dimensions that are contiguous in both views are merged first
     * (longer runs), then the innermost rows are split across the pool, each chunk walking its rows with an odometer
     * rather than dividing out every row's offset (patch extraction's rows are 4–16 floats long).
     */
    static void copy(Parallel parallel, float[] s, Tensor src, float[] d, Tensor dst) {
        int n = (int) src.size();
        if (n == 0) return;
        if (src.isContiguous() && dst.isContiguous()) {
            System.arraycopy(s, (int) src.offset(), d, (int) dst.offset(), n);
            return;
        }
        int[] shape = src.shape(), ss = src.strides(), ds = dst.strides();
        int rank = 0;
        int[] size = new int[shape.length], sStride = new int[shape.length], dStride = new int[shape.length];
        for (int k = 0; k < shape.length; k++) {
            if (shape[k] == 1) continue;
            if (rank > 0 && sStride[rank - 1] == ss[k] * shape[k] && dStride[rank - 1] == ds[k] * shape[k]) {
                size[rank - 1] *= shape[k];          // merge with the dimension before: contiguous in both
                sStride[rank - 1] = ss[k];
                dStride[rank - 1] = ds[k];
                continue;
            }
            size[rank] = shape[k];
            sStride[rank] = ss[k];
            dStride[rank] = ds[k];
            rank++;
        }
        if (rank == 0) {
            d[(int) dst.offset()] = s[(int) src.offset()];
            return;
        }
        int[] dims = Arrays.copyOf(size, rank), sStr = Arrays.copyOf(sStride, rank),
                dStr = Arrays.copyOf(dStride, rank);
        int inner = dims[rank - 1], si = sStr[rank - 1], di = dStr[rank - 1], rows = n / inner;
        int so0 = (int) src.offset(), do0 = (int) dst.offset();
        parallel.forRows(rows, inner, (r0, r1) -> {
            int[] idx = new int[dims.length];
            long rest = r0;
            for (int k = dims.length - 2; k >= 0; k--) {
                idx[k] = (int) (rest % dims[k]);
                rest /= dims[k];
            }
            int so = so0, dof = do0;
            for (int k = 0; k < dims.length - 1; k++) {
                so += idx[k] * sStr[k];
                dof += idx[k] * dStr[k];
            }
            for (int r = r0; r < r1; r++) {
                if (si == 1 && di == 1) {
                    System.arraycopy(s, so, d, dof, inner);
                } else {
                    for (int j = 0; j < inner; j++) d[dof + j * di] = s[so + j * si];
                }
                for (int k = dims.length - 2; k >= 0; k--) {   // the odometer: next row's offsets
                    so += sStr[k];
                    dof += dStr[k];
                    if (++idx[k] < dims[k]) break;
                    so -= dims[k] * sStr[k];
                    dof -= dims[k] * dStr[k];
                    idx[k] = 0;
                }
            }
        });
    }

    /** out[p, j, :] = x[p, index[p·dstLen + j], :]. */
    static void gather(float[] x, int xo, int outer, int srcLen, int inner, int[] index, float[] o, int oo,
                       int dstLen) {
        for (int p = 0; p < outer; p++) {
            for (int j = 0; j < dstLen; j++) {
                int from = index[p * dstLen + j];
                System.arraycopy(x, xo + (p * srcLen + from) * inner, o, oo + (p * dstLen + j) * inner, inner);
            }
        }
    }

    /** out[p, index[p·srcLen + j], :] += src[p, j, :]. */
    static void scatterAdd(float[] s, int so, int srcLen, int[] index, float[] o, int oo, int outer, int dstLen,
                           int inner) {
        for (int p = 0; p < outer; p++) {
            for (int j = 0; j < srcLen; j++) {
                int to = oo + (p * dstLen + index[p * srcLen + j]) * inner;
                int from = so + (p * srcLen + j) * inner;
                for (int q = 0; q < inner; q += L) {
                    VectorMask<Float> m = S.indexInRange(q, inner);
                    FloatVector.fromArray(S, o, to + q, m).add(FloatVector.fromArray(S, s, from + q, m))
                            .intoArray(o, to + q, m);
                }
            }
        }
    }
}

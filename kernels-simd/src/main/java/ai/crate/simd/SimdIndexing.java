package ai.crate.simd;

import ai.crate.engine.Tensor;
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
        int rank = 0;   // dims, sStr, dStr [0, rank): the views' dimensions, unit ones dropped, contiguous runs merged
        int[] dims = new int[shape.length], sStr = new int[shape.length], dStr = new int[shape.length];
        for (int k = 0; k < shape.length; k++) {
            if (shape[k] == 1) continue;
            if (rank > 0 && sStr[rank - 1] == ss[k] * shape[k] && dStr[rank - 1] == ds[k] * shape[k]) {
                dims[rank - 1] *= shape[k];          // merge with the dimension before: contiguous in both
            } else {
                dims[rank++] = shape[k];
            }
            sStr[rank - 1] = ss[k];
            dStr[rank - 1] = ds[k];
        }
        if (rank == 0) {
            d[(int) dst.offset()] = s[(int) src.offset()];
            return;
        }
        int outer = rank - 1, inner = dims[outer], si = sStr[outer], di = dStr[outer], rows = n / inner;
        int so0 = (int) src.offset(), do0 = (int) dst.offset();
        parallel.forRows(rows, inner, (r0, r1) -> {
            int[] idx = new int[outer];
            long rest = r0;
            for (int k = outer - 1; k >= 0; k--) {
                idx[k] = (int) (rest % dims[k]);
                rest /= dims[k];
            }
            int so = so0, dof = do0;
            for (int k = 0; k < outer; k++) {
                so += idx[k] * sStr[k];
                dof += idx[k] * dStr[k];
            }
            for (int r = r0; r < r1; r++) {
                if (si == 1 && di == 1) {
                    System.arraycopy(s, so, d, dof, inner);
                } else {
                    for (int j = 0; j < inner; j++) d[dof + j * di] = s[so + j * si];
                }
                for (int k = outer - 1; k >= 0; k--) {   // the odometer: next row's offsets
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

package ai.crate.simd;

import ai.crate.engine.Layout;
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

    /** dst = src for any two views of the same shape, one innermost row at a time. */
    static void copy(float[] s, Tensor src, float[] d, Tensor dst) {
        int n = (int) src.size();
        if (n == 0) return;
        if (src.isContiguous() && dst.isContiguous()) {
            System.arraycopy(s, (int) src.offset(), d, (int) dst.offset(), n);
            return;
        }
        int[] shape = src.shape(), ss = src.strides(), ds = dst.strides();
        int rank = shape.length;
        int inner = shape[rank - 1], si = ss[rank - 1], di = ds[rank - 1];
        for (int r = 0; r < n / inner; r++) {
            long first = (long) r * inner;
            int so = (int) (src.offset() + Layout.offsetOf(first, shape, ss));
            int dof = (int) (dst.offset() + Layout.offsetOf(first, shape, ds));
            if (si == 1 && di == 1) {
                System.arraycopy(s, so, d, dof, inner);
            } else {
                for (int j = 0; j < inner; j++) d[dof + j * di] = s[so + j * si];
            }
        }
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

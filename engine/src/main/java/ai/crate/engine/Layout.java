package ai.crate.engine;

import java.util.Arrays;

/** Layout checks and index arithmetic shared by backends: GEMM geometry, batch offsets, strided offsets. */
public final class Layout {
    private Layout() {}

    /** The geometry of one batched GEMM call after validation. */
    public record Gemm(int batch, int m, int n, int k, int[] batchShape, long[] aOffsets, long[] bOffsets,
                       int aRowStride, int aColStride, int bRowStride, int bColStride) {
        /** Offset of C's batch {@code i} (C is contiguous). */
        public long cOffset(long cBase, int i) { return cBase + (long) i * m * n; }

        public double flops() { return 2.0 * batch * m * n * k; }
    }

    /**
     * Validates a batched GEMM and resolves op(A) and op(B) into (row, column) strides over [M, K] and [K, N], so a
     * kernel never branches on transposition: transposed flags and transposed views become stride swaps.
     */
    public static Gemm gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c) {
        Shapes.requireRankAtLeast("gemm", "A", a, 2);
        Shapes.requireRankAtLeast("gemm", "B", b, 2);
        Shapes.requireRankAtLeast("gemm", "C", c, 2);
        if (!c.isContiguous()) {
            throw new IllegalArgumentException("gemm: C must be contiguous, got a view of shape "
                    + Arrays.toString(c.shape()) + " strides " + Arrays.toString(c.strides()));
        }
        int m = transA ? a.dim(-1) : a.dim(-2);
        int ka = transA ? a.dim(-2) : a.dim(-1);
        int kb = transB ? b.dim(-1) : b.dim(-2);
        int n = transB ? b.dim(-2) : b.dim(-1);
        if (ka != kb || c.dim(-2) != m || c.dim(-1) != n) {
            throw new IllegalArgumentException("gemm: shapes do not match: A " + Arrays.toString(a.shape())
                    + (transA ? "ᵀ" : "") + " · B " + Arrays.toString(b.shape()) + (transB ? "ᵀ" : "")
                    + " → C " + Arrays.toString(c.shape()));
        }
        int[] cShape = c.shape();
        int[] batchShape = Arrays.copyOf(cShape, cShape.length - 2);
        int batch = (int) Shapes.numel(batchShape);
        long[] aOff = batchOffsets(a, batchShape);
        long[] bOff = batchOffsets(b, batchShape);
        int aRow = transA ? a.stride(-1) : a.stride(-2);
        int aCol = transA ? a.stride(-2) : a.stride(-1);
        int bRow = transB ? b.stride(-1) : b.stride(-2);
        int bCol = transB ? b.stride(-2) : b.stride(-1);
        if (foldsIntoRows(batch, m, aOff, aRow, bOff)) {
            // A shared B (a weight) and A's batches stacked row after row: one tall GEMM instead of many short ones,
            // so a backend packs B once, not once per batch entry.
            return new Gemm(1, batch * m, n, ka, new int[0], new long[] {aOff[0]}, new long[] {bOff[0]}, aRow, aCol,
                    bRow, bCol);
        }
        return new Gemm(batch, m, n, ka, batchShape, aOff, bOff, aRow, aCol, bRow, bCol);
    }

    /** True when every batch uses the same B and batch p of A starts p·M rows (of stride aRow) after batch 0. */
    private static boolean foldsIntoRows(int batch, int m, long[] aOff, int aRow, long[] bOff) {
        if (batch < 2) return false;
        for (int p = 1; p < batch; p++) {
            if (bOff[p] != bOff[0] || aOff[p] != aOff[0] + (long) p * m * aRow) return false;
        }
        return true;
    }

    /** Storage offsets of each batch matrix of {@code t} when its batch dims broadcast to {@code batchShape}. */
    static long[] batchOffsets(Tensor t, int[] batchShape) {
        int rank = t.rank() - 2;
        int[] tb = Arrays.copyOf(t.shape(), rank);
        int[] ts = Arrays.copyOf(t.strides(), rank);
        int lead = batchShape.length - rank;
        if (lead < 0) {
            throw new IllegalArgumentException("gemm: batch dims " + Arrays.toString(tb)
                    + " do not broadcast to C's batch dims " + Arrays.toString(batchShape));
        }
        int[] strides = new int[batchShape.length];
        for (int i = 0; i < rank; i++) {
            int d = tb[i];
            int target = batchShape[lead + i];
            if (d == target) strides[lead + i] = ts[i];
            else if (d != 1) {
                throw new IllegalArgumentException("gemm: batch dims " + Arrays.toString(tb)
                        + " do not broadcast to C's batch dims " + Arrays.toString(batchShape));
            }
        }
        int batch = (int) Shapes.numel(batchShape);
        long[] out = new long[batch];
        for (int i = 0; i < batch; i++) out[i] = t.offset() + offsetOf(i, batchShape, strides);
        return out;
    }

    /** Storage offset (relative to the view's start) of row-major linear index {@code linear} under strides. */
    public static long offsetOf(long linear, int[] shape, int[] strides) {
        long off = 0;
        for (int d = shape.length - 1; d >= 0; d--) {
            int size = shape[d];
            if (size == 0) return 0;
            off += (linear % size) * strides[d];
            linear /= size;
        }
        return off;
    }

    /** Product of dimensions before {@code axis}. */
    public static int outer(int[] shape, int axis) {
        long n = 1;
        for (int i = 0; i < axis; i++) n *= shape[i];
        return (int) n;
    }

    /** Product of dimensions after {@code axis}. */
    public static int inner(int[] shape, int axis) {
        long n = 1;
        for (int i = axis + 1; i < shape.length; i++) n *= shape[i];
        return (int) n;
    }
}

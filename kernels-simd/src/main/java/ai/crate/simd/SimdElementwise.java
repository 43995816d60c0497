package ai.crate.simd;

import ai.crate.engine.BinaryOp;
import ai.crate.engine.Layout;
import ai.crate.engine.ScalarMath;
import ai.crate.engine.Shapes;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Elementwise kernels: fill, unary and its derivative, broadcasting binary, affine. Tails use masked lanes. */
final class SimdElementwise {
    private static final VectorSpecies<Float> S = VectorMath.S;
    private static final int L = S.length();

    private final Parallel parallel;

    SimdElementwise(Parallel parallel) { this.parallel = parallel; }

    /** Flat elementwise work: n rows of width 1. */
    private void split(int n, Parallel.RangeBody body) { parallel.forRows(n, 1, body); }

    void fill(float[] o, int oo, int n, float value) {
        split(n, (s, e) -> Arrays.fill(o, oo + s, oo + e, value));
    }

    // ---- unary, forward and backward side by side ----------------------------------------------------------------
    // One loop per op, the op chosen once per range: a shared per-vector helper holding every op (transcendental
    // intrinsics included) compiles too big for C2 to inline into the loop, and then every vector crossing the call
    // is boxed on the heap (measured: ~3 GB of float[] per minute of training). Tails of < L elements run in scalar
    // double arithmetic, as exact as the oracle.

    void unary(UnaryOp op, float[] x, int xo, float[] o, int oo, int n) {
        if (op == UnaryOp.GELU) {
            split(n, (s, e) -> VectorMath.gelu(x, xo + s, o, oo + s, e - s));
            return;
        }
        split(n, (s, e) -> unaryRange(op, x, xo + s, o, oo + s, e - s));
    }

    // Constants as vectors made once: a scalar operand inside a loop is a broadcast per iteration, and C2 sometimes
    // leaves that broadcast as a call that allocates (measured: softmax 2x slower, ~24 boxed vectors per row).
    private static final FloatVector ZERO = FloatVector.zero(S);
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);
    private static final FloatVector MINUS_ONE = FloatVector.broadcast(S, -1f);
    private static final FloatVector TWO = FloatVector.broadcast(S, 2f);

    private static void unaryRange(UnaryOp op, float[] x, int xo, float[] o, int oo, int len) {
        int end = len - len % L, i = 0;
        switch (op) {
            case NEG -> { for (; i < end; i += L) v(x, xo + i).neg().intoArray(o, oo + i); }
            case EXP -> { for (; i < end; i += L) VectorMath.exp(v(x, xo + i)).intoArray(o, oo + i); }
            // LOG and TANH in the scalar loop below (StrictMath): the Vector API's lanewise LOG and TANH round
            // differently compiled (SVML) than interpreted, which would make results depend on the JIT's warmth
            case LOG, TANH -> { }
            case SQRT -> { for (; i < end; i += L) v(x, xo + i).sqrt().intoArray(o, oo + i); }
            case SIGMOID -> {
                for (; i < end; i += L) {
                    ONE.div(VectorMath.exp(v(x, xo + i).neg()).add(ONE)).intoArray(o, oo + i);
                }
            }
            case ABS -> { for (; i < end; i += L) v(x, xo + i).abs().intoArray(o, oo + i); }
            case SQUARE -> { for (; i < end; i += L) { FloatVector a = v(x, xo + i); a.mul(a).intoArray(o, oo + i); } }
            case RECIPROCAL -> { for (; i < end; i += L) ONE.div(v(x, xo + i)).intoArray(o, oo + i); }
            case RELU -> { for (; i < end; i += L) v(x, xo + i).max(ZERO).intoArray(o, oo + i); }
            case SIGN -> {
                for (; i < end; i += L) {
                    FloatVector a = v(x, xo + i);
                    ZERO.blend(ONE, a.compare(VectorOperators.GT, ZERO)).blend(MINUS_ONE,
                            a.compare(VectorOperators.LT, ZERO)).intoArray(o, oo + i);
                }
            }
            case GELU -> throw new IllegalStateException("GELU runs in VectorMath.gelu");
        }
        for (; i < len; i++) o[oo + i] = (float) ScalarMath.apply(op, x[xo + i]);
    }

    void unaryBackward(UnaryOp op, float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo, int n) {
        if (op == UnaryOp.GELU) {
            split(n, (s, e) -> VectorMath.geluBackward(x, xo + s, dy, dyo + s, dx, dxo + s, e - s));
            return;
        }
        split(n, (s, e) -> unaryBackwardRange(op, x, xo + s, dy, dyo + s, dx, dxo + s, e - s));
    }

    /** dx = op'(x)·dy. */
    private static void unaryBackwardRange(UnaryOp op, float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo,
                                           int len) {
        int end = len - len % L, i = 0;
        switch (op) {
            case NEG -> { for (; i < end; i += L) v(dy, dyo + i).neg().intoArray(dx, dxo + i); }
            case EXP -> {
                for (; i < end; i += L) {
                    VectorMath.exp(v(x, xo + i)).mul(v(dy, dyo + i)).intoArray(dx, dxo + i);
                }
            }
            case LOG -> { for (; i < end; i += L) v(dy, dyo + i).div(v(x, xo + i)).intoArray(dx, dxo + i); }
            case SQRT -> {
                for (; i < end; i += L) v(dy, dyo + i).div(v(x, xo + i).sqrt().mul(TWO)).intoArray(dx, dxo + i);
            }
            case TANH -> { }   // scalar, StrictMath: see unaryRange
            case SIGMOID -> {
                for (; i < end; i += L) {
                    FloatVector sg = ONE.div(VectorMath.exp(v(x, xo + i).neg()).add(ONE));
                    sg.mul(ONE.sub(sg)).mul(v(dy, dyo + i)).intoArray(dx, dxo + i);
                }
            }
            case ABS -> {
                for (; i < end; i += L) {
                    FloatVector a = v(x, xo + i);
                    ZERO.blend(ONE, a.compare(VectorOperators.GT, ZERO)).blend(MINUS_ONE,
                            a.compare(VectorOperators.LT, ZERO)).mul(v(dy, dyo + i)).intoArray(dx, dxo + i);
                }
            }
            case SQUARE -> { for (; i < end; i += L) v(x, xo + i).mul(TWO).mul(v(dy, dyo + i)).intoArray(dx, dxo + i); }
            case RECIPROCAL -> {
                for (; i < end; i += L) {
                    FloatVector a = v(x, xo + i);
                    v(dy, dyo + i).div(a.mul(a)).neg().intoArray(dx, dxo + i);
                }
            }
            case RELU -> {
                for (; i < end; i += L) {
                    ZERO.blend(v(dy, dyo + i), v(x, xo + i).compare(VectorOperators.GT, ZERO)).intoArray(dx, dxo + i);
                }
            }
            case SIGN -> { for (; i < end; i += L) ZERO.intoArray(dx, dxo + i); }
            case GELU -> throw new IllegalStateException("GELU runs in VectorMath.geluBackward");
        }
        for (; i < len; i++) dx[dxo + i] = (float) (ScalarMath.derivative(op, x[xo + i]) * dy[dyo + i]);
    }

    private static FloatVector v(float[] a, int off) { return FloatVector.fromArray(S, a, off); }

    void affine(float[] x, int xo, float[] o, int oo, int n, float scale, float shift) {
        split(n, (s, e) -> SimdRows.affineRow(x, xo + s, o, oo + s, e - s, scale, shift));
    }

    // ---- binary with broadcasting ------------------------------------------------------------------------------

    /**
     * Walks the output row by row along its last axis; each operand's stride along that axis is 1 (read a vector)
     * or 0 (broadcast one value). Operands with any other inner stride are made contiguous first.
     */
    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out, int[] shape) {
        float[] o = (float[]) out.storage();
        int oo = (int) out.offset();
        int n = (int) out.size();
        if (n == 0) return;
        if (sameDense(a, shape) && sameDense(b, shape)) {
            float[] ad = (float[]) a.storage(), bd = (float[]) b.storage();
            int ao = (int) a.offset(), bo = (int) b.offset();
            split(n, (s, e) -> row(op, ad, ao + s, 1, bd, bo + s, 1, o, oo + s, e - s));
            return;
        }
        Tensor ac = innerStrideOk(a) ? a : a.contiguous();
        Tensor bc = innerStrideOk(b) ? b : b.contiguous();
        int[] as = Shapes.broadcastStrides(ac, shape, "binary " + op);
        int[] bs = Shapes.broadcastStrides(bc, shape, "binary " + op);
        int rank = shape.length;
        int inner = rank == 0 ? 1 : shape[rank - 1];
        int sa = rank == 0 ? 0 : as[rank - 1], sb = rank == 0 ? 0 : bs[rank - 1];
        float[] ad = (float[]) ac.storage(), bd = (float[]) bc.storage();
        int rowsTotal = n / inner;
        Parallel.RangeBody body = (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long first = (long) r * inner;
                int aOff = (int) (ac.offset() + Layout.offsetOf(first, shape, as));
                int bOff = (int) (bc.offset() + Layout.offsetOf(first, shape, bs));
                row(op, ad, aOff, sa, bd, bOff, sb, o, oo + (int) first, inner);
            }
        };
        parallel.forRows(rowsTotal, inner, body);
    }

    private static boolean sameDense(Tensor t, int[] shape) {
        return t.isContiguous() && Arrays.equals(t.shape(), shape);
    }

    private static boolean innerStrideOk(Tensor t) {
        return t.rank() == 0 || t.dim(-1) == 1 || t.stride(-1) == 1;
    }

    /** o[i] = op(a[i·sa], b[i·sb]) for i < len, with sa, sb ∈ {0, 1}. */
    private static void row(BinaryOp op, float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo,
                            int len) {
        FloatVector aConst = sa == 0 ? FloatVector.broadcast(S, a[ao]) : null;
        FloatVector bConst = sb == 0 ? FloatVector.broadcast(S, b[bo]) : null;
        int i = 0;
        for (; i <= len - L; i += L) {
            FloatVector av = aConst != null ? aConst : FloatVector.fromArray(S, a, ao + i);
            FloatVector bv = bConst != null ? bConst : FloatVector.fromArray(S, b, bo + i);
            apply(op, av, bv).intoArray(o, oo + i);
        }
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            FloatVector av = aConst != null ? aConst : FloatVector.fromArray(S, a, ao + i, m);
            FloatVector bv = bConst != null ? bConst : FloatVector.fromArray(S, b, bo + i, m);
            apply(op, av, bv).intoArray(o, oo + i, m);
        }
    }

    static FloatVector apply(BinaryOp op, FloatVector a, FloatVector b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            case MAX -> a.max(b);
            case MIN -> a.min(b);
        };
    }
}

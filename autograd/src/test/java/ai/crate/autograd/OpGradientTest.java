package ai.crate.autograd;

import static ai.crate.autograd.TestTensors.B;
import static ai.crate.autograd.TestTensors.awayFromZero;
import static ai.crate.autograd.TestTensors.distinct;
import static ai.crate.autograd.TestTensors.normal;
import static ai.crate.autograd.TestTensors.uniform;

import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.function.Function;

/** A gradient check, with the default tolerances, of every differentiable op in {@link F} on the backend under test. */
class OpGradientTest {

    private static void check(Function<List<Variable>, Variable> fn, Tensor... inputs) {
        GradCheck.check(B, fn, inputs);
    }

    // ---- elementwise, one argument -----------------------------------------------------------------------------

    /** Every unary op through its named method; the switch is exhaustive, so a new UnaryOp must be added here. */
    private static Variable named(UnaryOp op, Variable x) {
        return switch (op) {
            case NEG -> F.neg(x);
            case EXP -> F.exp(x);
            case LOG -> F.log(x);
            case SQRT -> F.sqrt(x);
            case TANH -> F.tanh(x);
            case SIGMOID -> F.sigmoid(x);
            case ABS -> F.abs(x);
            case SQUARE -> F.square(x);
            case RECIPROCAL -> F.reciprocal(x);
            case RELU -> F.relu(x);
            case SIGN -> F.unary(UnaryOp.SIGN, x);
            case GELU -> F.gelu(x);
        };
    }

    /** Inputs inside each op's domain, and away from the kink for relu and abs. */
    private static Tensor inputFor(UnaryOp op, long seed, int... shape) {
        return switch (op) {
            case LOG, SQRT, RECIPROCAL -> uniform(seed, 0.5f, 2f, shape);
            case RELU, ABS, SIGN -> awayFromZero(seed, shape);
            default -> normal(seed, shape);
        };
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unaryOp(UnaryOp op) {
        int seed = 10;
        for (int[] shape : new int[][] {{1}, {3}, {17}, {3, 17}}) {
            check(xs -> named(op, xs.getFirst()), inputFor(op, seed++, shape));
        }
    }

    @Test
    void affine() {
        check(xs -> F.affine(xs.getFirst(), -1.5f, 0.25f), normal(1, 3, 17));
    }

    // ---- elementwise, two arguments, with broadcasting ---------------------------------------------------------

    @Test
    void add() {
        check(xs -> F.add(xs.get(0), xs.get(1)), normal(1, 3, 1, 17), normal(2, 17));
        check(xs -> F.add(xs.get(0), xs.get(1)), normal(3, 5, 3), normal(4, 5, 3));
        check(xs -> F.add(xs.get(0), xs.get(1)), normal(5, 1), normal(6, 3, 1));
    }

    @Test
    void sub() {
        check(xs -> F.sub(xs.get(0), xs.get(1)), normal(1, 3, 1, 17), normal(2, 3, 4, 1));
        check(xs -> F.sub(xs.get(0), xs.get(1)), normal(3, 1), normal(4, 3));
    }

    @Test
    void mul() {
        check(xs -> F.mul(xs.get(0), xs.get(1)), normal(1, 5, 3), normal(2, 1));
        check(xs -> F.mul(xs.get(0), xs.get(1)), normal(3, 3, 1, 17), normal(4, 17));
    }

    @Test
    void div() {
        check(xs -> F.div(xs.get(0), xs.get(1)), normal(1, 4, 3), uniform(2, 0.5f, 2f, 3));
        check(xs -> F.div(xs.get(0), xs.get(1)), normal(3, 1, 17), uniform(4, -2f, -0.5f, 3, 1));
    }

    @Test
    void sameVariableOnBothSides() {
        check(xs -> F.mul(xs.getFirst(), xs.getFirst()), normal(1, 3, 17));
        check(xs -> F.div(xs.getFirst(), F.add(xs.getFirst(), xs.get(1))), normal(2, 5),
                uniform(3, 4f, 5f, 5));
    }

    // ---- matrix products ---------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void batchedMatmulAllTransposeFlags(int flags) {
        boolean transA = (flags & 1) != 0, transB = (flags & 2) != 0;
        Tensor a = transA ? normal(1, 2, 4, 3) : normal(1, 2, 3, 4);
        Tensor b = transB ? normal(2, 2, 5, 4) : normal(2, 2, 4, 5);
        check(xs -> F.matmul(xs.get(0), transA, xs.get(1), transB), a, b);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void matmulWeightBroadcastAcrossBatch(int flags) {
        boolean transA = (flags & 1) != 0, transB = (flags & 2) != 0;
        Tensor a = transA ? normal(1, 2, 4, 3) : normal(1, 2, 3, 4);
        Tensor w = transB ? normal(2, 5, 4) : normal(2, 4, 5);
        check(xs -> F.matmul(xs.get(0), transA, xs.get(1), transB), a, w);
    }

    @Test
    void matmulBroadcastBatchDims() {
        check(xs -> F.matmul(xs.get(0), xs.get(1)), normal(1, 3, 4), normal(2, 2, 4, 5));
        check(xs -> F.matmul(xs.get(0), xs.get(1)), normal(3, 2, 1, 3, 4), normal(4, 3, 4, 5));
    }

    @Test
    void matmulAwkwardSizesAndStridedViews() {
        check(xs -> F.matmul(xs.get(0), xs.get(1)), normal(1, 1, 1, 17), normal(2, 17, 1));
        check(xs -> F.matmul(xs.get(0), xs.get(1)), normal(3, 3, 17), normal(4, 17, 3));
        // transposed views (not gemm flags) as inputs
        check(xs -> F.matmul(F.transpose(xs.get(0)), F.transpose(xs.get(1))), normal(5, 2, 4, 3), normal(6, 5, 4));
    }

    @Test
    void linear() {
        check(xs -> F.linear(xs.get(0), xs.get(1), xs.get(2)), normal(1, 2, 3, 4), normal(2, 5, 4), normal(3, 5));
        check(xs -> F.linear(xs.get(0), xs.get(1), null), normal(4, 3, 17), normal(5, 1, 17));
        check(xs -> F.linear(xs.get(0), xs.get(1), xs.get(2)), normal(6, 4), normal(7, 3, 4), normal(8, 3));
    }

    // ---- reductions --------------------------------------------------------------------------------------------

    @Test
    void sumOfAllElements() {
        check(xs -> F.sum(xs.getFirst()), normal(1, 3, 17));
        check(xs -> F.sum(xs.getFirst()), normal(2, 1));
        check(xs -> F.sum(F.transpose(xs.getFirst())), normal(3, 2, 3, 5));
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void sumAlongAxis(boolean keepDim) {
        for (int axis : new int[] {0, 1, -1}) {
            check(xs -> F.sum(xs.getFirst(), axis, keepDim), normal(axis + 10, 3, 1, 17));
            check(xs -> F.sum(xs.getFirst(), axis, keepDim), normal(axis + 20, 2, 3, 5));
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void meanAlongAxis(boolean keepDim) {
        for (int axis : new int[] {0, 1, 2}) {
            check(xs -> F.mean(xs.getFirst(), axis, keepDim), normal(axis + 10, 2, 3, 5));
        }
        check(xs -> F.mean(xs.getFirst(), -1, keepDim), normal(1, 3, 17));
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void maxAlongAxis(boolean keepDim) {
        for (int axis : new int[] {0, 1, 2}) {
            check(xs -> F.max(xs.getFirst(), axis, keepDim), distinct(axis + 10, 2, 3, 5));
        }
        check(xs -> F.max(xs.getFirst(), 1, keepDim), distinct(1, 3, 17));
        check(xs -> F.max(xs.getFirst(), 0, keepDim), distinct(2, 1, 17));
    }

    // ---- softmax family, normalisation, loss -------------------------------------------------------------------

    @Test
    void softmax() {
        check(xs -> F.softmax(xs.getFirst()), normal(1, 3, 17));
        check(xs -> F.softmax(xs.getFirst()), normal(2, 2, 3, 5));
        check(xs -> F.softmax(xs.getFirst()), normal(3, 1, 3));
    }

    @Test
    void logSoftmax() {
        check(xs -> F.logSoftmax(xs.getFirst()), normal(1, 3, 17));
        check(xs -> F.logSoftmax(xs.getFirst()), normal(2, 2, 3, 5));
        check(xs -> F.logSoftmax(xs.getFirst()), normal(3, 1, 3));
    }

    @Test
    void layerNorm() {
        check(xs -> F.layerNorm(xs.get(0), xs.get(1), xs.get(2), 1e-5f), normal(1, 3, 17), normal(2, 17),
                normal(3, 17));
        check(xs -> F.layerNorm(xs.get(0), xs.get(1), xs.get(2), 1e-5f), normal(4, 2, 3, 5), normal(5, 5),
                normal(6, 5));
        check(xs -> F.layerNorm(xs.get(0), xs.get(1), xs.get(2), 1e-5f), normal(7, 3), normal(8, 3), normal(9, 3));
    }

    @ParameterizedTest
    @ValueSource(floats = {0f, 0.1f})
    void crossEntropy(float smoothing) {
        check(xs -> F.crossEntropy(xs.getFirst(), new int[] {0, 6, 3, 3, 1}, smoothing), normal(1, 5, 7));
        check(xs -> F.crossEntropy(xs.getFirst(), new int[] {2}, smoothing), normal(2, 1, 3));
        check(xs -> F.crossEntropy(xs.getFirst(), new int[] {16, 0, 5}, smoothing), normal(3, 3, 17));
    }

    // ---- fused CRATE layers ------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void mssa(boolean keepAttention) {
        check(xs -> F.mssa(xs.getFirst(), 2, (float) (1 / Math.sqrt(3)), keepAttention), normal(31, 2, 5, 6));
        check(xs -> F.mssa(xs.getFirst(), 1, 0.5f, keepAttention), normal(32, 1, 4, 4));
        check(xs -> F.mssa(xs.getFirst(), 3, 0.7f, keepAttention), normal(33, 1, 1, 3));
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void mhsa(boolean keepAttention) {
        check(xs -> F.mhsa(xs.getFirst(), 2, (float) (1 / Math.sqrt(3)), keepAttention, null), normal(34, 2, 5, 18));
        check(xs -> F.mhsa(xs.getFirst(), 1, 0.5f, keepAttention, null), normal(35, 1, 4, 12));
        check(xs -> F.mhsa(xs.getFirst(), 3, 0.7f, keepAttention, null), normal(36, 1, 1, 9));
    }

    @Test
    void ista() {
        for (int[] shape : new int[][] {{2, 3, 5}, {4, 1}, {7, 3}}) {
            int d = shape[shape.length - 1];
            Tensor dict = B.empty(d, d);
            B.randomNormal(dict, 41 + d, 0f, (float) Math.sqrt(2.0 / d));
            Tensor x = awayFromKink(normal(40 + d, shape), dict, 0.1f, 0.1f);
            check(xs -> F.ista(xs.get(0), xs.get(1), 0.1f, 0.1f), x, dict);
        }
    }

    /**
     * CRATE-α's block on small shapes (both codes with active and inactive entries), x resampled until no
     * pre-activation of a1 or a2 lies within 0.02 of the ReLU's kink: a gradient-check step (≤ 0.03 in an entry of
     * x, D or D1) moves a pre-activation by η·|step|·|other factor| ≲ 0.01.
     */
    @Test
    void overcompleteIsta() {
        for (int[] shape : new int[][] {{2, 1, 3}, {3, 1}, {1, 1, 2}}) {
            int d = shape[shape.length - 1], p = 4 * d;
            Tensor dict = normal(50 + d, d, p), dict1 = normal(51 + d, d, p);
            Tensor x = null;
            for (long seed = 60; x == null; seed++) {
                Tensor candidate = normal(seed, shape);
                if (clearOfOvercompleteKinks(candidate, dict, 0.1f, 0.1f)) x = candidate;
                if (seed > 5000) throw new IllegalStateException("no input clear of the kinks for " + d);
            }
            check(xs -> F.overcompleteIsta(xs.get(0), xs.get(1), xs.get(2), 0.1f, 0.1f), x, dict, dict1);
        }
    }

    /** Whether every pre-activation η·xD − ηλ and a1 − η·rD − ηλ is at least 0.02 from zero, and both codes mix signs. */
    private static boolean clearOfOvercompleteKinks(Tensor x, Tensor dict, float eta, float lambda) {
        int d = x.dim(-1), p = dict.dim(1), rows = (int) (x.size() / d);
        float[] xs = B.toArray(x), ds = B.toArray(dict);
        int active1 = 0, active2 = 0;
        for (int m = 0; m < rows; m++) {
            double[] a1 = new double[p], r = new double[d];
            for (int k = 0; k < p; k++) {
                double u = 0;
                for (int i = 0; i < d; i++) u += xs[m * d + i] * ds[i * p + k];
                double pre = eta * u - eta * lambda;
                if (Math.abs(pre) < 0.02) return false;
                a1[k] = Math.max(pre, 0);
                if (pre > 0) active1++;
            }
            for (int i = 0; i < d; i++) {
                r[i] = -xs[m * d + i];
                for (int k = 0; k < p; k++) r[i] += a1[k] * ds[i * p + k];
            }
            for (int k = 0; k < p; k++) {
                double g = 0;
                for (int i = 0; i < d; i++) g += r[i] * ds[i * p + k];
                double pre = a1[k] - eta * g - eta * lambda;
                if (Math.abs(pre) < 0.02) return false;
                if (pre > 0) active2++;
            }
        }
        int all = rows * p;
        return active1 > 0 && active1 < all && active2 > 0 && active2 < all;
    }

    /**
     * x nudged until every ISTA pre-activation is at least 0.15 from the ReLU's kink, so no gradient-check step
     * (≤ 0.04 in x, moving a pre-activation by about as much) crosses it. The pre-activation is read as
     * ReLU(pre + 100) − 100, i.e. the same op with λ lowered by 100/η.
     */
    private static Tensor awayFromKink(Tensor x, Tensor dict, float eta, float lambda) {
        float[] v = B.toArray(x);
        for (int round = 0; round < 50; round++) {
            Tensor shifted = B.empty(x.shape());
            B.fused().istaForward(B.fromArray(v, x.shape()), dict, eta, lambda - 100f / eta, shifted);
            float[] pre = B.toArray(shifted);
            boolean clear = true;
            for (int i = 0; i < v.length; i++) {
                float p = pre[i] - 100f;
                if (Math.abs(p) < 0.15f) {
                    v[i] += p >= 0 ? 0.3f : -0.3f;
                    clear = false;
                }
            }
            if (clear) return B.fromArray(v, x.shape());
        }
        throw new IllegalStateException("could not move ISTA inputs away from the ReLU kink");
    }

    // ---- indexing and layout -----------------------------------------------------------------------------------

    @Test
    void gather() {
        check(xs -> F.gather(xs.getFirst(), 0, new int[] {4, 0, 4, 2}), normal(1, 5, 3));
        check(xs -> F.gather(xs.getFirst(), 1, new int[] {0, 4, 3, 3, 1, 2}), normal(2, 3, 5));
        check(xs -> F.gather(xs.getFirst(), 1, new int[] {3, 0, 2, 2}), normal(3, 2, 4, 3));
        check(xs -> F.gather(xs.getFirst(), -1, new int[] {16}), normal(4, 1, 17));
    }

    @Test
    void concat() {
        check(xs -> F.concat(xs, 0), normal(1, 2, 3), normal(2, 1, 3), normal(3, 4, 3));
        check(xs -> F.concat(xs, 1), normal(4, 2, 1), normal(5, 2, 17));
        check(xs -> F.concat(List.of(xs.get(0), xs.get(0), xs.get(1)), -1), normal(6, 2, 3, 2), normal(7, 2, 3, 5));
    }

    @Test
    void slice() {
        check(xs -> F.slice(xs.getFirst(), 1, 5, 12), normal(1, 3, 17));
        check(xs -> F.slice(xs.getFirst(), 0, 2, 3), normal(2, 3, 17));
        check(xs -> F.slice(xs.getFirst(), -1, 0, 1), normal(3, 2, 3, 5));
    }

    @Test
    void reshape() {
        check(xs -> F.mul(F.reshape(xs.get(0), 2, -1), xs.get(1)), normal(1, 3, 4), normal(2, 6));
        // reshaping a transposed (non-contiguous) view copies; the gradient must still find its way back
        check(xs -> F.reshape(F.transpose(xs.getFirst()), 17, 3), normal(3, 3, 17));
    }

    @Test
    void transpose() {
        check(xs -> F.mul(F.transpose(xs.get(0), 0, 2), xs.get(1)), normal(1, 2, 3, 4), normal(2, 4, 3, 1));
        check(xs -> F.transpose(xs.getFirst()), normal(3, 1, 17));
    }

    // ---- composition -------------------------------------------------------------------------------------------

    @Test
    void smallNetworkEndToEnd() {
        int[] labels = {1, 0, 3, 3, 2, 0};
        check(xs -> {
            Variable h = F.gelu(F.linear(xs.get(0), xs.get(1), xs.get(2)));
            Variable n = F.layerNorm(h, xs.get(3), xs.get(4), 1e-5f);
            Variable logits = F.linear(F.reshape(n, -1, 5), xs.get(5), null);
            return F.crossEntropy(logits, labels, 0.1f);
        }, normal(1, 2, 3, 4), normal(2, 5, 4), normal(3, 5), normal(4, 5), normal(5, 5), normal(6, 4, 5));
    }
}

package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract every {@link Backend} must meet, checked against {@link ReferenceBackend} (the oracle). A backend's
 * test extends this class and implements {@link #backend()}; every op of the {@link Backend} interface is then run
 * on seeded random inputs (never zeros) on both backends and compared elementwise within a per-op bound stated
 * below, plus misuse tests that every backend must reject with an {@link IllegalArgumentException} naming the op.
 *
 * <p>Extending: the lifecycle is {@link TestInstance.Lifecycle#PER_CLASS}, so the parameter sources are instance
 * methods a subclass may override to add cases: {@link #sizes()} (the awkward sizes used by every elementwise,
 * reduction, softmax, norm, loss and indexing test), {@link #gemmShapes()} (M, K, N triples run with all four
 * transpose flags), {@link #gemmViewShapes()}, {@link #gemmAlphaBetaShapes()} and {@link #batchedGemmCases()}.
 * {@link #backend()} is called once per test class; {@link #oracle()} is a separate {@code ReferenceBackend}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class BackendContractTest {

    // ---- bounds ---------------------------------------------------------------------------------------------------
    // |actual − expected| ≤ atol + rtol·|expected|, elementwise. The oracle computes in double and rounds once to
    // float; a float backend rounds at every step. Each bound is the rounding a correct float implementation can
    // accumulate, with margin, and no more: a wrong index, a dropped or doubled term, a missing max-subtraction or a
    // skipped tail is orders of magnitude above every one of them. Never loosen a bound to make a backend pass.

    /** float32 unit roundoff, 2⁻²⁴ ≈ 6e-8 (half an ulp of 1). */
    public static final double U = 0x1.0p-24;

    /**
     * Data movement and selections (copy, fill, slice, concat, gather, toArray, NEG, ABS, RELU, MAX, MIN, reduce
     * MAX): no arithmetic, so bit-for-bit (compared numerically, so −0 equals +0).
     */
    public static final double EXACT = 0.0;

    /**
     * Algebraic elementwise ops (+ − × ÷, x², 1/x, √x, affine, scatter-add): one IEEE float operation is correctly
     * rounded (≤ ½ ulp ≈ 6e-8 relative); 1e-6 ≈ 8 ulp allows a·(1/b) for a/b, an FMA versus two roundings, and a
     * second rounding step, nothing more.
     */
    public static final double ELEMENTWISE_RTOL = 1e-6;

    /**
     * exp, log, tanh, sigmoid, erf (GELU) and their derivatives: vectorised polynomial approximations are good to a
     * few ulp; 2e-6 ≈ 16 ulp relative.
     */
    public static final double TRANSCENDENTAL_RTOL = 2e-6;

    /**
     * Absolute floor for transcendental results formed as a difference of O(1) quantities (1 − tanh², x·Φ(x) for
     * x ≪ 0, 1 − σ, log near 1): a few ulp of 1 in the intermediate become a large relative error of a small
     * result. Multiplied by the output's scale (|dy| for backward ops).
     */
    public static final double TRANSCENDENTAL_ATOL = 1e-6;

    /**
     * Accumulation over n terms (reduce SUM/MEAN, the sums inside softmax, layerNorm, cross-entropy): a running or
     * blocked float sum of random-sign terms has error ≈ 0.3·U·√n times the size of its partial sums; the bound is
     * {@code ACCUM_RTOL_PER_SQRT_N·√n} relative to that size (≈ 33·U·√n, more than 50σ). A dropped or doubled term
     * changes a sum by ~1/√n of its size, far above the bound for every n used here.
     */
    public static final double ACCUM_RTOL_PER_SQRT_N = 2e-6;

    /**
     * GEMM: rounding grows with the reduction length K. atol = {@code GEMM_ATOL_PER_SQRT_K}·√K·scale with scale =
     * |α|·rms(A)·rms(B) (the size of one product; a float dot product of random-sign terms errs ≈ 0.2·U·K·scale,
     * below this bound by 25× at K = 1000 and more for smaller K), plus {@link #ELEMENTWISE_RTOL}·|β|·max|C₀| for the
     * β·C term; rtol {@code GEMM_RTOL}.
     */
    public static final double GEMM_ATOL_PER_SQRT_K = 1e-5;
    public static final double GEMM_RTOL = 1e-4;

    /** Softmax probabilities are ≤ 1: rounding x − max in float moves p by at most |z|·e^z·U ≤ U/e; 4·U absolute. */
    public static final double PROBABILITY_ATOL = 4 * U;

    // ---- the backend under test --------------------------------------------------------------------------------

    /** The backend under test. Called once per test class. */
    protected abstract Backend backend();

    private Backend mine;
    private final Backend oracle = new ReferenceBackend();

    /** The backend under test (cached {@link #backend()}). */
    protected final Backend b() {
        if (mine == null) mine = backend();
        return mine;
    }

    /** The reference oracle, a {@link ReferenceBackend} distinct from the backend under test. */
    protected final Backend oracle() { return oracle; }

    /** Closes the backend under test if it holds resources (a thread pool, a device context). */
    @AfterAll
    void closeBackend() throws Exception {
        if (mine instanceof AutoCloseable c) c.close();
        mine = null;
    }

    // ---- parameter sources (override to extend) ---------------------------------------------------------------

    /** Awkward sizes: 1, below a vector, just below/above 64, odd primes-ish, and a long one. */
    protected int[] sizes() { return new int[] {1, 3, 17, 63, 65, 197, 1000}; }

    /**
     * M, K, N triples, each run with all four transpose flags: a sample of {1,3,17,63,65,197}³ where every size
     * appears in every position, plus larger shapes that reach blocked paths and their tails.
     */
    protected List<int[]> gemmShapes() {
        return List.of(
                new int[] {1, 1, 1}, new int[] {1, 3, 17}, new int[] {3, 17, 1}, new int[] {17, 1, 3},
                new int[] {3, 65, 63}, new int[] {63, 17, 65}, new int[] {65, 63, 17}, new int[] {17, 197, 3},
                new int[] {197, 3, 65}, new int[] {63, 65, 197}, new int[] {65, 1, 197}, new int[] {1, 197, 63},
                new int[] {197, 63, 1}, new int[] {63, 63, 63}, new int[] {65, 65, 65}, new int[] {197, 197, 17},
                new int[] {3, 1000, 17}, new int[] {1000, 17, 3},
                new int[] {128, 256, 96}, new int[] {257, 300, 129});
    }

    /** Shapes for the strided / transposed-view GEMM inputs. */
    protected List<int[]> gemmViewShapes() {
        return List.of(new int[] {17, 63, 65}, new int[] {65, 197, 63}, new int[] {130, 67, 129});
    }

    /** Shapes for the α/β GEMM tests. */
    protected List<int[]> gemmAlphaBetaShapes() {
        return List.of(new int[] {3, 17, 1}, new int[] {63, 65, 17}, new int[] {129, 257, 65});
    }

    /** One batched GEMM: batch dims of A, B and C (C's are the broadcast of A's and B's) and M, K, N. */
    public record BatchedGemm(int[] aBatch, int[] bBatch, int[] cBatch, int m, int k, int n) {
        @Override
        public String toString() {
            return "A" + Arrays.toString(aBatch) + " B" + Arrays.toString(bBatch) + " C" + Arrays.toString(cBatch)
                    + " M=" + m + " K=" + k + " N=" + n;
        }
    }

    /** Batched GEMM cases, each run with all four transpose flags. */
    protected List<BatchedGemm> batchedGemmCases() {
        int[] none = {};
        return List.of(
                new BatchedGemm(new int[] {2, 3}, none, new int[] {2, 3}, 17, 63, 65),      // rank-2 weight B
                new BatchedGemm(new int[] {2, 1}, new int[] {3}, new int[] {2, 3}, 3, 65, 17), // both broadcast
                new BatchedGemm(none, new int[] {3}, new int[] {3}, 65, 63, 17),            // rank-2 A
                new BatchedGemm(new int[] {1}, new int[] {4}, new int[] {4}, 63, 17, 197),  // size-1 batch dim
                new BatchedGemm(new int[] {4}, new int[] {4}, new int[] {4}, 200, 64, 200)); // larger, batched
    }

    Stream<Arguments> sizeCases() { return IntStream.of(sizes()).mapToObj(Arguments::of); }

    /**
     * (batch, tokens, heads, head width) for the fused MSSA tests: one token, single heads, odd token counts around
     * a vector and a micro-tile, and a crate-tiny head (197 tokens, width 64).
     */
    protected List<int[]> mssaShapes() {
        return List.of(new int[] {1, 1, 1, 1}, new int[] {2, 3, 1, 17}, new int[] {2, 17, 3, 5},
                new int[] {1, 63, 2, 33}, new int[] {3, 65, 4, 16}, new int[] {1, 197, 2, 64});
    }

    Stream<Arguments> mssaCases() { return mssaShapes().stream().map(s -> Arguments.of(s[0], s[1], s[2], s[3])); }

    Stream<Arguments> unaryCases() {
        return Stream.of(UnaryOp.values()).flatMap(op -> IntStream.of(sizes()).mapToObj(n -> Arguments.of(op, n)));
    }

    Stream<Arguments> binaryCases() {
        return Stream.of(BinaryOp.values()).flatMap(op -> IntStream.of(sizes()).mapToObj(n -> Arguments.of(op, n)));
    }

    Stream<Arguments> reduceCases() {
        return Stream.of(ReduceOp.values()).flatMap(op -> IntStream.of(sizes()).mapToObj(n -> Arguments.of(op, n)));
    }

    Stream<Arguments> smoothingCases() {
        return Stream.of(0f, 0.1f).flatMap(s -> IntStream.of(sizes()).mapToObj(n -> Arguments.of(n, s)));
    }

    Stream<Arguments> gemmCases() { return gemmShapes().stream().map(s -> Arguments.of(s[0], s[1], s[2])); }

    Stream<Arguments> gemmViewCases() { return gemmViewShapes().stream().map(s -> Arguments.of(s[0], s[1], s[2])); }

    Stream<Arguments> gemmAlphaBetaCases() {
        return gemmAlphaBetaShapes().stream().map(s -> Arguments.of(s[0], s[1], s[2]));
    }

    Stream<Arguments> batchedGemmArgs() { return batchedGemmCases().stream().map(Arguments::of); }

    // ---- comparison -------------------------------------------------------------------------------------------

    /**
     * Fails unless |actual[i] − expected[i]| ≤ atol + rtol·|expected[i]| for every i (NaN and ±∞ must match
     * exactly). The message names {@code what} (the op and shapes), how many elements are out, the worst index, the
     * expected and actual values there, and the bound.
     */
    public static void assertClose(String what, float[] expected, float[] actual, double atol, double rtol) {
        assertClose(what, null, expected, actual, atol, rtol);
    }

    /** As {@link #assertClose(String, float[], float[], double, double)}; the worst index is also given in shape. */
    public static void assertClose(String what, int[] shape, float[] expected, float[] actual, double atol,
                                   double rtol) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " values, got " + actual.length);
        }
        int bad = 0, worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            double ratio;
            if (!Float.isFinite(e) || !Float.isFinite(a)) {
                ratio = (e == a || (Float.isNaN(e) && Float.isNaN(a))) ? 0 : Double.POSITIVE_INFINITY;
            } else {
                double err = Math.abs((double) a - e), bound = atol + rtol * Math.abs(e);
                ratio = err == 0 ? 0 : bound == 0 ? Double.POSITIVE_INFINITY : err / bound;
            }
            if (ratio > 1) {
                bad++;
                if (worst < 0 || ratio > worstRatio) { worst = i; worstRatio = ratio; }
            }
        }
        if (bad > 0) {
            String where = shape == null || Shapes.numel(shape) != expected.length ? ""
                    : " " + Arrays.toString(unravel(worst, shape));
            fail(String.format("%s: %d of %d elements outside |actual - expected| <= %.3g + %.3g*|expected|;"
                            + " worst at index %d%s: expected %s, actual %s (error %.3g, %.3g x the bound)",
                    what, bad, expected.length, atol, rtol, worst, where, expected[worst], actual[worst],
                    Math.abs((double) actual[worst] - expected[worst]), worstRatio));
        }
    }

    /** Row-wise {@link #assertClose}: row r of width {@code width} is held to {@code atolPerRow[r]}. */
    public static void assertRowsClose(String what, int width, float[] expected, float[] actual,
                                       double[] atolPerRow, double rtol) {
        assertEquals(expected.length, actual.length, what + ": element count");
        for (int r = 0; r < atolPerRow.length; r++) {
            assertClose(what + " row " + r, Arrays.copyOfRange(expected, r * width, (r + 1) * width),
                    Arrays.copyOfRange(actual, r * width, (r + 1) * width), atolPerRow[r], rtol);
        }
    }

    private static int[] unravel(long linear, int[] shape) {
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = (int) (linear % shape[d]);
            linear /= shape[d];
        }
        return idx;
    }

    /** Compares the backend's tensor with the oracle's after the same op. */
    protected final void assertPairClose(String what, Pair p, double atol, double rtol) {
        assertClose(what, p.shape(), oracle.toArray(p.ref()), b().toArray(p.mine()), atol, rtol);
    }

    /** Asserts {@code call} throws an IllegalArgumentException whose message contains every one of {@code words}. */
    public static IllegalArgumentException assertRejects(Executable call, String... words) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        String msg = String.valueOf(e.getMessage());
        for (String w : words) {
            assertTrue(msg.contains(w), () -> "message \"" + msg + "\" should name \"" + w + "\"");
        }
        return e;
    }

    // ---- data -------------------------------------------------------------------------------------------------

    /** A seeded generator keyed by the test and its parameters. */
    protected static SplittableRandom rng(Object... key) {
        return new SplittableRandom(0x5EEDC0DE_1234L ^ (0x9E3779B97F4A7C15L * Arrays.deepHashCode(key)));
    }

    /** Normal values with standard deviation {@code std}, never zero (|v| ≥ 1e-3·std). */
    protected static float[] normal(SplittableRandom r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double g = r.nextGaussian() * std;
            if (Math.abs(g) < 1e-3 * std) g = Math.copySign(1e-3 * std, g);
            v[i] = (float) g;
        }
        return v;
    }

    /** Uniform in [lo, hi), never zero. */
    protected static float[] uniform(SplittableRandom r, int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            float x;
            do { x = (float) r.nextDouble(lo, hi); } while (x == 0f);
            v[i] = x;
        }
        return v;
    }

    /** Magnitudes uniform in [min, max) with random signs: away from a kink or singularity at 0. */
    protected static float[] signed(SplittableRandom r, int n, double min, double max) {
        float[] v = uniform(r, n, min, max);
        for (int i = 0; i < n; i++) if (r.nextBoolean()) v[i] = -v[i];
        return v;
    }

    protected static double maxAbs(float[] v) {
        double m = 0;
        for (float x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    protected static double rms(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        return v.length == 0 ? 0 : Math.sqrt(s / v.length);
    }

    protected static int size(int... shape) { return (int) Shapes.numel(shape); }

    protected static String s(int... shape) { return Arrays.toString(shape); }

    protected static int[] concatShape(int[] a, int... b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** The same logical tensor on the backend under test and on the oracle. */
    public record Pair(Tensor mine, Tensor ref) {
        public Pair map(UnaryOperator<Tensor> f) { return new Pair(f.apply(mine), f.apply(ref)); }

        public int[] shape() { return ref.shape(); }
    }

    /** Contiguous tensors holding {@code data} on both backends. */
    protected final Pair pair(float[] data, int... shape) {
        return new Pair(b().fromArray(data, shape), oracle.fromArray(data, shape));
    }

    /** Contiguous tensors full of NaN: an output slot an op must overwrite completely. */
    protected final Pair nans(int... shape) {
        float[] d = new float[size(shape)];
        Arrays.fill(d, Float.NaN);
        return pair(d, shape);
    }

    /**
     * A non-contiguous view of {@code shape} holding {@code data}: every element sits at an even storage index of a
     * [...shape, 2] buffer whose odd slots hold NaN, and the view's dims are permuted back so every stride is a
     * non-unit even number. An op that reads the wrong storage slot picks up NaN.
     */
    protected final Pair stridedPair(float[] data, int... shape) {
        float[] base = new float[2 * data.length];
        for (int i = 0; i < data.length; i++) { base[2 * i] = data[i]; base[2 * i + 1] = Float.NaN; }
        return pair(base, concatShape(shape, 2)).map(t -> stridedView(t, shape.length));
    }

    /** {@code base} of shape [...s, 2] viewed as s at trailing index 0. */
    protected static Tensor stridedView(Tensor base, int rank) {
        Tensor t = base.transpose(0, rank).select(0);   // [s1 … s_{r−1}, s0]
        for (int i = rank - 1; i >= 1; i--) t = t.transpose(i, i - 1);
        return t;
    }

    /** A dense copy of a view pair's contents (what a "materialised" input looks like). */
    protected final Pair materialise(Pair view) { return pair(oracle.toArray(view.ref()), view.shape()); }

    // =================================================================================================================
    // GEMM
    // =================================================================================================================

    private static final boolean[] BOOLS = {false, true};

    private static int[] aShape(int[] batch, int m, int k, boolean transA) {
        return concatShape(batch, transA ? new int[] {k, m} : new int[] {m, k});
    }

    private static int[] bShape(int[] batch, int k, int n, boolean transB) {
        return concatShape(batch, transB ? new int[] {n, k} : new int[] {k, n});
    }

    /** The GEMM atol (see {@link #GEMM_ATOL_PER_SQRT_K}). */
    protected static double gemmAtol(int k, float alpha, float[] a, float[] b, float beta, float[] c0) {
        double cTerm = beta == 0f || c0 == null ? 0 : ELEMENTWISE_RTOL * Math.abs(beta) * maxAbs(c0);
        return GEMM_ATOL_PER_SQRT_K * Math.sqrt(Math.max(k, 1)) * Math.abs(alpha) * rms(a) * rms(b) + cTerm;
    }

    private void gemmBoth(float alpha, Pair a, boolean ta, Pair bb, boolean tb, float beta, Pair c) {
        b().gemm(alpha, a.mine(), ta, bb.mine(), tb, beta, c.mine());
        oracle.gemm(alpha, a.ref(), ta, bb.ref(), tb, beta, c.ref());
    }

    private static String gemmWhat(float alpha, Pair a, boolean ta, Pair b, boolean tb, float beta, Pair c) {
        return "gemm " + alpha + "·A" + s(a.shape()) + (ta ? "ᵀ" : "") + "·B" + s(b.shape()) + (tb ? "ᵀ" : "")
                + " + " + beta + "·C" + s(c.shape());
    }

    @ParameterizedTest(name = "M={0} K={1} N={2}")
    @MethodSource("gemmCases")
    void gemmAllTransposeFlagsMatchOracle(int m, int k, int n) {
        SplittableRandom r = rng("gemm", m, k, n);
        float[] ad = normal(r, m * k, 1), bd = normal(r, k * n, 1);
        for (boolean ta : BOOLS) {
            for (boolean tb : BOOLS) {
                Pair a = pair(ad, aShape(new int[0], m, k, ta)), bb = pair(bd, bShape(new int[0], k, n, tb));
                Pair c = nans(m, n);
                gemmBoth(1f, a, ta, bb, tb, 0f, c);
                assertPairClose(gemmWhat(1f, a, ta, bb, tb, 0f, c), c, gemmAtol(k, 1f, ad, bd, 0f, null), GEMM_RTOL);
            }
        }
    }

    /**
     * Views as inputs: the backend given a view must produce what the oracle produces from the materialised (dense)
     * tensor, e.g. {@code a.transpose()} with transA=false equals the materialised transpose.
     */
    @ParameterizedTest(name = "M={0} K={1} N={2}")
    @MethodSource("gemmViewCases")
    void gemmViewInputsEqualMaterialisedInputs(int m, int k, int n) {
        SplittableRandom r = rng("gemmViews", m, k, n);
        float[] ad = normal(r, 3 * (m + 3) * (k + 5), 1), bd = normal(r, 3 * (k + 5) * (n + 7), 1);
        List<String> names = new ArrayList<>();
        List<Pair[]> cases = new ArrayList<>();       // {A view, B view}
        List<boolean[]> flags = new ArrayList<>();    // {transA, transB}
        // A as the transpose of a [K, M] tensor, transA = false
        names.add("A = ([K,M])ᵀ view");
        cases.add(new Pair[] {pair(Arrays.copyOf(ad, k * m), k, m).map(Tensor::transpose),
                pair(Arrays.copyOf(bd, k * n), k, n)});
        flags.add(new boolean[] {false, false});
        // B as the transpose of an [N, K] tensor, transB = false
        names.add("B = ([N,K])ᵀ view");
        cases.add(new Pair[] {pair(Arrays.copyOf(ad, m * k), m, k),
                pair(Arrays.copyOf(bd, n * k), n, k).map(Tensor::transpose)});
        flags.add(new boolean[] {false, false});
        // transposed views with the transpose flags set (double transposition)
        names.add("Aᵀ view with transA, Bᵀ view with transB");
        cases.add(new Pair[] {pair(Arrays.copyOf(ad, m * k), m, k).map(Tensor::transpose),
                pair(Arrays.copyOf(bd, k * n), k, n).map(Tensor::transpose)});
        flags.add(new boolean[] {true, true});
        // windows into larger tensors: offsets and row strides wider than the row
        names.add("A, B windows of larger tensors");
        cases.add(new Pair[] {
                pair(Arrays.copyOf(ad, (m + 3) * (k + 5)), m + 3, k + 5).map(t -> t.slice(0, 2, m + 2).slice(1, 3, k + 3)),
                pair(Arrays.copyOf(bd, (k + 5) * (n + 7)), k + 5, n + 7).map(t -> t.slice(0, 1, k + 1).slice(1, 4, n + 4))});
        flags.add(new boolean[] {false, false});
        // selected matrices of a 3-d tensor (offset), B transposed by flag
        names.add("A = [3,M,K].select(1), B = [3,N,K].select(2) with transB");
        cases.add(new Pair[] {pair(Arrays.copyOf(ad, 3 * m * k), 3, m, k).map(t -> t.select(1)),
                pair(Arrays.copyOf(bd, 3 * n * k), 3, n, k).map(t -> t.select(2))});
        flags.add(new boolean[] {false, true});
        // no unit stride at all: every element at an even storage index
        names.add("A, B with all strides even (no unit stride)");
        cases.add(new Pair[] {stridedPair(Arrays.copyOf(ad, m * k), m, k), stridedPair(Arrays.copyOf(bd, k * n), k, n)});
        flags.add(new boolean[] {false, false});
        names.add("strided A with transA, strided B with transB");
        cases.add(new Pair[] {stridedPair(Arrays.copyOf(ad, m * k), k, m), stridedPair(Arrays.copyOf(bd, k * n), n, k)});
        flags.add(new boolean[] {true, true});

        for (int i = 0; i < cases.size(); i++) {
            Pair a = cases.get(i)[0], bb = cases.get(i)[1];
            boolean ta = flags.get(i)[0], tb = flags.get(i)[1];
            Pair aDense = materialise(a), bDense = materialise(bb);
            Pair cView = nans(m, n), cDense = nans(m, n);
            b().gemm(1f, a.mine(), ta, bb.mine(), tb, 0f, cView.mine());
            oracle.gemm(1f, aDense.ref(), ta, bDense.ref(), tb, 0f, cDense.ref());
            float[] aVals = oracle.toArray(a.ref()), bVals = oracle.toArray(bb.ref());
            assertClose(gemmWhat(1f, a, ta, bb, tb, 0f, cView) + " [" + names.get(i) + "] vs materialised inputs",
                    cView.shape(), oracle.toArray(cDense.ref()), b().toArray(cView.mine()),
                    gemmAtol(k, 1f, aVals, bVals, 0f, null), GEMM_RTOL);
        }
    }

    @ParameterizedTest(name = "M={0} K={1} N={2}")
    @MethodSource("gemmAlphaBetaCases")
    void gemmAlphaBeta(int m, int k, int n) {
        SplittableRandom r = rng("gemmAlphaBeta", m, k, n);
        float[] ad = normal(r, m * k, 1), bd = normal(r, k * n, 1), cd = normal(r, m * n, 1);
        float[] nan = new float[m * n], inf = new float[m * n];
        Arrays.fill(nan, Float.NaN);
        Arrays.fill(inf, Float.POSITIVE_INFINITY);
        float[][] alphaBeta = {{0.5f, 0f}, {1f, 1f}, {-2f, 0.75f}, {1.5f, 0f}, {0f, 1f}, {1f, -1f}};
        float[][] c0s = {nan, cd, cd, inf, cd, cd};
        for (int i = 0; i < alphaBeta.length; i++) {
            for (boolean ta : BOOLS) {
                float alpha = alphaBeta[i][0], beta = alphaBeta[i][1];
                Pair a = pair(ad, aShape(new int[0], m, k, ta)), bb = pair(bd, bShape(new int[0], k, n, !ta));
                Pair c = pair(c0s[i], m, n);
                gemmBoth(alpha, a, ta, bb, !ta, beta, c);
                String what = gemmWhat(alpha, a, ta, bb, !ta, beta, c) + (beta == 0f ? " (C held " + c0s[i][0] + ")" : "");
                float[] got = b().toArray(c.mine());
                if (beta == 0f) {
                    for (int j = 0; j < got.length; j++) {
                        if (!Float.isFinite(got[j])) fail(what + ": β = 0 must overwrite C, but C[" + j + "] = " + got[j]);
                    }
                }
                assertPairClose(what, c, gemmAtol(k, alpha, ad, bd, beta, c0s[i]), GEMM_RTOL);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("batchedGemmArgs")
    void batchedGemmBroadcastsBatchDims(BatchedGemm g) {
        SplittableRandom r = rng("batchedGemm", g.toString());
        float[] ad = normal(r, size(g.aBatch()) * g.m() * g.k(), 1), bd = normal(r, size(g.bBatch()) * g.k() * g.n(), 1);
        for (boolean ta : BOOLS) {
            for (boolean tb : BOOLS) {
                Pair a = pair(ad, aShape(g.aBatch(), g.m(), g.k(), ta));
                Pair bb = pair(bd, bShape(g.bBatch(), g.k(), g.n(), tb));
                Pair c = nans(concatShape(g.cBatch(), g.m(), g.n()));
                gemmBoth(1f, a, ta, bb, tb, 0f, c);
                assertPairClose(gemmWhat(1f, a, ta, bb, tb, 0f, c), c, gemmAtol(g.k(), 1f, ad, bd, 0f, null), GEMM_RTOL);
            }
        }
        // batched views: B as a transposed view of [..., N, K], A as a window of a wider [..., M, K+3] tensor
        float[] aw = normal(r, size(g.aBatch()) * g.m() * (g.k() + 3), 1);
        int last = g.aBatch().length + 1;
        Pair a = pair(aw, concatShape(g.aBatch(), g.m(), g.k() + 3)).map(t -> t.slice(last, 2, g.k() + 2));
        Pair bb = pair(bd, bShape(g.bBatch(), g.k(), g.n(), true)).map(Tensor::transpose);
        Pair c = nans(concatShape(g.cBatch(), g.m(), g.n()));
        Pair cDense = nans(concatShape(g.cBatch(), g.m(), g.n()));
        b().gemm(1f, a.mine(), false, bb.mine(), false, 0f, c.mine());
        oracle.gemm(1f, materialise(a).ref(), false, materialise(bb).ref(), false, 0f, cDense.ref());
        assertClose(gemmWhat(1f, a, false, bb, false, 0f, c) + " [window A, transposed-view B] vs materialised",
                c.shape(), oracle.toArray(cDense.ref()), b().toArray(c.mine()),
                gemmAtol(g.k(), 1f, aw, bd, 0f, null), GEMM_RTOL);
    }

    // =================================================================================================================
    // elementwise
    // =================================================================================================================

    /** Inputs in each op's domain: positive for LOG/SQRT/RECIPROCAL, |x| ≥ 0.05 for the kinks of RELU/ABS. */
    protected static float[] unaryInput(UnaryOp op, SplittableRandom r, int n) {
        return switch (op) {
            case LOG, SQRT, RECIPROCAL -> uniform(r, n, 0.05, 5.0);
            case RELU, ABS, SIGN -> signed(r, n, 0.05, 4.0);
            case EXP, TANH, SIGMOID, GELU -> normal(r, n, 3.0);   // reaches the tails
            default -> normal(r, n, 2.0);
        };
    }

    /** {atol, rtol} for unary(op): exact selections, correctly rounded algebra, or transcendental with a floor. */
    protected static double[] unaryBounds(UnaryOp op) {
        return switch (op) {
            case NEG, ABS, RELU, SIGN -> new double[] {EXACT, EXACT};
            case SQUARE, RECIPROCAL, SQRT -> new double[] {0, ELEMENTWISE_RTOL};
            case EXP, LOG, TANH, SIGMOID, GELU -> new double[] {TRANSCENDENTAL_ATOL, TRANSCENDENTAL_RTOL};
        };
    }

    /** {atol, rtol} for unaryBackward(op), with atol scaled by max|dy|. */
    protected static double[] unaryBackwardBounds(UnaryOp op, double dyScale) {
        return switch (op) {
            case NEG, ABS, RELU, SIGN -> new double[] {EXACT, EXACT};
            case SQUARE, RECIPROCAL, SQRT, LOG -> new double[] {0, ELEMENTWISE_RTOL};
            case EXP, TANH, SIGMOID, GELU -> new double[] {TRANSCENDENTAL_ATOL * dyScale, TRANSCENDENTAL_RTOL};
        };
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("unaryCases")
    void unaryMatchesOracle(UnaryOp op, int n) {
        SplittableRandom r = rng("unary", op, n);
        float[] xd = unaryInput(op, r, 3 * n);
        double[] bound = unaryBounds(op);
        for (Pair x : List.of(pair(Arrays.copyOf(xd, n), n), stridedPair(xd, 3, n),
                pair(xd, n, 3).map(Tensor::transpose))) {
            Pair out = nans(x.shape());
            b().unary(op, x.mine(), out.mine());
            oracle.unary(op, x.ref(), out.ref());
            assertPairClose("unary " + op + " x" + s(x.shape()) + " strides " + s(x.mine().strides()), out,
                    bound[0], bound[1]);
        }
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("unaryCases")
    void unaryBackwardMatchesOracle(UnaryOp op, int n) {
        SplittableRandom r = rng("unaryBackward", op, n);
        float[] xd = unaryInput(op, r, 3 * n), dyd = normal(r, 3 * n, 1);
        double[] bound = unaryBackwardBounds(op, maxAbs(dyd));
        List<Pair[]> cases = List.of(
                new Pair[] {pair(Arrays.copyOf(xd, n), n), pair(Arrays.copyOf(dyd, n), n)},
                new Pair[] {stridedPair(xd, 3, n), pair(dyd, n, 3).map(Tensor::transpose)});
        for (Pair[] c : cases) {
            Pair dx = nans(c[0].shape());
            b().unaryBackward(op, c[0].mine(), c[1].mine(), dx.mine());
            oracle.unaryBackward(op, c[0].ref(), c[1].ref(), dx.ref());
            assertPairClose("unaryBackward " + op + " x" + s(c[0].shape()) + " strides " + s(c[0].mine().strides())
                    + ", dy strides " + s(c[1].mine().strides()), dx, bound[0], bound[1]);
        }
    }

    /** One broadcasting case of a binary op. */
    private record BinaryShapes(String name, Pair a, Pair b) {}

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("binaryCases")
    void binaryBroadcastsLikeNumpy(BinaryOp op, int n) {
        SplittableRandom r = rng("binary", op, n);
        int big = Math.max(5 * n, 12);
        float[] ad = normal(r, big, 2);
        // divisors away from zero
        float[] bd = op == BinaryOp.DIV ? signed(r, big, 0.25, 3.0) : normal(r, big, 2);
        List<BinaryShapes> cases = List.of(
                new BinaryShapes("[n]+[n]", pair(Arrays.copyOf(ad, n), n), pair(Arrays.copyOf(bd, n), n)),
                new BinaryShapes("[r,c]+[c]", pair(Arrays.copyOf(ad, 5 * n), 5, n), pair(Arrays.copyOf(bd, n), n)),
                new BinaryShapes("[c]+[r,c]", pair(Arrays.copyOf(ad, n), n), pair(Arrays.copyOf(bd, 5 * n), 5, n)),
                new BinaryShapes("[r,1]+[1,c]", pair(Arrays.copyOf(ad, n), n, 1), pair(Arrays.copyOf(bd, 4), 1, 4)),
                new BinaryShapes("[r,1]+[1,c] (c=n)", pair(Arrays.copyOf(ad, 3), 3, 1), pair(Arrays.copyOf(bd, n), 1, n)),
                new BinaryShapes("[a,1,c]+[b,1]", pair(Arrays.copyOf(ad, 2 * n), 2, 1, n), pair(Arrays.copyOf(bd, 3), 3, 1)),
                new BinaryShapes("[n]+[1]", pair(Arrays.copyOf(ad, n), n), pair(Arrays.copyOf(bd, 1), 1)),
                new BinaryShapes("[1]+[r,c]", pair(Arrays.copyOf(ad, 1), 1), pair(Arrays.copyOf(bd, 3 * n), 3, n)),
                new BinaryShapes("[r,c]ᵀview+[c]", pair(Arrays.copyOf(ad, 5 * n), n, 5).map(Tensor::transpose),
                        pair(Arrays.copyOf(bd, n), n)),
                new BinaryShapes("strided[r,c]+strided[r,c]", stridedPair(Arrays.copyOf(ad, 3 * n), 3, n),
                        stridedPair(Arrays.copyOf(bd, 3 * n), 3, n)),
                new BinaryShapes("[r,c]+strided[r,1]", pair(Arrays.copyOf(ad, 3 * n), 3, n),
                        stridedPair(Arrays.copyOf(bd, 3), 3, 1)));
        double[] bound = switch (op) {
            case MAX, MIN -> new double[] {EXACT, EXACT};
            case ADD, SUB, MUL, DIV -> new double[] {0, ELEMENTWISE_RTOL};
        };
        for (BinaryShapes c : cases) {
            Pair out = nans(Shapes.broadcast("test", c.a().shape(), c.b().shape()));
            b().binary(op, c.a().mine(), c.b().mine(), out.mine());
            oracle.binary(op, c.a().ref(), c.b().ref(), out.ref());
            assertPairClose("binary " + op + " " + c.name() + " a" + s(c.a().shape()) + " b" + s(c.b().shape()),
                    out, bound[0], bound[1]);
        }
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void affineMatchesOracle(int n) {
        SplittableRandom r = rng("affine", n);
        float[] xd = normal(r, 3 * n, 2);
        float[][] scaleShift = {{1.7f, -0.3f}, {-3f, 0f}, {0.5f, 100f}, {1f, 2.5f}};
        for (float[] ss : scaleShift) {
            // FMA versus multiply-then-add differ by an ulp of x·scale, which may exceed an ulp of the result
            double atol = ELEMENTWISE_RTOL * maxAbs(xd) * Math.abs(ss[0]);
            for (Pair x : List.of(pair(Arrays.copyOf(xd, n), n), stridedPair(xd, 3, n))) {
                Pair out = nans(x.shape());
                b().affine(x.mine(), ss[0], ss[1], out.mine());
                oracle.affine(x.ref(), ss[0], ss[1], out.ref());
                assertPairClose("affine x" + s(x.shape()) + " strides " + s(x.mine().strides()) + " scale " + ss[0]
                        + " shift " + ss[1], out, atol, ELEMENTWISE_RTOL);
            }
        }
    }

    /**
     * Backend.java: the elementwise ops may write over an input of the output's own shape and layout. Each is run
     * in place on a contiguous row at an offset (row 1 of [3, n]) and must equal the oracle's out-of-place result.
     */
    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void elementwiseOpsWorkInPlace(int n) {
        SplittableRandom r = rng("inPlace", n);
        for (UnaryOp op : UnaryOp.values()) {
            float[] xd = unaryInput(op, r, 3 * n), dyd = normal(r, 3 * n, 1);
            float[] xRow = Arrays.copyOfRange(xd, n, 2 * n), dyRow = Arrays.copyOfRange(dyd, n, 2 * n);
            double[] bound = unaryBounds(op), bBound = unaryBackwardBounds(op, maxAbs(dyd));
            Pair expected = nans(n), expectedDx = nans(n);
            oracle.unary(op, oracle.fromArray(xRow, n), expected.ref());
            oracle.unaryBackward(op, oracle.fromArray(xRow, n), oracle.fromArray(dyRow, n), expectedDx.ref());

            Tensor x = b().fromArray(xd, 3, n);
            b().unary(op, x.select(1), x.select(1));
            assertClose("unary " + op + " in place on row 1 of [3, " + n + "]", oracle.toArray(expected.ref()),
                    b().toArray(x.select(1)), bound[0], bound[1]);
            assertArrayEquals(Arrays.copyOf(xd, n), b().toArray(x.select(0)), "unary " + op + " wrote outside its row");

            Tensor xs = b().fromArray(xd, 3, n), dy = b().fromArray(dyd, 3, n);
            b().unaryBackward(op, xs.select(1), dy.select(1), dy.select(1));
            assertClose("unaryBackward " + op + " in place over dy", oracle.toArray(expectedDx.ref()),
                    b().toArray(dy.select(1)), bBound[0], bBound[1]);
            Tensor dy2 = b().fromArray(dyd, 3, n);
            b().unaryBackward(op, xs.select(1), dy2.select(1), xs.select(1));
            assertClose("unaryBackward " + op + " in place over x", oracle.toArray(expectedDx.ref()),
                    b().toArray(xs.select(1)), bBound[0], bBound[1]);
        }
        for (BinaryOp op : BinaryOp.values()) {
            float[] ad = normal(r, 3 * n, 2);
            float[] bd = op == BinaryOp.DIV ? signed(r, 3 * n, 0.25, 3.0) : normal(r, 3 * n, 2);
            double rtol = op == BinaryOp.MAX || op == BinaryOp.MIN ? EXACT : ELEMENTWISE_RTOL;
            Pair expected = nans(3, n);
            float[] bRow = Arrays.copyOf(bd, n);
            oracle.binary(op, oracle.fromArray(ad, 3, n), oracle.fromArray(bRow, n), expected.ref());
            Tensor a = b().fromArray(ad, 3, n);
            b().binary(op, a, b().fromArray(bRow, n), a);          // out over a, b broadcast
            assertClose("binary " + op + " in place over a[3, n] with b[n]", oracle.toArray(expected.ref()),
                    b().toArray(a), 0, rtol);
            Pair expectedRow = nans(n);
            oracle.binary(op, oracle.fromArray(Arrays.copyOfRange(ad, n, 2 * n), n),
                    oracle.fromArray(Arrays.copyOfRange(bd, n, 2 * n), n), expectedRow.ref());
            Tensor a2 = b().fromArray(ad, 3, n), b2 = b().fromArray(bd, 3, n);
            b().binary(op, a2.select(1), b2.select(1), b2.select(1));   // out over b, at an offset
            assertClose("binary " + op + " in place over b (row 1)", oracle.toArray(expectedRow.ref()),
                    b().toArray(b2.select(1)), 0, rtol);
        }
        float[] xd = normal(r, 3 * n, 2);
        Pair expected = nans(n);
        oracle.affine(oracle.fromArray(Arrays.copyOfRange(xd, n, 2 * n), n), -1.5f, 0.25f, expected.ref());
        Tensor x = b().fromArray(xd, 3, n);
        b().affine(x.select(1), -1.5f, 0.25f, x.select(1));
        assertClose("affine in place on row 1", oracle.toArray(expected.ref()), b().toArray(x.select(1)),
                ELEMENTWISE_RTOL * 1.5 * maxAbs(xd), ELEMENTWISE_RTOL);
    }

    // =================================================================================================================
    // reductions
    // =================================================================================================================

    /** {atol, rtol} for reducing {@code len} values of rms size {@code rms} (see {@link #ACCUM_RTOL_PER_SQRT_N}). */
    protected static double[] reduceBounds(ReduceOp op, int len, double rms) {
        double acc = ACCUM_RTOL_PER_SQRT_N * Math.sqrt(len);
        return switch (op) {
            case MAX -> new double[] {EXACT, EXACT};
            // partial sums of random-sign terms are ~√len·rms
            case SUM -> new double[] {acc * Math.sqrt(len) * rms, acc};
            case MEAN -> new double[] {acc * rms / Math.sqrt(len), acc};
        };
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("reduceCases")
    void reduceEachAxisKeepAndDropDim(ReduceOp op, int n) {
        SplittableRandom r = rng("reduce", op, n);
        int[][] shapes = {{n, 3, 5}, {3, n, 5}, {5, 3, n}};
        for (int[] shape : shapes) {
            float[] xd = normal(r, size(shape), 1.5);
            List<Pair> inputs = List.of(pair(xd, shape), stridedPair(xd, shape),
                    pair(xd, shape[2], shape[1], shape[0]).map(t -> t.transpose(0, 2)));
            for (Pair x : inputs) {
                for (int axis = 0; axis < 3; axis++) {
                    double[] bound = reduceBounds(op, shape[axis], rms(xd));
                    for (boolean keep : BOOLS) {
                        int[] outShape = keep ? Shapes.keep(shape, axis) : Shapes.drop(shape, axis);
                        int ax = axis == 2 && keep ? -1 : axis;    // a negative axis too
                        Pair out = nans(outShape);
                        b().reduce(op, x.mine(), ax, out.mine());
                        oracle.reduce(op, x.ref(), ax, out.ref());
                        assertPairClose("reduce " + op + " x" + s(shape) + " strides " + s(x.mine().strides())
                                + " axis " + ax + " → " + s(outShape), out, bound[0], bound[1]);
                    }
                }
            }
        }
    }

    // =================================================================================================================
    // softmax family
    // =================================================================================================================

    /**
     * Four rows of width c: ordinary logits, all in [80, 120] (exp overflows float without max-subtraction), all in
     * [−120, −80] (exp underflows to 0/0 without it), and ±(70..90) mixed.
     */
    protected static float[] softmaxLogits(SplittableRandom r, int c) {
        float[] x = new float[4 * c];
        System.arraycopy(normal(r, c, 3), 0, x, 0, c);
        System.arraycopy(uniform(r, c, 80, 120), 0, x, c, c);
        System.arraycopy(uniform(r, c, -120, -80), 0, x, 2 * c, c);
        System.arraycopy(signed(r, c, 70, 90), 0, x, 3 * c, c);
        return x;
    }

    @ParameterizedTest(name = "C={0}")
    @MethodSource("sizeCases")
    void softmaxAndLogSoftmaxMatchOracle(int c) {
        SplittableRandom r = rng("softmax", c);
        float[] xd = softmaxLogits(r, c);
        double acc = ACCUM_RTOL_PER_SQRT_N * Math.sqrt(c);
        List<Pair> inputs = List.of(pair(xd, 2, 2, c), stridedPair(xd, 4, c), pair(xd, c, 4).map(Tensor::transpose));
        for (Pair x : inputs) {
            // the transposed view holds other numbers (the storage read column-wise) but stays a valid input
            Pair out = nans(x.shape());
            b().softmax(x.mine(), out.mine());
            oracle.softmax(x.ref(), out.ref());
            assertPairClose("softmax x" + s(x.shape()) + " strides " + s(x.mine().strides()), out,
                    PROBABILITY_ATOL, TRANSCENDENTAL_RTOL + acc);
            Pair logOut = nans(x.shape());
            b().logSoftmax(x.mine(), logOut.mine());
            oracle.logSoftmax(x.ref(), logOut.ref());
            // log Σ exp has absolute error ≈ rel. error of the sum + transcendental error of a log ≤ ln C + 1
            assertPairClose("logSoftmax x" + s(x.shape()) + " strides " + s(x.mine().strides()), logOut,
                    acc + TRANSCENDENTAL_RTOL * (1 + Math.log(c)), TRANSCENDENTAL_RTOL);
        }
    }

    @ParameterizedTest(name = "C={0}")
    @MethodSource("sizeCases")
    void softmaxBackwardsMatchOracle(int c) {
        SplittableRandom r = rng("softmaxBackward", c);
        float[] xd = softmaxLogits(r, c), dyd = normal(r, 4 * c, 1);
        double acc = ACCUM_RTOL_PER_SQRT_N * Math.sqrt(c);
        Pair x = pair(xd, 4, c);
        Pair y = nans(4, c), logY = nans(4, c);
        oracle.softmax(x.ref(), y.ref());
        oracle.logSoftmax(x.ref(), logY.ref());
        float[] yd = oracle.toArray(y.ref()), logYd = oracle.toArray(logY.ref());
        double dyMax = maxAbs(dyd);
        for (boolean strided : BOOLS) {
            Pair yIn = strided ? stridedPair(yd, 4, c) : pair(yd, 2, 2, c);
            Pair logYIn = strided ? stridedPair(logYd, 4, c) : pair(logYd, 2, 2, c);
            Pair dy = strided ? stridedPair(dyd, 4, c) : pair(dyd, 2, 2, c);
            // dx = y ⊙ (dy − Σ dy ⊙ y): the weighted sum has partial sums ≤ max|dy|, and y ≤ 1
            Pair dx = nans(yIn.shape());
            b().softmaxBackward(yIn.mine(), dy.mine(), dx.mine());
            oracle.softmaxBackward(yIn.ref(), dy.ref(), dx.ref());
            assertPairClose("softmaxBackward y" + s(yIn.shape()) + " strides " + s(yIn.mine().strides()), dx,
                    (ELEMENTWISE_RTOL + acc) * dyMax, ELEMENTWISE_RTOL);
            // dx = dy − exp(y)·Σ dy: Σ dy of random signs has partial sums ~√C·rms(dy), up to |Σ dy| after exp
            double sumMax = 0;
            for (int row = 0; row < 4; row++) {
                double sum = 0;
                for (int j = 0; j < c; j++) sum += dyd[row * c + j];
                sumMax = Math.max(sumMax, Math.abs(sum));
            }
            Pair ldx = nans(logYIn.shape());
            b().logSoftmaxBackward(logYIn.mine(), dy.mine(), ldx.mine());
            oracle.logSoftmaxBackward(logYIn.ref(), dy.ref(), ldx.ref());
            assertPairClose("logSoftmaxBackward y" + s(logYIn.shape()) + " strides " + s(logYIn.mine().strides()),
                    ldx, ELEMENTWISE_RTOL * dyMax + TRANSCENDENTAL_RTOL * sumMax + acc * Math.sqrt(c) * rms(dyd),
                    ELEMENTWISE_RTOL);
        }
    }

    // =================================================================================================================
    // layerNorm
    // =================================================================================================================

    private static final int LN_ROWS = 6;

    /**
     * Six rows of width c; the last sits at mean 300 with std 1.5, where a one-pass E[x²] − E[x]² in float loses
     * about 4 of its 7 digits, while a two-pass (x − μ)² stays exact up to accumulation (x − μ is exact by Sterbenz).
     */
    private static float[] layerNormInput(SplittableRandom r, int c) {
        float[] x = normal(r, LN_ROWS * c, 1.5);
        for (int j = 0; j < c; j++) x[(LN_ROWS - 1) * c + j] += 300f;
        return x;
    }

    @ParameterizedTest(name = "C={0}")
    @MethodSource("sizeCases")
    void layerNormForwardMatchesOracle(int c) {
        SplittableRandom r = rng("layerNorm", c);
        float[] xd = layerNormInput(r, c), g = normal(r, c, 1), bt = normal(r, c, 0.5);
        float eps = 1e-5f;
        double acc = ACCUM_RTOL_PER_SQRT_N * Math.sqrt(c) + ELEMENTWISE_RTOL;
        for (Pair x : List.of(pair(xd, 2, 3, c), stridedPair(xd, LN_ROWS, c))) {
            Pair gamma = pair(g, c), beta = stridedPair(bt, c);
            Pair out = nans(x.shape()), mean = nans(2, 3), rstd = nans(LN_ROWS);
            b().layerNorm(x.mine(), gamma.mine(), beta.mine(), eps, out.mine(), mean.mine(), rstd.mine());
            oracle.layerNorm(x.ref(), gamma.ref(), beta.ref(), eps, out.ref(), mean.ref(), rstd.ref());
            String what = "layerNorm x" + s(x.shape()) + " strides " + s(x.mine().strides());
            float[] rs = oracle.toArray(rstd.ref()), mu = oracle.toArray(mean.ref());
            double[] meanAtol = new double[LN_ROWS], outAtol = new double[LN_ROWS];
            for (int row = 0; row < LN_ROWS; row++) {
                float[] xr = Arrays.copyOfRange(xd, row * c, (row + 1) * c);
                double xMax = maxAbs(xr);
                // the mean is a sum of c values / c: error ≲ acc·max|x|
                meanAtol[row] = acc * xMax;
                // out = x̂·γ + β: x̂ carries the rounding of x − μ (ulps of max|x|, times rstd) and of rstd
                double xhatMax = (xMax + Math.abs(mu[row])) * rs[row];
                outAtol[row] = acc * xhatMax * maxAbs(g) + ELEMENTWISE_RTOL * maxAbs(bt);
            }
            assertRowsClose(what + " mean", 1, mu, b().toArray(mean.mine()), meanAtol, acc);
            assertRowsClose(what + " rstd", 1, rs, b().toArray(rstd.mine()), new double[LN_ROWS], 2 * acc);
            assertRowsClose(what + " out", c, oracle.toArray(out.ref()), b().toArray(out.mine()), outAtol, acc);
        }
    }

    @ParameterizedTest(name = "C={0}")
    @MethodSource("sizeCases")
    void layerNormBackwardMatchesOracle(int c) {
        SplittableRandom r = rng("layerNormBackward", c);
        float[] xd = layerNormInput(r, c), g = normal(r, c, 1), bt = normal(r, c, 0.5), dyd = normal(r, LN_ROWS * c, 1);
        float eps = 1e-5f;
        Pair out = nans(LN_ROWS, c), meanP = nans(LN_ROWS), rstdP = nans(LN_ROWS);
        oracle.layerNorm(oracle.fromArray(xd, LN_ROWS, c), oracle.fromArray(g, c), oracle.fromArray(bt, c), eps,
                out.ref(), meanP.ref(), rstdP.ref());
        // backward is tested in isolation: both backends get the oracle's saved mean and rstd
        float[] mu = oracle.toArray(meanP.ref()), rs = oracle.toArray(rstdP.ref());
        double acc = ACCUM_RTOL_PER_SQRT_N * Math.sqrt(c) + ELEMENTWISE_RTOL;
        double[] dxAtol = new double[LN_ROWS];
        double paramScale = 0, xhatErrMax = 0;
        for (int row = 0; row < LN_ROWS; row++) {
            double xMax = 0, xhatMax = 0, dhatMax = 0;
            for (int j = 0; j < c; j++) {
                float xv = xd[row * c + j];
                xMax = Math.max(xMax, Math.abs(xv));
                xhatMax = Math.max(xhatMax, Math.abs((xv - mu[row]) * (double) rs[row]));
                dhatMax = Math.max(dhatMax, Math.abs(dyd[row * c + j] * (double) g[j]));
            }
            // x̂ = (x − μ)·rstd carries ulps of max|x| and |μ| (times rstd); the two row means carry acc
            double xhatErr = 4 * U * (xMax + Math.abs(mu[row])) * rs[row];
            xhatErrMax = Math.max(xhatErrMax, xhatErr);
            dxAtol[row] = rs[row] * dhatMax * (1 + xhatMax) * (acc + xhatErr * (1 + xhatMax));
            paramScale = Math.max(paramScale, 1 + xhatMax);
        }
        double rowAcc = ACCUM_RTOL_PER_SQRT_N * Math.sqrt(LN_ROWS);
        // dγ, dβ: sums over the rows of dy·x̂ and dy
        double paramAtol = maxAbs(dyd) * paramScale * (rowAcc * Math.sqrt(LN_ROWS) + xhatErrMax * LN_ROWS);
        for (boolean strided : BOOLS) {
            Pair x = strided ? stridedPair(xd, LN_ROWS, c) : pair(xd, 2, 3, c);
            Pair dy = strided ? pair(dyd, LN_ROWS, c) : stridedPair(dyd, 2, 3, c);
            Pair gamma = strided ? stridedPair(g, c) : pair(g, c);
            Pair mean = pair(mu, strided ? new int[] {LN_ROWS} : new int[] {2, 3}), rstd = pair(rs, LN_ROWS);
            Pair dx = nans(x.shape()), dgamma = nans(c), dbeta = nans(c);
            b().layerNormBackward(dy.mine(), x.mine(), gamma.mine(), mean.mine(), rstd.mine(), dx.mine(),
                    dgamma.mine(), dbeta.mine());
            oracle.layerNormBackward(dy.ref(), x.ref(), gamma.ref(), mean.ref(), rstd.ref(), dx.ref(), dgamma.ref(),
                    dbeta.ref());
            String what = "layerNormBackward x" + s(x.shape()) + " strides " + s(x.mine().strides());
            assertRowsClose(what + " dx", c, oracle.toArray(dx.ref()), b().toArray(dx.mine()), dxAtol, acc);
            assertPairClose(what + " dgamma", dgamma, paramAtol, ELEMENTWISE_RTOL);
            assertPairClose(what + " dbeta", dbeta, paramAtol, ELEMENTWISE_RTOL);
        }
    }

    // =================================================================================================================
    // cross-entropy
    // =================================================================================================================

    private static final int CE_ROWS = 5;

    /** Five rows: ordinary logits, a ±(70..90) row, a row at +100, and two more ordinary rows. */
    private static float[] ceLogits(SplittableRandom r, int c) {
        float[] z = normal(r, CE_ROWS * c, 3);
        float[] wide = signed(r, c, 70, 90);
        System.arraycopy(wide, 0, z, c, c);
        for (int j = 0; j < c; j++) z[2 * c + j] += 100f;
        return z;
    }

    @ParameterizedTest(name = "C={0} smoothing={1}")
    @MethodSource("smoothingCases")
    void crossEntropyMatchesOracle(int c, float smoothing) {
        SplittableRandom r = rng("crossEntropy", c, smoothing);
        float[] z = ceLogits(r, c), dl = normal(r, CE_ROWS, 1);
        int[] labels = r.ints(CE_ROWS, 0, c).toArray();
        double acc = ACCUM_RTOL_PER_SQRT_N * Math.sqrt(c);
        double[] lossAtol = new double[CE_ROWS], gradAtol = new double[CE_ROWS];
        for (int row = 0; row < CE_ROWS; row++) {
            double zMax = maxAbs(Arrays.copyOfRange(z, row * c, (row + 1) * c));
            // lse = max + log Σ exp(z − max); the loss subtracts logits of size max|z| from it
            lossAtol[row] = 4 * U * zMax + TRANSCENDENTAL_RTOL * (1 + Math.log(c)) + acc * (1 + smoothing * zMax);
            gradAtol[row] = Math.abs(dl[row]) * (PROBABILITY_ATOL + TRANSCENDENTAL_RTOL + acc);
        }
        for (boolean strided : BOOLS) {
            Pair logits = strided ? stridedPair(z, CE_ROWS, c) : pair(z, CE_ROWS, c);
            String what = " logits" + s(logits.shape()) + " strides " + s(logits.mine().strides()) + " smoothing "
                    + smoothing + " labels " + Arrays.toString(labels);
            Pair losses = nans(CE_ROWS);
            b().crossEntropy(logits.mine(), labels, smoothing, losses.mine());
            oracle.crossEntropy(logits.ref(), labels, smoothing, losses.ref());
            assertRowsClose("crossEntropy" + what, 1, oracle.toArray(losses.ref()), b().toArray(losses.mine()),
                    lossAtol, TRANSCENDENTAL_RTOL);
            Pair dlosses = strided ? stridedPair(dl, CE_ROWS) : pair(dl, CE_ROWS);
            Pair dlogits = nans(CE_ROWS, c);
            b().crossEntropyBackward(logits.mine(), labels, smoothing, dlosses.mine(), dlogits.mine());
            oracle.crossEntropyBackward(logits.ref(), labels, smoothing, dlosses.ref(), dlogits.ref());
            assertRowsClose("crossEntropyBackward" + what, c, oracle.toArray(dlogits.ref()),
                    b().toArray(dlogits.mine()), gradAtol, ELEMENTWISE_RTOL);
        }
    }

    // =================================================================================================================
    // indexing
    // =================================================================================================================

    /** Random indices into {@code len}, one row of {@code m} per leading index (so they differ per leading index). */
    private static int[] indices(SplittableRandom r, int count, int len) {
        return r.ints(count, 0, len).toArray();
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void gatherAlongEachAxisMatchesOracle(int n) {
        int[] dims = {4, n, 3};
        for (int axis = -1; axis < 3; axis++) {
            int ax = axis < 0 ? 2 : axis;
            SplittableRandom r = rng("gather", n, axis);
            int m = 1 + r.nextInt(dims[ax] + 2);     // may exceed the source length: repeats
            int[] outShape = dims.clone();
            outShape[ax] = m;
            int[] index = indices(r, Layout.outer(outShape, ax) * m, dims[ax]);
            float[] xd = normal(r, size(dims), 1);
            for (Pair x : List.of(pair(xd, dims), stridedPair(xd, dims))) {
                Pair out = nans(outShape);
                b().gather(x.mine(), axis, index, out.mine());
                oracle.gather(x.ref(), axis, index, out.ref());
                assertPairClose("gather x" + s(dims) + " strides " + s(x.mine().strides()) + " axis " + axis
                        + " index" + s(Arrays.copyOf(outShape, ax + 1)) + " → " + s(outShape), out, EXACT, EXACT);
            }
        }
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void scatterAddAlongEachAxisMatchesOracle(int n) {
        int[] dims = {4, n, 3};
        for (int axis = -1; axis < 3; axis++) {
            int ax = axis < 0 ? 2 : axis;
            SplittableRandom r = rng("scatterAdd", n, axis);
            int m = 1 + r.nextInt(dims[ax] + 2);
            int[] srcShape = dims.clone();
            srcShape[ax] = m;
            int[] index = indices(r, Layout.outer(srcShape, ax) * m, dims[ax]);
            int maxRepeat = 0;
            for (int p = 0; p < index.length / m; p++) {
                int[] count = new int[dims[ax]];
                for (int j = 0; j < m; j++) maxRepeat = Math.max(maxRepeat, ++count[index[p * m + j]]);
            }
            float[] sd = normal(r, size(srcShape), 1), od = normal(r, size(dims), 1);
            // out[i] accumulates up to maxRepeat + 1 terms; any order of float additions is within this
            double atol = 2 * U * (maxRepeat + 1) * (maxAbs(od) + maxRepeat * maxAbs(sd));
            for (Pair src : List.of(pair(sd, srcShape), stridedPair(sd, srcShape))) {
                Pair out = pair(od, dims);
                b().scatterAdd(src.mine(), axis, index, out.mine());
                oracle.scatterAdd(src.ref(), axis, index, out.ref());
                assertPairClose("scatterAdd src" + s(srcShape) + " strides " + s(src.mine().strides()) + " axis "
                        + axis + " into" + s(dims), out, atol, ELEMENTWISE_RTOL);
            }
        }
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void concatAlongEachAxisMatchesOracle(int n) {
        int[] base = {2, 3, 4};
        int[] lens = {1, n, 2};
        for (int axis = 0; axis < 3; axis++) {
            SplittableRandom r = rng("concat", n, axis);
            List<Pair> parts = new ArrayList<>();
            int total = 0;
            for (int i = 0; i < lens.length; i++) {
                int[] shape = base.clone();
                shape[axis] = lens[i];
                total += lens[i];
                float[] d = normal(r, size(shape), 1);
                parts.add(i == 1 ? stridedPair(d, shape) : pair(d, shape));
            }
            int[] outShape = base.clone();
            outShape[axis] = total;
            Pair out = nans(outShape);
            b().concat(parts.stream().map(Pair::mine).toList(), axis, out.mine());
            oracle.concat(parts.stream().map(Pair::ref).toList(), axis, out.ref());
            assertPairClose("concat along axis " + axis + " of " + parts.stream().map(p -> s(p.shape())).toList()
                    + " (the middle one strided)", out, EXACT, EXACT);
            // a single input, negative axis
            Pair one = nans(parts.get(1).shape());
            b().concat(List.of(parts.get(1).mine()), axis - 3, one.mine());
            oracle.concat(List.of(parts.get(1).ref()), axis - 3, one.ref());
            assertPairClose("concat of one strided " + s(one.shape()) + " along axis " + (axis - 3), one, EXACT, EXACT);
        }
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void sliceAlongEachAxisMatchesOracle(int n) {
        for (int axis = 0; axis < 3; axis++) {
            SplittableRandom r = rng("slice", n, axis);
            int[] shape = {3, 4, 5};
            shape[axis] = n + 2;
            float[] xd = normal(r, size(shape), 1);
            int[][] startLen = {{1, n}, {0, n + 2}, {n + 1, 1}, {0, 1}};
            for (Pair x : List.of(pair(xd, shape), stridedPair(xd, shape))) {
                for (int[] sl : startLen) {
                    int[] outShape = shape.clone();
                    outShape[axis] = sl[1];
                    Pair out = nans(outShape);
                    b().slice(x.mine(), axis, sl[0], out.mine());
                    oracle.slice(x.ref(), axis, sl[0], out.ref());
                    assertPairClose("slice x" + s(shape) + " strides " + s(x.mine().strides()) + " axis " + axis
                            + " start " + sl[0] + " → " + s(outShape), out, EXACT, EXACT);
                }
            }
        }
    }

    // =================================================================================================================
    // fill, copy, random, fromArray / toArray
    // =================================================================================================================

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void copyToAndFromHostArraysAtAnOffset(int n) {
        SplittableRandom r = rng("host", n);
        float[] values = normal(r, 3 * n, 1);
        Pair dense = pair(values, 3, n);
        float[] host = normal(r, 3 * n + 7, 1), want = host.clone();
        System.arraycopy(values, 0, want, 5, 3 * n);
        b().copyToHost(dense.mine(), host, 5);
        assertArrayEquals(want, host, "copyToHost of [3, n] at offset 5 leaves the rest untouched");
        // a transposed view reads row-major, as toArray does
        Pair view = pair(values, 3, n).map(Tensor::transpose);
        float[] viewHost = new float[3 * n];
        b().copyToHost(view.mine(), viewHost, 0);
        assertArrayEquals(oracle.toArray(view.ref()), viewHost, "copyToHost of a transposed view");
        // write back into a window of a larger tensor; everything around it stays
        float[] around = normal(r, 5 * (n + 2), 1);
        Pair base = pair(around, 5, n + 2);
        Pair window = base.map(t -> t.slice(0, 1, 4).slice(1, 1, n + 1));
        b().copyFromHost(host, 5, window.mine());
        oracle.copy(oracle.fromArray(values, 3, n), window.ref());
        assertPairClose("copyFromHost into a window [1:4, 1:n+1] of [5, n+2]", base, EXACT, EXACT);
        assertRejects(() -> b().copyToHost(dense.mine(), new float[3 * n], 1), "copyToHost", "offset 1");
        assertRejects(() -> b().copyFromHost(new float[3 * n - 1], 0, dense.mine()), "copyFromHost");
        assertRejects(() -> b().copyToHost(dense.mine(), host, -1), "copyToHost");
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void copyBetweenStridedViews(int n) {
        SplittableRandom r = rng("copy", n);
        float[] sd = normal(r, 4 * n, 1), dd = normal(r, 6 * (n + 3), 1);
        // transposed source into a window (offset, row stride n+3) of a larger destination
        Pair src = pair(sd, n, 4).map(Tensor::transpose);
        Pair dstBase = pair(dd, 6, n + 3);
        Pair dst = dstBase.map(t -> t.slice(0, 1, 5).slice(1, 2, n + 2));
        b().copy(src.mine(), dst.mine());
        oracle.copy(src.ref(), dst.ref());
        assertPairClose("copy [n,4]ᵀ → window [1:5, 2:n+2] of [6, n+3] (whole destination)", dstBase, EXACT, EXACT);
        // dense source into a transposed destination view
        Pair dstT = pair(Arrays.copyOf(dd, 4 * n), n, 4);
        Pair src2 = pair(sd, 4, n);
        b().copy(src2.mine(), dstT.mine().transpose());
        oracle.copy(src2.ref(), dstT.ref().transpose());
        assertPairClose("copy [4,n] → ([n,4])ᵀ view", dstT, EXACT, EXACT);
        // strided source into strided destination (both every other storage slot)
        Pair src3 = stridedPair(sd, 4, n);
        float[] base = normal(r, 8 * n, 1);
        Pair dst3Base = pair(base, 4, n, 2);
        Pair dst3 = dst3Base.map(t -> stridedView(t, 2));
        b().copy(src3.mine(), dst3.mine());
        oracle.copy(src3.ref(), dst3.ref());
        assertPairClose("copy strided [4,n] → strided [4,n] (whole destination)", dst3Base, EXACT, EXACT);
    }

    /**
     * The patch extraction of the models, [B, C, g·p, g·p] → [B, g, g, C, p, p], as one copy of a rank-7 permuted view:
     * unit dimensions, dimensions contiguous in both views (mergeable) and, at g = 17 or 28, enough rows for the
     * copy to be split across threads; into a window of a larger destination, so nothing outside it may change.
     */
    @ParameterizedTest(name = "grid={0}, patch={1}")
    @CsvSource({"1, 1", "3, 4", "17, 4", "28, 8"})
    void copyOfAPermutedPatchView(int grid, int patch) {
        SplittableRandom r = rng("copyPatches", grid, patch);
        int side = grid * patch, channels = 3;
        Pair x = pair(normal(r, 2 * channels * side * side, 1), 2, channels, side, side);
        Pair patches = x.map(t -> t.reshape(2, 1, channels, grid, patch, grid, patch).permute(0, 1, 3, 5, 2, 4, 6));
        Pair base = pair(normal(r, 3 * grid * grid * channels * patch * patch, 1), 3, 1, grid, grid, channels, patch,
                patch);
        Pair window = base.map(t -> t.slice(0, 1, 3));
        b().copy(patches.mine(), window.mine());
        oracle.copy(patches.ref(), window.ref());
        assertPairClose("copy of the [2, " + channels + ", " + side + ", " + side + "] image's patches", base, EXACT,
                EXACT);
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void fillWritesExactlyTheView(int n) {
        Pair out = nans(n);
        b().fill(out.mine(), 2.5f);
        oracle.fill(out.ref(), 2.5f);
        assertPairClose("fill [" + n + "]", out, EXACT, EXACT);
        // a contiguous view at an offset: the rest of the storage stays untouched
        Pair base = pair(normal(rng("fill", n), 3 * n, 1), 3, n);
        b().fill(base.mine().select(1), -7f);
        oracle.fill(base.ref().select(1), -7f);
        assertPairClose("fill row 1 of [3, " + n + "] (whole storage)", base, EXACT, EXACT);
    }

    /**
     * randomNormal(mean 0.5, std 2): Box–Muller √(−2 ln u₁)·cos(2πu₂) may be evaluated in float; the radius is at
     * most √(48 ln 2) ≈ 5.8, so a few ulp of the radius times std, and an absolute floor where cos crosses zero.
     */
    private static final double NORMAL_ATOL = TRANSCENDENTAL_ATOL * 2 * 4;

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void randomMatchesOracleAndIsCounterBased(int n) {
        long[] seeds = {7L, 123456789L, -42L};
        for (long seed : seeds) {
            Pair u = nans(n);
            b().randomUniform(u.mine(), seed, -2f, 3f);
            oracle.randomUniform(u.ref(), seed, -2f, 3f);
            // same formula low + (high−low)·u: at most an FMA's rounding apart
            assertPairClose("randomUniform [" + n + "] seed " + seed + " in [-2, 3)", u, ELEMENTWISE_RTOL * 5,
                    ELEMENTWISE_RTOL);
            for (float v : b().toArray(u.mine())) assertTrue(v >= -2f && v < 3f, "randomUniform value " + v);
            Pair g = nans(2, n);
            b().randomNormal(g.mine(), seed, 0.5f, 2f);
            oracle.randomNormal(g.ref(), seed, 0.5f, 2f);
            assertPairClose("randomNormal [2, " + n + "] seed " + seed + " mean 0.5 std 2", g, NORMAL_ATOL,
                    TRANSCENDENTAL_RTOL);
            // counter-based: element i of a view depends on i, not on the storage offset
            Pair base = nans(3, n);
            b().randomNormal(base.mine().select(2), seed, 0.5f, 2f);
            oracle.randomNormal(base.ref().select(2), seed, 0.5f, 2f);
            assertClose("randomNormal into row 2 of [3, " + n + "] equals the first n of a fresh tensor",
                    Arrays.copyOf(oracle.toArray(g.ref()), n), Arrays.copyOfRange(b().toArray(base.mine()), 2 * n, 3 * n),
                    NORMAL_ATOL, TRANSCENDENTAL_RTOL);
        }
        if (n >= 17) {
            Tensor x = b().empty(n), y = b().empty(n);
            b().randomUniform(x, 1L, 0f, 1f);
            b().randomUniform(y, 2L, 0f, 1f);
            assertNotEquals(Arrays.toString(b().toArray(x)), Arrays.toString(b().toArray(y)), "seeds 1 and 2 agree");
        }
    }

    /** A seed whose first uniform draw is the largest, 1 − 2⁻²⁴ (found by search; ~2²⁴ mix64 calls). */
    protected static long seedWithMaximalFirstUniform() {
        for (long seed = 0; ; seed++) {
            if ((CounterRandom.bits(seed, 0) >>> 40) == 0xFFFFFFL) return seed;
        }
    }

    /**
     * randomUniform promises [low, high). With u = 1 − 2⁻²⁴, low + (high − low)·u rounds to high in float whenever
     * low ≠ 0 and the sum's ulp is coarser than (high − low)·2⁻²⁴, e.g. [1, 2) or [0.5, 1).
     */
    @Test
    void randomUniformNeverReturnsHigh() {
        long seed = seedWithMaximalFirstUniform();
        float[][] ranges = {{1f, 2f}, {0.5f, 1f}, {-1f, 1f}, {0f, 1f}, {-3f, -2f}};
        for (float[] lh : ranges) {
            Tensor t = b().empty(1);
            b().randomUniform(t, seed, lh[0], lh[1]);
            float v = b().toArray(t)[0];
            assertTrue(v >= lh[0] && v < lh[1], "randomUniform(seed " + seed + ", [" + lh[0] + ", " + lh[1]
                    + ")) returned " + v + " for the largest uniform draw 1 - 2^-24");
        }
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void fromArrayToArrayRoundTripsOnViews(int n) {
        float[] d = normal(rng("roundTrip", n), 3 * n * 2, 1);
        Pair t = pair(d, 3, n, 2);
        assertArrayEquals(d, b().toArray(t.mine()), "fromArray → toArray of [3, n, 2]");
        assertArrayEquals(new int[] {3, n, 2}, t.mine().shape());
        List<UnaryOperator<Tensor>> views = List.of(Tensor::transpose, x -> x.transpose(0, 2),
                x -> x.slice(1, n / 2, n), x -> x.select(2), x -> x.select(1).transpose(),
                x -> x.slice(2, 1, 2), x -> x.transpose(0, 1).reshape(-1), x -> stridedView(x, 2));
        for (int i = 0; i < views.size(); i++) {
            Pair v = t.map(views.get(i));
            assertArrayEquals(oracle.toArray(v.ref()), b().toArray(v.mine()), "toArray of view #" + i + " "
                    + s(v.shape()) + " strides " + s(v.mine().strides()));
            assertArrayEquals(oracle.toArray(v.ref()), oracle.toArray(v.mine().to(oracle)), "view #" + i + ".to(oracle)");
            assertArrayEquals(oracle.toArray(v.ref()), b().toArray(v.ref().to(b())), "oracle view #" + i + ".to(backend)");
        }
        // the transpose, spelled out
        float[] tr = b().toArray(b().fromArray(Arrays.copyOf(d, 3 * n), 3, n).transpose());
        for (int i = 0; i < 3; i++) for (int j = 0; j < n; j++) assertEquals(d[i * n + j], tr[j * 3 + i]);
        Tensor e = b().empty(2, n, 3);
        assertArrayEquals(new int[] {2, n, 3}, e.shape());
        assertEquals(6L * n, e.size());
        assertTrue(e.isContiguous());
    }


    // =================================================================================================================
    // fused CRATE layers: MSSA and ISTA
    // =================================================================================================================

    /**
     * Fused ops chain GEMMs, a softmax and elementwise steps; their rounding is bounded like a GEMM's over the total
     * reduction length K of the chain, relative to the output's own size: atol = this·√K·rms(expected), rtol
     * {@link #GEMM_RTOL}. A wrong index, a missing gradient term (one of MSSA's three, ISTA's two dictionary terms)
     * or an unmasked ReLU changes outputs by a sizeable fraction of rms(expected), orders above the bound.
     */
    public static final double FUSED_ATOL_PER_SQRT_K = 2e-5;

    protected static double fusedAtol(int k, float[] expected) {
        return FUSED_ATOL_PER_SQRT_K * Math.sqrt(Math.max(k, 1)) * rms(expected);
    }

    @ParameterizedTest(name = "B={0} N={1} H={2} p={3}")
    @MethodSource("mssaCases")
    void mssaForwardMatchesOracle(int batch, int n, int heads, int p) {
        SplittableRandom r = rng("mssaForward", batch, n, heads, p);
        float scale = (float) (1 / Math.sqrt(p));
        float[] wd = normal(r, batch * n * heads * p, 1.5);
        for (Pair w : List.of(pair(wd, batch, n, heads * p), stridedPair(wd, batch, n, heads * p))) {
            for (boolean keep : BOOLS) {
                Pair out = nans(batch, n, heads * p), attn = keep ? nans(batch, heads, n, n) : null;
                b().fused().mssaForward(w.mine(), heads, scale, out.mine(), keep ? attn.mine() : null);
                oracle.fused().mssaForward(w.ref(), heads, scale, out.ref(), keep ? attn.ref() : null);
                String what = "mssaForward w" + s(w.shape()) + " strides " + s(w.mine().strides()) + " heads "
                        + heads + (keep ? " keeping A" : "");
                float[] expected = oracle.toArray(out.ref());
                assertPairClose(what + " out", out, fusedAtol(n + p, expected), GEMM_RTOL);
                if (keep) assertPairClose(what + " attn", attn, fusedAtol(p + n, oracle.toArray(attn.ref())), GEMM_RTOL);
            }
        }
    }

    @ParameterizedTest(name = "B={0} N={1} H={2} p={3}")
    @MethodSource("mssaCases")
    void mssaBackwardMatchesOracle(int batch, int n, int heads, int p) {
        SplittableRandom r = rng("mssaBackward", batch, n, heads, p);
        float scale = (float) (1 / Math.sqrt(p));
        int[] shape = {batch, n, heads * p};
        float[] wd = normal(r, size(shape), 1.5), dod = normal(r, size(shape), 1);
        Pair ref = nans(shape);
        oracle.fused().mssaBackward(oracle.fromArray(wd, shape), null, oracle.fromArray(dod, shape), heads, scale, ref.ref());
        float[] expected = oracle.toArray(ref.ref());
        for (boolean saved : BOOLS) {
            for (boolean strided : BOOLS) {
                Pair w = strided ? stridedPair(wd, shape) : pair(wd, shape);
                Pair dout = strided ? pair(dod, shape) : stridedPair(dod, shape);
                Tensor attn = null;
                if (saved) {
                    attn = b().empty(batch, heads, n, n);
                    b().fused().mssaForward(w.mine(), heads, scale, b().empty(shape), attn);
                }
                Pair dw = nans(shape);
                b().fused().mssaBackward(w.mine(), attn, dout.mine(), heads, scale, dw.mine());
                assertClose("mssaBackward w" + s(shape) + " heads " + heads + (saved ? " saved A" : " recomputed A")
                                + (strided ? " strided w" : " strided dout"), shape, expected, b().toArray(dw.mine()),
                        fusedAtol(2 * n + p, expected), GEMM_RTOL);
            }
        }
    }

    @ParameterizedTest(name = "B={0} N={1} H={2} p={3}")
    @MethodSource("mssaCases")
    void mhsaForwardMatchesOracle(int batch, int n, int heads, int p) {
        SplittableRandom r = rng("mhsaForward", batch, n, heads, p);
        float scale = (float) (1 / Math.sqrt(p));
        float[] xd = normal(r, batch * n * 3 * heads * p, 1.5);
        for (Pair qkv : List.of(pair(xd, batch, n, 3 * heads * p), stridedPair(xd, batch, n, 3 * heads * p))) {
            for (boolean keep : BOOLS) {
                Pair out = nans(batch, n, heads * p), attn = keep ? nans(batch, heads, n, n) : null;
                b().fused().mhsaForward(qkv.mine(), heads, scale, out.mine(), keep ? attn.mine() : null);
                oracle.fused().mhsaForward(qkv.ref(), heads, scale, out.ref(), keep ? attn.ref() : null);
                String what = "mhsaForward qkv" + s(qkv.shape()) + " strides " + s(qkv.mine().strides()) + " heads "
                        + heads + (keep ? " keeping A" : "");
                float[] expected = oracle.toArray(out.ref());
                assertPairClose(what + " out", out, fusedAtol(n + p, expected), GEMM_RTOL);
                if (keep) assertPairClose(what + " attn", attn, fusedAtol(p + n, oracle.toArray(attn.ref())), GEMM_RTOL);
            }
        }
    }

    /** Queries, keys and values each get their own gradient: a term written to the wrong third fails here. */
    @ParameterizedTest(name = "B={0} N={1} H={2} p={3}")
    @MethodSource("mssaCases")
    void mhsaBackwardMatchesOracle(int batch, int n, int heads, int p) {
        SplittableRandom r = rng("mhsaBackward", batch, n, heads, p);
        float scale = (float) (1 / Math.sqrt(p));
        int[] shape = {batch, n, 3 * heads * p}, outShape = {batch, n, heads * p};
        float[] xd = normal(r, size(shape), 1.5), dod = normal(r, size(outShape), 1);
        Pair ref = nans(shape);
        oracle.fused().mhsaBackward(oracle.fromArray(xd, shape), null, oracle.fromArray(dod, outShape), heads, scale,
                ref.ref());
        float[] expected = oracle.toArray(ref.ref());
        for (boolean saved : BOOLS) {
            for (boolean strided : BOOLS) {
                Pair qkv = strided ? stridedPair(xd, shape) : pair(xd, shape);
                Pair dout = strided ? pair(dod, outShape) : stridedPair(dod, outShape);
                Tensor attn = null;
                if (saved) {
                    attn = b().empty(batch, heads, n, n);
                    b().fused().mhsaForward(qkv.mine(), heads, scale, b().empty(outShape), attn);
                }
                Pair dqkv = nans(shape);
                b().fused().mhsaBackward(qkv.mine(), attn, dout.mine(), heads, scale, dqkv.mine());
                assertClose("mhsaBackward qkv" + s(shape) + " heads " + heads + (saved ? " saved A" : " recomputed A")
                                + (strided ? " strided qkv" : " strided dout"), shape, expected,
                        b().toArray(dqkv.mine()), fusedAtol(2 * n + p, expected), GEMM_RTOL);
            }
        }
    }

    @Test
    void mhsaRefusesWidthsThatDoNotSplitIntoThreeParts() {
        Tensor qkv = b().empty(1, 3, 8), out = b().empty(1, 3, 4);
        var e = assertThrows(IllegalArgumentException.class, () -> b().fused().mhsaForward(qkv, 2, 1f, out, null));
        assertTrue(e.getMessage().contains("width 8") && e.getMessage().contains("2 heads"), e.getMessage());
        Tensor good = b().empty(1, 3, 12), wrongOut = b().empty(1, 3, 12);
        e = assertThrows(IllegalArgumentException.class, () -> b().fused().mhsaForward(good, 2, 1f, wrongOut, null));
        assertTrue(e.getMessage().contains("output"), e.getMessage());
    }

    /** Dictionary entries like the official kaiming-uniform init (std √(2/d)), x about unit size. */
    private float[][] istaInputs(String op, int d, int rows) {
        SplittableRandom r = rng(op, d, rows);
        return new float[][] {normal(r, rows * d, 1), normal(r, d * d, Math.sqrt(2.0 / d)), normal(r, rows * d, 1)};
    }

    @ParameterizedTest(name = "d={0}")
    @MethodSource("sizeCases")
    void istaForwardMatchesOracle(int d) {
        if (d > 200) return;  // the d×d dictionary and the oracle's d³ loops: 197 already covers the long tails
        float eta = 0.1f, lambda = 0.1f;
        float[][] in = istaInputs("istaForward", d, 6);
        for (Pair x : List.of(pair(in[0], 2, 3, d), stridedPair(in[0], 6, d))) {
            Pair dict = pair(in[1], d, d), out = nans(x.shape());
            b().fused().istaForward(x.mine(), dict.mine(), eta, lambda, out.mine());
            oracle.fused().istaForward(x.ref(), dict.ref(), eta, lambda, out.ref());
            String what = "istaForward x" + s(x.shape()) + " strides " + s(x.mine().strides());
            assertPairClose(what + " out", out, fusedAtol(2 * d, oracle.toArray(out.ref())), GEMM_RTOL);
        }
    }

    /** M = I + η(D − DᵀD) against the oracle's double loops, on a dictionary that is not symmetric. */
    @ParameterizedTest(name = "d={0}")
    @MethodSource("sizeCases")
    void istaMatrixMatchesOracle(int d) {
        if (d > 200) return;
        float eta = 0.1f;
        float[] dict = istaInputs("istaMatrix", d, 1)[1];
        double[] expected = new double[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                double dtd = 0;
                for (int k = 0; k < d; k++) dtd += (double) dict[k * d + i] * dict[k * d + j];
                expected[i * d + j] = (i == j ? 1 : 0) + eta * (dict[i * d + j] - dtd);
            }
        }
        float[] exp = new float[d * d];
        for (int i = 0; i < exp.length; i++) exp[i] = (float) expected[i];
        assertClose("istaMatrix d=" + d, new int[] {d, d}, exp, b().toArray(b().fused().istaMatrix(
                b().fromArray(dict, d, d), eta)), fusedAtol(d, exp), GEMM_RTOL);
    }

    @ParameterizedTest(name = "d={0}")
    @MethodSource("sizeCases")
    void istaBackwardMatchesOracle(int d) {
        if (d > 200) return;
        float eta = 0.1f, lambda = 0.1f;
        float[][] in = istaInputs("istaBackward", d, 6);
        Tensor xr = oracle.fromArray(in[0], 6, d), dr = oracle.fromArray(in[1], d, d);
        Tensor outRef = oracle.empty(6, d);
        oracle.fused().istaForward(xr, dr, eta, lambda, outRef);
        // both backends get the oracle's forward output, so the ReLU mask is the same for both
        float[] outD = oracle.toArray(outRef);
        int active = 0;
        for (float v : outD) if (v > 0) active++;
        assertTrue(active > 0 && (active < outD.length || d == 1), "test data should exercise both sides of the ReLU");
        Pair dxRef = nans(6, d), ddRef = nans(d, d);
        oracle.fused().istaBackward(xr, dr, outRef, oracle.fromArray(in[2], 6, d), eta, dxRef.ref(), ddRef.ref());
        float[] dxE = oracle.toArray(dxRef.ref()), ddE = oracle.toArray(ddRef.ref());
        for (boolean strided : BOOLS) {
            Pair x = strided ? stridedPair(in[0], 2, 3, d) : pair(in[0], 2, 3, d);
            Pair dout = strided ? pair(in[2], 2, 3, d) : stridedPair(in[2], 2, 3, d);
            Pair dict = strided ? pair(in[1], d, d) : stridedPair(in[1], d, d);
            Pair dx = nans(2, 3, d), dd = nans(d, d);
            Tensor outMine = b().fromArray(outD, 2, 3, d);
            b().fused().istaBackward(x.mine(), dict.mine(), outMine, dout.mine(), eta, dx.mine(), dd.mine());
            String what = "istaBackward d=" + d + (strided ? " strided x" : " strided dout and dict");
            assertClose(what + " dx", new int[] {6, d}, dxE, b().toArray(dx.mine()), fusedAtol(2 * d, dxE), GEMM_RTOL);
            assertClose(what + " dDict", new int[] {d, d}, ddE, b().toArray(dd.mine()), fusedAtol(6 + d, ddE),
                    GEMM_RTOL);
            // one gradient alone, the other not asked for
            Pair dxOnly = nans(2, 3, d), ddOnly = nans(d, d);
            b().fused().istaBackward(x.mine(), dict.mine(), outMine, dout.mine(), eta, dxOnly.mine(), null);
            b().fused().istaBackward(x.mine(), dict.mine(), outMine, dout.mine(), eta, null, ddOnly.mine());
            assertClose(what + " dx alone", new int[] {6, d}, dxE, b().toArray(dxOnly.mine()), fusedAtol(2 * d, dxE),
                    GEMM_RTOL);
            assertClose(what + " dDict alone", new int[] {d, d}, ddE, b().toArray(ddOnly.mine()),
                    fusedAtol(6 + d, ddE), GEMM_RTOL);
        }
    }

    /** CRATE-α's block at awkward widths d with p = 4d (and p = 2d + 1, an odd width), on 6 rows (3 when d is large). */
    static Stream<Arguments> overcompleteCases() {
        return Stream.of(new int[] {1, 4}, new int[] {3, 12}, new int[] {17, 68}, new int[] {17, 35},
                new int[] {63, 252}, new int[] {65, 260}).map(c -> Arguments.of(c[0], c[1]));
    }

    /** x about unit size, D and D1 as the official kaiming-uniform init of a [d, p] weight (std √(2/p)) times 2. */
    private float[][] overcompleteInputs(String op, int d, int p, int rows) {
        SplittableRandom r = rng(op, d, p, rows);
        double std = 2 * Math.sqrt(2.0 / p);
        return new float[][] {normal(r, rows * d, 1), normal(r, d * p, std), normal(r, d * p, std),
                normal(r, rows * d, 1)};
    }

    @ParameterizedTest(name = "d={0} p={1}")
    @MethodSource("overcompleteCases")
    void overcompleteIstaForwardMatchesOracle(int d, int p) {
        float eta = 0.1f, lambda = 0.1f;
        float[][] in = overcompleteInputs("overcompleteIstaForward", d, p, 6);
        for (Pair x : List.of(pair(in[0], 2, 3, d), stridedPair(in[0], 6, d))) {
            int[] codes = x.shape().clone();
            codes[codes.length - 1] = p;
            Pair dict = pair(in[1], d, p), dict1 = stridedPair(in[2], d, p);
            Pair out = nans(x.shape()), a1 = nans(codes), a2 = nans(codes), res = nans(x.shape());
            b().fused().overcompleteIstaForward(x.mine(), dict.mine(), dict1.mine(), eta, lambda, out.mine(), a1.mine(),
                    a2.mine(), res.mine());
            oracle.fused().overcompleteIstaForward(x.ref(), dict.ref(), dict1.ref(), eta, lambda, out.ref(), a1.ref(),
                    a2.ref(), res.ref());
            String what = "overcompleteIstaForward x" + s(x.shape()) + " strides " + s(x.mine().strides()) + " p=" + p;
            float[] a2e = oracle.toArray(a2.ref());
            int active = 0;
            for (float v : a2e) if (v > 0) active++;
            assertTrue(active > 0 && active < a2e.length, what + ": the data should exercise both sides of the ReLU");
            assertPairClose(what + " out", out, fusedAtol(2 * d + 2 * p, oracle.toArray(out.ref())), GEMM_RTOL);
            assertPairClose(what + " a1", a1, fusedAtol(d, oracle.toArray(a1.ref())), GEMM_RTOL);
            assertPairClose(what + " a2", a2, fusedAtol(2 * d + p, a2e), GEMM_RTOL);
            assertPairClose(what + " residual", res, fusedAtol(d + p, oracle.toArray(res.ref())), GEMM_RTOL);
            Pair alone = nans(x.shape());
            b().fused().overcompleteIstaForward(x.mine(), dict.mine(), dict1.mine(), eta, lambda, alone.mine(), null,
                    null, null);
            assertArrayEquals(b().toArray(out.mine()), b().toArray(alone.mine()),
                    what + ": out must not depend on whether the codes are kept");
        }
    }

    @ParameterizedTest(name = "d={0} p={1}")
    @MethodSource("overcompleteCases")
    void overcompleteIstaBackwardMatchesOracle(int d, int p) {
        float eta = 0.1f, lambda = 0.1f;
        float[][] in = overcompleteInputs("overcompleteIstaBackward", d, p, 6);
        Tensor xr = oracle.fromArray(in[0], 6, d), dr = oracle.fromArray(in[1], d, p), d1r = oracle.fromArray(in[2], d, p);
        Tensor outRef = oracle.empty(6, d), a1r = oracle.empty(6, p), a2r = oracle.empty(6, p), resRef = oracle.empty(6, d);
        oracle.fused().overcompleteIstaForward(xr, dr, d1r, eta, lambda, outRef, a1r, a2r, resRef);
        float[] a1 = oracle.toArray(a1r), a2 = oracle.toArray(a2r), res = oracle.toArray(resRef);
        Pair dxE = nans(6, d), ddE = nans(d, p), dd1E = nans(d, p);
        oracle.fused().overcompleteIstaBackward(xr, dr, d1r, a1r, a2r, resRef, oracle.fromArray(in[3], 6, d), eta, lambda,
                dxE.ref(), ddE.ref(), dd1E.ref());
        float[] dx = oracle.toArray(dxE.ref()), dd = oracle.toArray(ddE.ref()), dd1 = oracle.toArray(dd1E.ref());
        for (boolean strided : BOOLS) {
            Pair x = strided ? stridedPair(in[0], 2, 3, d) : pair(in[0], 2, 3, d);
            Pair dout = strided ? pair(in[3], 2, 3, d) : stridedPair(in[3], 2, 3, d);
            Pair dict = strided ? pair(in[1], d, p) : stridedPair(in[1], d, p), dict1 = pair(in[2], d, p);
            Tensor c1 = b().fromArray(a1, 2, 3, p), c2 = b().fromArray(a2, 2, 3, p), r = b().fromArray(res, 2, 3, d);
            String what = "overcompleteIstaBackward d=" + d + " p=" + p + (strided ? " strided x" : " strided dout, D");
            Pair gx = nans(2, 3, d), gd = nans(d, p), gd1 = nans(d, p);
            b().fused().overcompleteIstaBackward(x.mine(), dict.mine(), dict1.mine(), c1, c2, r, dout.mine(), eta,
                    lambda, gx.mine(), gd.mine(), gd1.mine());
            int[] rows = {6, d}, dicts = {d, p};
            assertClose(what + " dx", rows, dx, b().toArray(gx.mine()), fusedAtol(2 * d + 2 * p, dx), GEMM_RTOL);
            assertClose(what + " dD", dicts, dd, b().toArray(gd.mine()), fusedAtol(6 + 2 * d + p, dd), GEMM_RTOL);
            assertClose(what + " dD1", dicts, dd1, b().toArray(gd1.mine()), fusedAtol(6, dd1), GEMM_RTOL);
            for (int only = 0; only < 3; only++) {       // each gradient alone, the others not asked for
                Pair one = only == 0 ? nans(2, 3, d) : nans(d, p);
                b().fused().overcompleteIstaBackward(x.mine(), dict.mine(), dict1.mine(), c1, c2, r, dout.mine(), eta,
                        lambda, only == 0 ? one.mine() : null, only == 1 ? one.mine() : null,
                        only == 2 ? one.mine() : null);
                assertArrayEquals(b().toArray((only == 0 ? gx : only == 1 ? gd : gd1).mine()), b().toArray(one.mine()),
                        what + " gradient " + only + " alone equals the one computed with the others");
            }
        }
    }

    @Test
    void overcompleteIstaRejectsMismatchedShapes() {
        assertRejects(() -> b().fused().overcompleteIstaForward(t(3, 4), t(5, 16), t(4, 16), 0.1f, 0.1f, t(3, 4), null,
                null, null), "overcompleteIstaForward", "[5, 16]");
        assertRejects(() -> b().fused().overcompleteIstaForward(t(3, 4), t(4, 16), t(4, 12), 0.1f, 0.1f, t(3, 4), null,
                null, null), "overcompleteIstaForward", "D1");
        assertRejects(() -> b().fused().overcompleteIstaForward(t(3, 4), t(4, 16), t(4, 16), 0.1f, 0.1f, t(3, 4),
                t(3, 4), null, null), "overcompleteIstaForward", "code a1");
        assertRejects(() -> b().fused().overcompleteIstaBackward(t(3, 4), t(4, 16), t(4, 16), t(3, 16), t(3, 16),
                t(3, 4), t(3, 4), 0.1f, 0.1f, null, null, null), "overcompleteIstaBackward", "all null");
        assertRejects(() -> b().fused().overcompleteIstaBackward(t(3, 4), t(4, 16), t(4, 16), null, t(3, 16),
                t(3, 4), t(3, 4), 0.1f, 0.1f, t(3, 4), null, null), "overcompleteIstaBackward", "a1, a2 and residual");
    }

    private static List<Tensor> mine(Pair... ps) { return Arrays.stream(ps).map(Pair::mine).toList(); }

    private static List<Tensor> refs(Pair... ps) { return Arrays.stream(ps).map(Pair::ref).toList(); }

    /** The list forms: Σ x² over several tensors into one accumulator, then every tensor scaled by a tensor factor. */
    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void sumOfSquaresAndScaleOverManyTensors(int n) {
        SplittableRandom r = rng("manyTensors", n);
        Pair[] xs = {pair(normal(r, n, 1), n), pair(normal(r, 2 * n + 1, 1), 2 * n + 1), pair(normal(r, 3, 1), 3)};
        Pair acc = pair(new float[] {0.5f}, 1), factor = pair(new float[] {0.25f}, 1);
        b().fused().sumOfSquaresInto(mine(xs), acc.mine());
        oracle.fused().sumOfSquaresInto(refs(xs), acc.ref());
        double total = 0.5;
        for (Pair x : xs) for (float v : oracle.toArray(x.ref())) total += v * v;
        assertPairClose("sumOfSquaresInto(list)", acc, ACCUM_RTOL_PER_SQRT_N * Math.sqrt(3 * n + 4) * total, 0);
        b().fused().scaleAll(mine(xs), factor.mine());
        oracle.fused().scaleAll(refs(xs), factor.ref());
        for (int i = 0; i < xs.length; i++) assertPairClose("scaleAll tensor " + i, xs[i], 0, ELEMENTWISE_RTOL);
    }

    /** accumulator += Σ x², over contiguous and strided x, twice into one accumulator (it adds, not overwrites). */
    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void sumOfSquaresAccumulates(int n) {
        float[] xd = normal(rng("sumOfSquares", n), 3 * n, 1.5);
        for (Pair x : List.of(pair(xd, 3, n), stridedPair(xd, 3, n))) {
            Pair acc = pair(new float[] {0.75f}, 1);
            b().fused().sumOfSquaresInto(x.mine(), acc.mine());
            oracle.fused().sumOfSquaresInto(x.ref(), acc.ref());
            b().fused().sumOfSquaresInto(x.mine(), acc.mine());
            oracle.fused().sumOfSquaresInto(x.ref(), acc.ref());
            double sum = 0;
            for (float v : xd) sum += v * v;
            double bound = ACCUM_RTOL_PER_SQRT_N * Math.sqrt(6.0 * n) * (2 * sum + 0.75);
            assertPairClose("sumOfSquaresInto " + s(3, n), acc, bound, 0);
        }
    }

    // =================================================================================================================
    // optimizer steps (fused by a backend, composed from elementwise ops by default)
    // =================================================================================================================

    /**
     * Three steps of each optimizer on parameters of awkward sizes, with and without decoupled decay: parameter and
     * state after each step against the oracle's composition. An update is a few roundings of lr·(a ratio of moments): bounded like an elementwise op
     * on the state, and on w relative to its own size.
     */
    @ParameterizedTest(name = "n={0}")
    @MethodSource("sizeCases")
    void optimizerStepsMatchOracle(int n) {
        SplittableRandom r = rng("optimizerSteps", n);
        float[] w0 = normal(r, n, 1), m0 = normal(r, n, 0.1), v0 = uniform(r, n, 1e-4, 1e-2);
        float[][] grads = {normal(r, n, 1), normal(r, n, 0.5), normal(r, n, 2)};
        double tol = 4 * ELEMENTWISE_RTOL;
        Pair w = pair(w0, n), m = pair(m0, n), v = pair(v0, n);
        for (int t = 1; t <= 3; t++) {
            Pair g = pair(grads[t - 1], n);
            b().fused().adamWStep(w.mine(), g.mine(), m.mine(), v.mine(), 1e-2f, 0.9f, 0.999f, 1e-8f, 0.9995f, t);
            oracle.fused().adamWStep(w.ref(), g.ref(), m.ref(), v.ref(), 1e-2f, 0.9f, 0.999f, 1e-8f, 0.9995f, t);
            assertPairClose("adamWStep " + t + " m", m, tol * maxAbs(oracle.toArray(m.ref())), tol);
            assertPairClose("adamWStep " + t + " v", v, tol * maxAbs(oracle.toArray(v.ref())), tol);
            assertPairClose("adamWStep " + t + " w", w, tol * maxAbs(w0), tol);
        }
        // all at once: two parameters of different sizes, one decayed and one not
        float[] w1 = normal(r, n + 3, 1), g1 = normal(r, n + 3, 1);
        Pair[] mw = {pair(w0, n), pair(w1, n + 3)}, mg = {pair(grads[0], n), pair(g1, n + 3)};
        Pair[] mm = {pair(m0, n), pair(new float[n + 3], n + 3)}, mv = {pair(v0, n), pair(new float[n + 3], n + 3)};
        float[] decays = {0.999f, 1f};
        for (int t = 1; t <= 2; t++) {
            b().fused().adamWSteps(mine(mw), mine(mg), mine(mm), mine(mv), decays, 1e-2f, 0.9f, 0.999f, 1e-8f, t);
            oracle.fused().adamWSteps(refs(mw), refs(mg), refs(mm), refs(mv), decays, 1e-2f, 0.9f, 0.999f, 1e-8f, t);
            for (int i = 0; i < 2; i++) {
                assertPairClose("adamWSteps " + t + " w" + i, mw[i], tol * 3, tol);
                assertPairClose("adamWSteps " + t + " v" + i, mv[i], tol * maxAbs(oracle.toArray(mv[i].ref())), tol);
            }
        }
        Pair[] lmw = {pair(w0, n), pair(w1, n + 3)}, lmm = {pair(m0, n), pair(new float[n + 3], n + 3)};
        Pair[] smw = {pair(w0, n), pair(w1, n + 3)}, smb = {pair(m0, n), pair(new float[n + 3], n + 3)};
        for (int t = 1; t <= 2; t++) {
            b().fused().lionSteps(mine(lmw), mine(mg), mine(lmm), decays, 1e-2f, 0.9f, 0.99f);
            oracle.fused().lionSteps(refs(lmw), refs(mg), refs(lmm), decays, 1e-2f, 0.9f, 0.99f);
            b().fused().sgdSteps(mine(smw), mine(mg), mine(smb), decays, 0.1f, 0.9f, t == 2);
            oracle.fused().sgdSteps(refs(smw), refs(mg), refs(smb), decays, 0.1f, 0.9f, t == 2);
            for (int i = 0; i < 2; i++) {
                assertPairClose("lionSteps " + t + " w" + i, lmw[i], tol * 3, tol);
                assertPairClose("lionSteps " + t + " m" + i, lmm[i], tol * maxAbs(oracle.toArray(lmm[i].ref())), tol);
                assertPairClose("sgdSteps " + t + " w" + i, smw[i], tol * 3, tol);
                assertPairClose("sgdSteps " + t + " buffer" + i, smb[i], tol * maxAbs(oracle.toArray(smb[i].ref())), tol);
            }
        }
        Pair[] plainW = {pair(w0, n), pair(w1, n + 3)};
        b().fused().sgdSteps(mine(plainW), mine(mg), null, decays, 0.1f, 0f, false);
        oracle.fused().sgdSteps(refs(plainW), refs(mg), null, decays, 0.1f, 0f, false);
        for (int i = 0; i < 2; i++) assertPairClose("sgdSteps without momentum w" + i, plainW[i], tol * 3, tol);
        Pair lw = pair(w0, n), lm = pair(m0, n);
        for (int t = 1; t <= 3; t++) {
            Pair g = pair(grads[t - 1], n);
            b().fused().lionStep(lw.mine(), g.mine(), lm.mine(), 1e-2f, 0.9f, 0.99f, t == 2 ? 1f : 0.999f);
            oracle.fused().lionStep(lw.ref(), g.ref(), lm.ref(), 1e-2f, 0.9f, 0.99f, t == 2 ? 1f : 0.999f);
            assertPairClose("lionStep " + t + " m", lm, tol * maxAbs(oracle.toArray(lm.ref())), tol);
            assertPairClose("lionStep " + t + " w", lw, tol * maxAbs(w0), tol);
        }
        for (boolean nesterov : BOOLS) {
            Pair sw = pair(w0, n), sb = pair(m0, n), plain = pair(w0, n);
            for (int t = 1; t <= 3; t++) {
                Pair g = pair(grads[t - 1], n);
                b().fused().sgdStep(sw.mine(), g.mine(), sb.mine(), 0.1f, 0.9f, nesterov, 0.995f);
                oracle.fused().sgdStep(sw.ref(), g.ref(), sb.ref(), 0.1f, 0.9f, nesterov, 0.995f);
                b().fused().sgdStep(plain.mine(), g.mine(), null, 0.1f, 0f, false, 1f);
                oracle.fused().sgdStep(plain.ref(), g.ref(), null, 0.1f, 0f, false, 1f);
                String what = "sgdStep " + t + (nesterov ? " nesterov" : "");
                assertPairClose(what + " buffer", sb, tol * maxAbs(oracle.toArray(sb.ref())), tol);
                assertPairClose(what + " w", sw, tol * maxAbs(w0), tol);
                assertPairClose(what + " without momentum w", plain, tol * maxAbs(w0), tol);
            }
        }
    }

    @Test
    void fusedOpsRejectMisuse() {
        Tensor w = t(2, 5, 6);
        assertRejects(() -> b().fused().mssaForward(w, 4, 0.5f, t(2, 5, 6), null), "mssaForward", "6", "4 heads");
        assertRejects(() -> b().fused().mssaForward(t(5, 6), 2, 0.5f, t(5, 6), null), "mssaForward", "[5, 6]");
        assertRejects(() -> b().fused().mssaForward(w, 2, 0.5f, t(2, 5, 6), t(2, 2, 5, 4)), "mssaForward", "attn",
                "[2, 2, 5, 4]");
        assertRejects(() -> b().fused().mssaBackward(w, null, t(2, 5, 7), 2, 0.5f, t(2, 5, 6)), "mssaBackward", "dout",
                "[2, 5, 7]");
        assertRejects(() -> b().fused().istaForward(t(3, 4), t(4, 5), 0.1f, 0.1f, t(3, 4)), "istaForward",
                "dictionary", "[4, 5]");
        assertRejects(() -> b().fused().istaForward(t(3, 4), t(4, 4), 0.1f, 0.1f, t(3, 5)), "istaForward", "[3, 5]");
        assertRejects(() -> b().fused().istaBackward(t(3, 4), t(4, 4), t(3, 4), t(3, 4), 0.1f, t(3, 4), t(4, 3)),
                "istaBackward", "dDict", "[4, 3]");
        assertRejects(() -> b().fused().istaBackward(t(3, 4), t(4, 4), t(3, 4), t(3, 4), 0.1f, null, null),
                "istaBackward", "both null");
        assertRejects(() -> b().fused().istaForward(t(3, 4), t(4, 4), Float.NaN, 0.1f, t(3, 4)), "istaForward", "eta");
    }

    // =================================================================================================================
    // misuse
    // =================================================================================================================

    private Tensor t(int... shape) {
        float[] d = new float[size(shape)];
        Arrays.fill(d, 0.5f);
        return b().fromArray(d, shape);
    }

    @Test
    void gemmRejectsMismatchedInnerDimension() {
        assertRejects(() -> b().gemm(1f, t(3, 4), false, t(5, 2), false, 0f, t(3, 2)), "gemm", "[3, 4]", "[5, 2]");
        assertRejects(() -> b().gemm(1f, t(4, 3), true, t(2, 5), true, 0f, t(3, 2)), "gemm", "[4, 3]", "[2, 5]");
        assertRejects(() -> b().gemm(1f, t(3, 4), false, t(4, 2), false, 0f, t(3, 3)), "gemm", "[3, 3]");
        assertRejects(() -> b().gemm(1f, t(2, 3, 4), false, t(3, 4, 2), false, 0f, t(2, 3, 2)), "gemm", "[2]", "[3]");
    }

    @Test
    void gemmRejectsNonContiguousC() {
        assertRejects(() -> b().gemm(1f, t(3, 4), false, t(4, 2), false, 0f, t(2, 3).transpose()),
                "gemm", "contiguous", "[3, 2]");
    }

    @Test
    void binaryRejectsNonBroadcastableShapes() {
        assertRejects(() -> b().binary(BinaryOp.ADD, t(3, 4), t(3), t(3, 4)), "binary ADD", "[3, 4]", "[3]");
        assertRejects(() -> b().binary(BinaryOp.MUL, t(2, 1, 4), t(3, 5), t(2, 3, 4)), "binary MUL", "[2, 1, 4]",
                "[3, 5]");
        assertRejects(() -> b().binary(BinaryOp.SUB, t(3, 1), t(1, 4), t(3, 5)), "binary SUB", "[3, 5]", "[3, 4]");
    }

    @Test
    void reduceRejectsWrongOutputShape() {
        assertRejects(() -> b().reduce(ReduceOp.SUM, t(2, 3, 4), 1, t(2, 3)), "reduce SUM", "[2, 3]", "[2, 3, 4]");
        assertRejects(() -> b().reduce(ReduceOp.MAX, t(2, 3, 4), 0, t(1, 3, 5)), "reduce MAX", "[1, 3, 5]");
        assertRejects(() -> b().reduce(ReduceOp.MEAN, t(2, 3), 2, t(2)), "reduce MEAN", "axis 2");
    }

    @Test
    void layerNormRejectsWrongParameterWidth() {
        assertRejects(() -> b().layerNorm(t(2, 5), t(4), t(5), 1e-5f, t(2, 5), t(2), t(2)), "layerNorm", "gamma",
                "[4]");
        assertRejects(() -> b().layerNorm(t(2, 5), t(5), t(6), 1e-5f, t(2, 5), t(2), t(2)), "layerNorm", "beta",
                "[6]");
        assertRejects(() -> b().layerNorm(t(2, 5), t(5), t(5), 1e-5f, t(2, 5), t(3), t(2)), "layerNorm", "mean",
                "[3]");
        assertRejects(() -> b().layerNormBackward(t(2, 5), t(2, 5), t(4), t(2), t(2), t(2, 5), t(5), t(5)),
                "layerNormBackward", "gamma", "[4]");
    }

    /** The message for a wrong dgamma must call it dgamma (today OpChecks reports it as "beta"). */
    @Test
    void layerNormBackwardNamesDgammaWhenItHasTheWrongWidth() {
        assertRejects(() -> b().layerNormBackward(t(2, 5), t(2, 5), t(5), t(2), t(2), t(2, 5), t(6), t(5)),
                "layerNormBackward", "dgamma", "[6]");
        assertRejects(() -> b().layerNormBackward(t(2, 5), t(2, 5), t(5), t(2), t(2), t(2, 5), t(5), t(7)),
                "layerNormBackward", "dbeta", "[7]");
    }

    @Test
    void crossEntropyRejectsBadLabels() {
        assertRejects(() -> b().crossEntropy(t(2, 5), new int[] {0, 5}, 0f, t(2)), "crossEntropy", "label 5", "[0, 5)");
        assertRejects(() -> b().crossEntropy(t(2, 5), new int[] {-1, 0}, 0f, t(2)), "crossEntropy", "label -1");
        assertRejects(() -> b().crossEntropy(t(2, 5), new int[] {1}, 0f, t(2)), "crossEntropy", "1 labels", "[2, 5]");
        assertRejects(() -> b().crossEntropyBackward(t(2, 5), new int[] {0, 9}, 0.1f, t(2), t(2, 5)),
                "crossEntropyBackward", "label 9");
        assertRejects(() -> b().crossEntropyBackward(t(2, 5), new int[] {0, 1, 2}, 0.1f, t(2), t(2, 5)),
                "crossEntropyBackward", "3 labels", "[2, 5]");
        assertRejects(() -> b().crossEntropy(t(2, 5), new int[] {0, 1}, 1.5f, t(2)), "crossEntropy", "1.5");
        assertRejects(() -> b().crossEntropyBackward(t(2, 5), new int[] {0, 1}, -0.1f, t(2), t(2, 5)),
                "crossEntropyBackward", "smoothing -0.1");
        assertRejects(() -> b().crossEntropy(t(2, 5), new int[] {0, 1}, Float.NaN, t(2)), "crossEntropy", "NaN");
        assertRejects(() -> b().crossEntropy(t(2, 5), new int[] {0, 1}, 0f, t(3)), "crossEntropy", "[3]");
    }

    @Test
    void gatherAndScatterRejectIndexOutOfRange() {
        assertRejects(() -> b().gather(t(3, 4), 1, new int[] {0, 4, 1, 2, 3, 0}, t(3, 2)), "gather", "4", "[3, 4]");
        assertRejects(() -> b().gather(t(3, 4), 0, new int[] {-1}, t(1, 4)), "gather", "-1", "[3, 4]");
        assertRejects(() -> b().gather(t(3, 4), 1, new int[] {0, 1}, t(3, 2)), "gather", "2 entries", "6");
        assertRejects(() -> b().scatterAdd(t(3, 2), 1, new int[] {0, 4, 1, 2, 3, 0}, t(3, 4)), "scatterAdd", "4",
                "[3, 4]");
    }

    /** Ops whose tensors come from another backend instance, each with the foreign tensor shaped [2, 7]. */
    Stream<Arguments> foreignTensorCases() {
        Backend me = b();
        Backend other = new ReferenceBackend();
        SplittableRandom r = rng("foreign");
        Tensor f = other.fromArray(normal(r, 14, 1), 2, 7);
        Tensor f7 = other.fromArray(normal(r, 7, 1), 7);
        Tensor p = other.fromArray(uniform(r, 14, 0.01, 0.2), 2, 7);
        int[] labels = {0, 3};
        return Stream.of(
                Arguments.of("gemm", (Executable) () -> me.gemm(1f, f, false, t(7, 3), false, 0f, t(2, 3))),
                Arguments.of("gemm", (Executable) () -> me.gemm(1f, t(3, 2), false, f, false, 0f, t(3, 7))),
                Arguments.of("unary", (Executable) () -> me.unary(UnaryOp.EXP, f, t(2, 7))),
                Arguments.of("unaryBackward", (Executable) () -> me.unaryBackward(UnaryOp.TANH, f, t(2, 7), t(2, 7))),
                Arguments.of("binary", (Executable) () -> me.binary(BinaryOp.ADD, t(2, 7), f, t(2, 7))),
                Arguments.of("affine", (Executable) () -> me.affine(f, 2f, 1f, t(2, 7))),
                Arguments.of("reduce", (Executable) () -> me.reduce(ReduceOp.SUM, f, 1, t(2))),
                Arguments.of("softmax", (Executable) () -> me.softmax(f, t(2, 7))),
                Arguments.of("softmaxBackward", (Executable) () -> me.softmaxBackward(p, t(2, 7), t(2, 7))),
                Arguments.of("logSoftmax", (Executable) () -> me.logSoftmax(f, t(2, 7))),
                Arguments.of("logSoftmaxBackward", (Executable) () -> me.logSoftmaxBackward(f, t(2, 7), t(2, 7))),
                Arguments.of("layerNorm", (Executable) () -> me.layerNorm(f, t(7), t(7), 1e-5f, t(2, 7), t(2), t(2))),
                Arguments.of("layerNorm gamma [7]", (Executable) () -> me.layerNorm(t(2, 7), f7, t(7), 1e-5f, t(2, 7), t(2), t(2))),
                Arguments.of("layerNormBackward", (Executable) () -> me.layerNormBackward(f, t(2, 7), t(7), t(2), t(2),
                        t(2, 7), t(7), t(7))),
                Arguments.of("crossEntropy", (Executable) () -> me.crossEntropy(f, labels, 0f, t(2))),
                Arguments.of("crossEntropyBackward", (Executable) () -> me.crossEntropyBackward(f, labels, 0f, t(2),
                        t(2, 7))),
                Arguments.of("gather", (Executable) () -> me.gather(f, 1, new int[] {0, 6}, t(2, 1))),
                Arguments.of("scatterAdd", (Executable) () -> me.scatterAdd(f, 1, new int[] {0, 1, 2, 3, 4, 5, 6,
                        0, 1, 2, 3, 4, 5, 6}, t(2, 9))),
                Arguments.of("concat", (Executable) () -> me.concat(List.of(t(2, 1), f), 1, t(2, 8))),
                Arguments.of("slice", (Executable) () -> me.slice(f, 1, 1, t(2, 3))),
                Arguments.of("copy", (Executable) () -> me.copy(f, t(2, 7))),
                Arguments.of("fill", (Executable) () -> me.fill(f, 1f)),
                Arguments.of("randomUniform", (Executable) () -> me.randomUniform(f, 1L, 0f, 1f)),
                Arguments.of("randomNormal", (Executable) () -> me.randomNormal(f, 1L, 0f, 1f)),
                Arguments.of("unary (output)", (Executable) () -> me.unary(UnaryOp.EXP, t(2, 7), f)));
    }

    /** Backend.java: "Every tensor passed must belong to this backend: mixing backends is an error naming the op." */
    @ParameterizedTest(name = "{0}")
    @MethodSource("foreignTensorCases")
    void tensorFromAnotherBackendInstanceIsRejectedNamingTheOp(String op, Executable call) {
        String opName = op.split(" ")[0];
        assertRejects(call, opName, op.endsWith("[7]") ? "[7]" : "[2, 7]");
    }

    /** A non-contiguous view of {@code shape} on the backend under test. */
    private Tensor strided(int... shape) {
        return stridedView(b().empty(concatShape(shape, 2)), shape.length);
    }

    /** Each op's output as a non-contiguous view: "outputs must be contiguous". */
    Stream<Arguments> nonContiguousOutputCases() {
        Backend me = b();
        int[] labels = {0, 3};
        return Stream.of(
                Arguments.of("gemm C", (Executable) () -> me.gemm(1f, t(2, 3), false, t(3, 7), false, 0f, strided(2, 7))),
                Arguments.of("unary out", (Executable) () -> me.unary(UnaryOp.EXP, t(2, 7), strided(2, 7))),
                Arguments.of("unaryBackward dx", (Executable) () -> me.unaryBackward(UnaryOp.EXP, t(2, 7), t(2, 7),
                        strided(2, 7))),
                Arguments.of("binary out", (Executable) () -> me.binary(BinaryOp.ADD, t(2, 7), t(7), strided(2, 7))),
                Arguments.of("affine out", (Executable) () -> me.affine(t(2, 7), 1f, 0f, strided(2, 7))),
                Arguments.of("reduce out", (Executable) () -> me.reduce(ReduceOp.SUM, t(2, 7, 3), 2, strided(2, 7))),
                Arguments.of("softmax out", (Executable) () -> me.softmax(t(2, 7), strided(2, 7))),
                Arguments.of("softmaxBackward dx", (Executable) () -> me.softmaxBackward(t(2, 7), t(2, 7), strided(2, 7))),
                Arguments.of("logSoftmax out", (Executable) () -> me.logSoftmax(t(2, 7), strided(2, 7))),
                Arguments.of("logSoftmaxBackward dx", (Executable) () -> me.logSoftmaxBackward(t(2, 7), t(2, 7),
                        strided(2, 7))),
                Arguments.of("layerNorm out", (Executable) () -> me.layerNorm(t(2, 7), t(7), t(7), 1e-5f, strided(2, 7),
                        t(2), t(2))),
                Arguments.of("layerNorm rstd", (Executable) () -> me.layerNorm(t(2, 7), t(7), t(7), 1e-5f, t(2, 7),
                        t(2), strided(2))),
                Arguments.of("layerNormBackward dx", (Executable) () -> me.layerNormBackward(t(2, 7), t(2, 7), t(7),
                        t(2), t(2), strided(2, 7), t(7), t(7))),
                Arguments.of("layerNormBackward dgamma", (Executable) () -> me.layerNormBackward(t(2, 7), t(2, 7),
                        t(7), t(2), t(2), t(2, 7), strided(7), t(7))),
                Arguments.of("layerNormBackward dbeta", (Executable) () -> me.layerNormBackward(t(2, 7), t(2, 7),
                        t(7), t(2), t(2), t(2, 7), t(7), strided(7))),
                Arguments.of("crossEntropy losses", (Executable) () -> me.crossEntropy(t(2, 7), labels, 0f, strided(2))),
                Arguments.of("crossEntropyBackward dlogits", (Executable) () -> me.crossEntropyBackward(t(2, 7), labels,
                        0f, t(2), strided(2, 7))),
                Arguments.of("gather out", (Executable) () -> me.gather(t(2, 7), 1, new int[] {0, 1, 2, 3, 4, 5, 6,
                        0, 1, 2, 3, 4, 5, 6}, strided(2, 7))),
                Arguments.of("scatterAdd out", (Executable) () -> me.scatterAdd(t(2, 7), 1, new int[] {0, 1, 2, 3, 4, 5,
                        6, 0, 1, 2, 3, 4, 5, 6}, strided(2, 7))),
                Arguments.of("concat out", (Executable) () -> me.concat(List.of(t(2, 3), t(2, 4)), 1, strided(2, 7))),
                Arguments.of("slice out", (Executable) () -> me.slice(t(2, 9), 1, 1, strided(2, 7))),
                Arguments.of("fill out", (Executable) () -> me.fill(strided(2, 7), 1f)),
                Arguments.of("mssaForward output", (Executable) () -> me.fused().mssaForward(t(2, 3, 4), 2, 0.5f,
                        strided(2, 3, 4), null)),
                Arguments.of("mssaForward attn", (Executable) () -> me.fused().mssaForward(t(2, 3, 4), 2, 0.5f, t(2, 3, 4),
                        strided(2, 2, 3, 3))),
                Arguments.of("mssaBackward dw", (Executable) () -> me.fused().mssaBackward(t(2, 3, 4), null, t(2, 3, 4), 2,
                        0.5f, strided(2, 3, 4))),
                Arguments.of("istaForward output", (Executable) () -> me.fused().istaForward(t(3, 4), t(4, 4), 0.1f, 0.1f,
                        strided(3, 4))),
                Arguments.of("istaBackward dx", (Executable) () -> me.fused().istaBackward(t(3, 4), t(4, 4), t(3, 4),
                        t(3, 4), 0.1f, strided(3, 4), t(4, 4))),
                Arguments.of("istaBackward dDict", (Executable) () -> me.fused().istaBackward(t(3, 4), t(4, 4), t(3, 4),
                        t(3, 4), 0.1f, t(3, 4), strided(4, 4))),
                Arguments.of("randomUniform out", (Executable) () -> me.randomUniform(strided(2, 7), 1L, 0f, 1f)),
                Arguments.of("randomNormal out", (Executable) () -> me.randomNormal(strided(2, 7), 1L, 0f, 1f)));
    }

    /**
     * Backend.java: "outputs must be contiguous". An op that accepts a strided output and writes it as if dense
     * corrupts memory it was not given, so every output must be checked.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("nonContiguousOutputCases")
    void nonContiguousOutputIsRejected(String what, Executable call) {
        assertRejects(call, what.split(" ")[0], "contiguous");
    }
}

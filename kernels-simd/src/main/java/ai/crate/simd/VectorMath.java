package ai.crate.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Deterministic building blocks — {@link #exp} and {@link #sum} — and GELU with its derivative, which need erfc, a
 * function the Vector API lacks.
 *
 * <p>Why our own exp and lane sum: the Vector API's {@code lanewise(EXP)} and {@code reduceLanes(ADD)} give different
 * bits before and after C2 compiles a loop (a Java fallback per lane and a sequential sum, then an SVML call and a
 * tree of adds; measured). Training would then depend on JIT timing, and a resumed run could not end bit-identical
 * to an uninterrupted one. Built only from correctly rounded operations (add, mul, fma, min, max, conversions), these
 * give the same bits in every execution mode.
 *
 * <p>GELU and its derivative: a helper that takes or returns a vector must be inlined by C2 or every vector crossing
 * it is boxed on the heap, and C2 declines once a method grows past its node limit (GELU then ran 5x slower). So
 * GELU is one loop with its formula written inline, calling exp once, and the derivative, which needs two exps, runs
 * in passes of one exp each. Tails go through a one-vector scratch, so each loop body exists once and needs no mask.
 */
final class VectorMath {
    /**
     * The one float species of every SIMD kernel. A float vector of a second shape (SimdRandom once made its floats
     * half-width) makes the JDK's shared call sites (FloatVector.mul(float), min(float), …) see two classes, and in
     * about a third of JVM runs C2 then compiled exp without its intrinsics, every operation boxed for the rest of the
     * run (fmnist-small: 3–4× the collections, inference 0.6× the images/s; BENCHMARKS.md, speed-work item 8).
     */
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float INV_SQRT2 = (float) Math.sqrt(0.5);
    private static final float INV_SQRT_2PI = (float) (1.0 / Math.sqrt(2.0 * Math.PI));

    private VectorMath() {}

    /**
     * e^x lane by lane (Cephes' expf: x = n·ln2 + r with ln2 split in two, a degree-7 polynomial for e^r, 2ⁿ put into
     * the exponent bits): within 2 ulp of the true value for x in [−87.3, 88.4]; inputs beyond are clamped there.
     * The constants are broadcast from scalars here rather than kept in static final vectors: C2 hoists a broadcast
     * out of the caller's loop, but reloads a static vector's payload on every use (the column softmax ran 1.3×
     * slower that way, measured).
     */
    static FloatVector exp(FloatVector x) {
        FloatVector rounder = FloatVector.broadcast(S, 12582912f);   // 1.5·2²³: t + R − R rounds t to an integer
        FloatVector v = x.min(88.3762626647949f).max(-87.3365447505531f);
        FloatVector n = v.mul(1.44269504088896341f).add(rounder).sub(rounder);
        FloatVector r = n.fma(FloatVector.broadcast(S, -0.693359375f), v);   // v − n·ln2 in two exact-product steps
        r = n.fma(FloatVector.broadcast(S, 2.12194440e-4f), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, 1.9875691500e-4f), FloatVector.broadcast(S, 1.3981999507e-3f))
                .fma(r, FloatVector.broadcast(S, 8.3334519073e-3f))
                .fma(r, FloatVector.broadcast(S, 4.1665795894e-2f))
                .fma(r, FloatVector.broadcast(S, 1.6666665459e-1f))
                .fma(r, FloatVector.broadcast(S, 5.0000001201e-1f));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    /** Lane permutations i → i xor 2^k, largest k first: the fixed pairing tree of {@link #sum}. */
    private static final VectorShuffle<Float>[] PAIRS = pairs();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] pairs() {
        int steps = Integer.numberOfTrailingZeros(L);
        VectorShuffle<Float>[] out = new VectorShuffle[steps];
        for (int k = 0; k < steps; k++) {
            int half = L >> (k + 1);
            out[k] = VectorShuffle.fromOp(S, i -> i ^ half);
        }
        return out;
    }

    /**
     * The sum of the lanes by a fixed pairing tree (halves, then quarters, …): lane shuffles and lanewise adds are
     * exact and ordered the same in every execution mode, unlike reduceLanes(ADD).
     */
    static float sum(FloatVector v) {
        for (VectorShuffle<Float> p : PAIRS) v = v.add(v.rearrange(p));
        return v.lane(0);
    }

    /** o[i] = x[i]·Φ(x[i]) for i < n. */
    static void gelu(float[] x, int xo, float[] o, int oo, int n) {
        int full = n - n % L;
        geluWhole(x, xo, o, oo, full);
        if (full < n) {
            float[] tail = new float[L];
            System.arraycopy(x, xo + full, tail, 0, n - full);
            geluWhole(tail, 0, tail, 0, L);
            System.arraycopy(tail, 0, o, oo + full, n - full);
        }
    }

    /**
     * dx[i] = dy[i]·(Φ(x[i]) + x[i]·φ(x[i])) for i < n, in blocks of three passes — exp's arguments, exp over them,
     * the product — so that each loop calls exp at most once. With both exps in one loop C2 reached its inlining
     * node limit at the second, which then boxed every vector crossing it (5.2 GB/s against the forward's 14, and
     * 9.7 % of a ViT train step; BENCHMARKS.md, speed-work item 9). Same operations in the same order: same bits.
     */
    static void geluBackward(float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo, int n) {
        float[] scratch = new float[3 * BLOCK];
        int full = n - n % L;
        for (int s = 0; s < full; s += BLOCK) {
            geluBackwardBlock(x, xo + s, dy, dyo + s, dx, dxo + s, Math.min(BLOCK, full - s), scratch);
        }
        if (full < n) {
            float[] tailX = new float[L], tailDy = new float[L];
            System.arraycopy(x, xo + full, tailX, 0, n - full);
            System.arraycopy(dy, dyo + full, tailDy, 0, n - full);
            geluBackwardBlock(tailX, 0, tailDy, 0, tailX, 0, L, scratch);
            System.arraycopy(tailX, 0, dx, dxo + full, n - full);
        }
    }

    /** Floats per pass of geluBackward: its three scratch rows (12 KB at 16 lanes) stay in L1. */
    private static final int BLOCK = 64 * L;

    // Φ comes from erfc(z), z = |x|/√2 ≥ 0, by the Chebyshev-fitted form t·exp(−z² + P(t)), t = 1/(1 + z/2)
    // (Numerical Recipes' erfcc): fractional error below 1.2e-7 for every z, so the left tail keeps its relative
    // precision. Every constant is a vector made before its loop: a scalar operand inside it would be a broadcast per
    // iteration, which C2 does not always turn into a register.
    private static final float C9 = 0.17087277f, C8 = -0.82215223f, C7 = 1.48851587f, C6 = -1.13520398f;
    private static final float C5 = 0.27886807f, C4 = -0.18628806f, C3 = 0.09678418f, C2 = 0.37409196f;
    private static final float C1 = 1.00002368f, C0 = -1.26551223f;

    /** o = x·Φ(x) over whole vectors (n a multiple of L). */
    private static void geluWhole(float[] x, int xo, float[] o, int oo, int n) {
        FloatVector one = FloatVector.broadcast(S, 1f), zero = FloatVector.zero(S), half = FloatVector.broadcast(S, 0.5f);
        FloatVector invSqrt2 = FloatVector.broadcast(S, INV_SQRT2);
        FloatVector c9 = FloatVector.broadcast(S, C9), c8 = FloatVector.broadcast(S, C8);
        FloatVector c7 = FloatVector.broadcast(S, C7), c6 = FloatVector.broadcast(S, C6);
        FloatVector c5 = FloatVector.broadcast(S, C5), c4 = FloatVector.broadcast(S, C4);
        FloatVector c3 = FloatVector.broadcast(S, C3), c2 = FloatVector.broadcast(S, C2);
        FloatVector c1 = FloatVector.broadcast(S, C1), c0 = FloatVector.broadcast(S, C0);
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            FloatVector z = v.abs().mul(invSqrt2);
            FloatVector t = one.div(z.fma(half, one));
            FloatVector p = t.fma(c9, c8).fma(t, c7).fma(t, c6).fma(t, c5).fma(t, c4).fma(t, c3).fma(t, c2)
                    .fma(t, c1).fma(t, c0);
            FloatVector halfErfc = t.mul(exp(z.mul(z).neg().add(p))).mul(half);
            VectorMask<Float> negative = v.compare(VectorOperators.LT, zero);
            v.mul(one.sub(halfErfc).blend(halfErfc, negative)).intoArray(o, oo + i);
        }
    }

    /**
     * One block of geluBackward (n ≤ BLOCK, a multiple of L). scratch holds t, then e^(−z² + P(t)) at BLOCK, then
     * e^(−x²/2) at 2·BLOCK.
     */
    private static void geluBackwardBlock(float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo, int n,
            float[] scratch) {
        FloatVector one = FloatVector.broadcast(S, 1f), half = FloatVector.broadcast(S, 0.5f);
        FloatVector invSqrt2 = FloatVector.broadcast(S, INV_SQRT2), minusHalf = FloatVector.broadcast(S, -0.5f);
        FloatVector c9 = FloatVector.broadcast(S, C9), c8 = FloatVector.broadcast(S, C8);
        FloatVector c7 = FloatVector.broadcast(S, C7), c6 = FloatVector.broadcast(S, C6);
        FloatVector c5 = FloatVector.broadcast(S, C5), c4 = FloatVector.broadcast(S, C4);
        FloatVector c3 = FloatVector.broadcast(S, C3), c2 = FloatVector.broadcast(S, C2);
        FloatVector c1 = FloatVector.broadcast(S, C1), c0 = FloatVector.broadcast(S, C0);
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            FloatVector z = v.abs().mul(invSqrt2);
            FloatVector t = one.div(z.fma(half, one));
            FloatVector p = t.fma(c9, c8).fma(t, c7).fma(t, c6).fma(t, c5).fma(t, c4).fma(t, c3).fma(t, c2)
                    .fma(t, c1).fma(t, c0);
            t.intoArray(scratch, i);
            z.mul(z).neg().add(p).intoArray(scratch, BLOCK + i);
            v.mul(v).mul(minusHalf).intoArray(scratch, 2 * BLOCK + i);
        }
        expInPlace(scratch, BLOCK, n);
        expInPlace(scratch, 2 * BLOCK, n);
        FloatVector zero = FloatVector.zero(S), invSqrt2Pi = FloatVector.broadcast(S, INV_SQRT_2PI);
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            FloatVector halfErfc = FloatVector.fromArray(S, scratch, i)
                    .mul(FloatVector.fromArray(S, scratch, BLOCK + i)).mul(half);
            VectorMask<Float> negative = v.compare(VectorOperators.LT, zero);
            FloatVector cdf = one.sub(halfErfc).blend(halfErfc, negative);
            FloatVector pdf = FloatVector.fromArray(S, scratch, 2 * BLOCK + i).mul(invSqrt2Pi);
            v.fma(pdf, cdf).mul(FloatVector.fromArray(S, dy, dyo + i)).intoArray(dx, dxo + i);
        }
    }

    /** a[o + i] = e^a[o + i] for i < n (a multiple of L). */
    private static void expInPlace(float[] a, int o, int n) {
        for (int i = 0; i < n; i += L) exp(FloatVector.fromArray(S, a, o + i)).intoArray(a, o + i);
    }
}

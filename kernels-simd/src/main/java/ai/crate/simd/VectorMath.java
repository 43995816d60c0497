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
 * GELU and its derivative run in passes over L1 blocks, one exp per loop. Tails go through a one-vector scratch, so
 * each loop body exists once and needs no mask.
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
        gelu(x, xo, null, 0, o, oo, n);
    }

    /**
     * dx[i] = dy[i]·(Φ(x[i]) + x[i]·φ(x[i])) for i < n. Both GELU and its derivative run in blocks of passes — exp's
     * arguments, exp over them, the product — so that each loop calls exp at most once: with the derivative's two
     * exps in one loop C2 reached its inlining node limit at the second, which then boxed every vector crossing it
     * (5.2 GB/s against the forward's 14, and 9.7 % of a ViT train step; BENCHMARKS.md, speed-work item 9).
     */
    static void geluBackward(float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo, int n) {
        gelu(x, xo, dy, dyo, dx, dxo, n);
    }

    /** GELU when dy is null, else its derivative times dy, for i < n; the tail through a one-vector scratch. */
    private static void gelu(float[] x, int xo, float[] dy, int dyo, float[] o, int oo, int n) {
        float[] scratch = new float[3 * BLOCK];
        int full = n - n % L;
        for (int s = 0; s < full; s += BLOCK) {
            geluBlock(x, xo + s, dy, dyo + s, o, oo + s, Math.min(BLOCK, full - s), scratch);
        }
        if (full < n) {
            float[] tailX = new float[L], tailDy = dy == null ? null : new float[L];
            System.arraycopy(x, xo + full, tailX, 0, n - full);
            if (dy != null) System.arraycopy(dy, dyo + full, tailDy, 0, n - full);
            geluBlock(tailX, 0, tailDy, 0, tailX, 0, L, scratch);
            System.arraycopy(tailX, 0, o, oo + full, n - full);
        }
    }

    /** Floats per pass: the three scratch rows (12 KB at 16 lanes) stay in L1. */
    private static final int BLOCK = 64 * L;

    /** One block (n ≤ BLOCK, a multiple of L): the arguments, their exps, then the product. */
    private static void geluBlock(float[] x, int xo, float[] dy, int dyo, float[] o, int oo, int n, float[] scratch) {
        erfcParts(x, xo, n, scratch, dy != null);
        expInPlace(scratch, BLOCK, n);
        if (dy == null) {
            geluProduct(x, xo, o, oo, n, scratch);
        } else {
            expInPlace(scratch, 2 * BLOCK, n);
            geluDerivativeProduct(x, xo, dy, dyo, o, oo, n, scratch);
        }
    }

    // Φ comes from erfc(z), z = |x|/√2 ≥ 0, by the Chebyshev-fitted form t·exp(−z² + P(t)), t = 1/(1 + z/2)
    // (Numerical Recipes' erfcc): fractional error below 1.2e-7 for every z, so the left tail keeps its relative
    // precision. Every constant is a vector made before its loop: a scalar operand inside it would be a broadcast per
    // iteration, which C2 does not always turn into a register.
    private static final float C9 = 0.17087277f, C8 = -0.82215223f, C7 = 1.48851587f, C6 = -1.13520398f;
    private static final float C5 = 0.27886807f, C4 = -0.18628806f, C3 = 0.09678418f, C2 = 0.37409196f;
    private static final float C1 = 1.00002368f, C0 = -1.26551223f;

    /** scratch ← t at 0, −z² + P(t) at BLOCK and, when {@code pdf}, −x²/2 at 2·BLOCK (n a multiple of L). */
    private static void erfcParts(float[] x, int xo, int n, float[] scratch, boolean pdf) {
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
            if (pdf) v.mul(v).mul(minusHalf).intoArray(scratch, 2 * BLOCK + i);
        }
    }

    /** o = x·Φ(x), from scratch's t and e^(−z² + P(t)). */
    private static void geluProduct(float[] x, int xo, float[] o, int oo, int n, float[] scratch) {
        FloatVector one = FloatVector.broadcast(S, 1f), half = FloatVector.broadcast(S, 0.5f), zero = FloatVector.zero(S);
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            FloatVector halfErfc = FloatVector.fromArray(S, scratch, i)
                    .mul(FloatVector.fromArray(S, scratch, BLOCK + i)).mul(half);
            VectorMask<Float> negative = v.compare(VectorOperators.LT, zero);
            v.mul(one.sub(halfErfc).blend(halfErfc, negative)).intoArray(o, oo + i);
        }
    }

    /** dx = dy·(Φ(x) + x·φ(x)), from scratch's t, e^(−z² + P(t)) and e^(−x²/2). */
    private static void geluDerivativeProduct(float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo, int n,
            float[] scratch) {
        FloatVector one = FloatVector.broadcast(S, 1f), half = FloatVector.broadcast(S, 0.5f), zero = FloatVector.zero(S);
        FloatVector invSqrt2Pi = FloatVector.broadcast(S, INV_SQRT_2PI);
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

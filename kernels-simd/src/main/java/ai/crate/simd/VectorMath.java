package ai.crate.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * GELU and its derivative, which need erfc, a function the Vector API lacks. Each is one loop with the whole formula
 * written inline: a helper that takes or returns a vector must be inlined by C2 or every vector crossing it is boxed
 * on the heap, and C2 declined to inline such a helper in some compilations (GELU then ran 5x slower). Tails go
 * through a one-vector scratch, so the loop body exists once and needs no mask.
 */
final class VectorMath {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float INV_SQRT2 = (float) Math.sqrt(0.5);
    private static final float INV_SQRT_2PI = (float) (1.0 / Math.sqrt(2.0 * Math.PI));

    private VectorMath() {}

    /** 1/x lane by lane. */
    static FloatVector inv(FloatVector x) { return FloatVector.broadcast(S, 1f).div(x); }

    /** o[i] = x[i]·Φ(x[i]) for i < n. */
    static void gelu(float[] x, int xo, float[] o, int oo, int n) {
        int full = n - n % L;
        gelu(x, xo, null, 0, o, oo, full);
        if (full < n) {
            float[] tail = new float[L];
            System.arraycopy(x, xo + full, tail, 0, n - full);
            gelu(tail, 0, null, 0, tail, 0, L);
            System.arraycopy(tail, 0, o, oo + full, n - full);
        }
    }

    /** dx[i] = dy[i]·(Φ(x[i]) + x[i]·φ(x[i])) for i < n. */
    static void geluBackward(float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo, int n) {
        int full = n - n % L;
        gelu(x, xo, dy, dyo, dx, dxo, full);
        if (full < n) {
            float[] tailX = new float[L], tailDy = new float[L];
            System.arraycopy(x, xo + full, tailX, 0, n - full);
            System.arraycopy(dy, dyo + full, tailDy, 0, n - full);
            gelu(tailX, 0, tailDy, 0, tailX, 0, L);
            System.arraycopy(tailX, 0, dx, dxo + full, n - full);
        }
    }

    /**
     * Over whole vectors (n a multiple of L): GELU when dy is null, else its derivative times dy. Φ comes from
     * erfc(z), z = |x|/√2 ≥ 0, by the Chebyshev-fitted form t·exp(−z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes'
     * erfcc): fractional error below 1.2e-7 for every z, so the left tail keeps its relative precision.
     */
    private static void gelu(float[] x, int xo, float[] dy, int dyo, float[] o, int oo, int n) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            FloatVector z = v.abs().mul(INV_SQRT2);
            FloatVector t = one.div(z.fma(0.5f, 1f));
            FloatVector p = t.fma(0.17087277f, -0.82215223f);
            p = p.fma(t, FloatVector.broadcast(S, 1.48851587f));
            p = p.fma(t, FloatVector.broadcast(S, -1.13520398f));
            p = p.fma(t, FloatVector.broadcast(S, 0.27886807f));
            p = p.fma(t, FloatVector.broadcast(S, -0.18628806f));
            p = p.fma(t, FloatVector.broadcast(S, 0.09678418f));
            p = p.fma(t, FloatVector.broadcast(S, 0.37409196f));
            p = p.fma(t, FloatVector.broadcast(S, 1.00002368f));
            p = p.fma(t, FloatVector.broadcast(S, -1.26551223f));
            FloatVector halfErfc = t.mul(z.mul(z).neg().add(p).lanewise(VectorOperators.EXP)).mul(0.5f);
            VectorMask<Float> negative = v.compare(VectorOperators.LT, 0f);
            FloatVector cdf = one.sub(halfErfc).blend(halfErfc, negative);
            if (dy == null) {
                v.mul(cdf).intoArray(o, oo + i);
            } else {
                FloatVector pdf = v.mul(v).mul(-0.5f).lanewise(VectorOperators.EXP).mul(INV_SQRT_2PI);
                v.fma(pdf, cdf).mul(FloatVector.fromArray(S, dy, dyo + i)).intoArray(o, oo + i);
            }
        }
    }
}

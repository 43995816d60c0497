package ai.crate.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Vector forms of the functions the Vector API lacks (erfc, the normal CDF, GELU and its derivative). */
final class VectorMath {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float INV_SQRT2 = (float) Math.sqrt(0.5);
    private static final float INV_SQRT_2PI = (float) (1.0 / Math.sqrt(2.0 * Math.PI));

    private VectorMath() {}

    /**
     * erfc(z) for z ≥ 0 by the Chebyshev-fitted form t·exp(−z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes'
     * erfcc): fractional error below 1.2e-7 for every z, so tails keep their relative precision.
     */
    static FloatVector erfcNonNegative(FloatVector z) {
        FloatVector t = inv(z.fma(0.5f, 1f));
        FloatVector p = t.fma(0.17087277f, -0.82215223f);
        p = p.fma(t, FloatVector.broadcast(S, 1.48851587f));
        p = p.fma(t, FloatVector.broadcast(S, -1.13520398f));
        p = p.fma(t, FloatVector.broadcast(S, 0.27886807f));
        p = p.fma(t, FloatVector.broadcast(S, -0.18628806f));
        p = p.fma(t, FloatVector.broadcast(S, 0.09678418f));
        p = p.fma(t, FloatVector.broadcast(S, 0.37409196f));
        p = p.fma(t, FloatVector.broadcast(S, 1.00002368f));
        p = p.fma(t, FloatVector.broadcast(S, -1.26551223f));
        return t.mul(z.mul(z).neg().add(p).lanewise(VectorOperators.EXP));
    }

    /** 1/x lane by lane. */
    static FloatVector inv(FloatVector x) { return FloatVector.broadcast(S, 1f).div(x); }

    /** Φ(x), the standard normal CDF. */
    static FloatVector normalCdf(FloatVector x) {
        FloatVector half = erfcNonNegative(x.abs().mul(INV_SQRT2)).mul(0.5f);
        VectorMask<Float> negative = x.compare(VectorOperators.LT, 0f);
        return half.neg().add(1f).blend(half, negative);
    }

    static FloatVector gelu(FloatVector x) { return x.mul(normalCdf(x)); }

    /** d/dx x·Φ(x) = Φ(x) + x·φ(x). */
    static FloatVector geluDerivative(FloatVector x) {
        FloatVector pdf = x.mul(x).mul(-0.5f).lanewise(VectorOperators.EXP).mul(INV_SQRT_2PI);
        return x.fma(pdf, normalCdf(x));
    }
}

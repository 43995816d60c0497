package ai.crate.engine;

/**
 * Counter-based random numbers: the value at index i depends only on (seed, i), never on order or threading, so
 * every backend — sequential, SIMD or GPU — fills a tensor with the same numbers.
 */
public final class CounterRandom {
    public static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private CounterRandom() {}

    /** SplitMix64's finaliser (Stafford's mix 13): a bijective avalanche of 64 bits. */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The 64 random bits at counter {@code i}. */
    public static long bits(long seed, long i) {
        return mix64(seed + (i + 1) * GOLDEN_GAMMA);
    }

    /** Uniform in [0, 1) with 24 bits of resolution, exactly representable as a float. */
    public static float uniform(long seed, long i) {
        return (bits(seed, i) >>> 40) * 0x1.0p-24f;
    }

    /**
     * Uniform in [low, high): low + (high − low)·u rounded as two float operations (every backend must round the same
     * way), then kept below high, which the rounding can reach when u is close to 1.
     */
    public static float uniform(long seed, long i, float low, float high) {
        float v = low + (high - low) * uniform(seed, i);
        return v < high ? v : Math.nextDown(high);
    }

    /** Standard normal at index i by Box–Muller over the uniforms at counters 2i and 2i+1. */
    public static float normal(long seed, long i) {
        double u1 = 1.0 - uniform(seed, 2 * i);       // (0, 1]: log stays finite
        double u2 = uniform(seed, 2 * i + 1);
        return (float) (Math.sqrt(-2.0 * StrictMath.log(u1)) * StrictMath.cos(2.0 * Math.PI * u2));
    }
}

package ai.crate.model.nn;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;

/**
 * Seeded initialisation as PyTorch's defaults and the official CRATE code do it. Every tensor draws from its own
 * stream (the seed mixed with a running counter), so a model's weights depend only on the seed and the
 * configuration, on every backend.
 */
public final class Init {
    private final Backend backend;
    private final long seed;
    private long counter;

    public Init(Backend backend, long seed) {
        this.backend = backend;
        this.seed = seed;
    }

    public Backend backend() { return backend; }

    private long nextSeed() {
        long z = seed + 0x9E3779B97F4A7C15L * ++counter;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public Tensor uniform(float bound, int... shape) {
        Tensor t = backend.empty(shape);
        backend.randomUniform(t, nextSeed(), -bound, bound);
        return t;
    }

    /** torch.randn: standard normal. */
    public Tensor normal(int... shape) {
        Tensor t = backend.empty(shape);
        backend.randomNormal(t, nextSeed(), 0f, 1f);
        return t;
    }

    public Tensor constant(float value, int... shape) {
        Tensor t = backend.empty(shape);
        backend.fill(t, value);
        return t;
    }

    /** kaiming_uniform_ with negative slope a for a [fanOut, fanIn] weight: bound = √(6 / ((1 + a²)·fanIn)). */
    public Tensor kaimingUniform(double a, int fanOut, int fanIn) {
        return uniform((float) Math.sqrt(6.0 / ((1 + a * a) * fanIn)), fanOut, fanIn);
    }
}

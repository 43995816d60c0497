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
    private final boolean timmLinears;
    private long counter;

    /** PyTorch's default init for every layer. */
    public Init(Backend backend, long seed) { this(backend, seed, false); }

    private Init(Backend backend, long seed, boolean timmLinears) {
        this.backend = backend;
        this.seed = seed;
        this.timmLinears = timmLinears;
    }

    /**
     * timm's ViT init ({@code init_weights_vit_timm}): Linear weights trunc_normal(std 0.02) and biases zero; every
     * other layer as PyTorch's default.
     */
    public static Init timm(Backend backend, long seed) { return new Init(backend, seed, true); }

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

    /** torch's {@code normal_(std=std)}, drawn as randn scaled by std (so the values are randn's times std). */
    public Tensor normal(float std, int... shape) {
        Tensor t = normal(shape);
        backend.affine(t, std, 0f, t);
        return t;
    }

    /**
     * timm's {@code trunc_normal_(std=std)}: N(0, std²) cut to [−2, 2]. For the small std it is used with (0.02) the
     * cut lies beyond 50σ and never happens in float32 draws, so this refuses a std where it would.
     */
    public Tensor truncNormal(float std, int... shape) {
        if (!(std > 0 && std <= 0.04f)) throw new IllegalArgumentException("truncNormal: std " + std + " not in (0, 0.04]");
        Tensor t = backend.empty(shape);
        backend.randomNormal(t, nextSeed(), 0f, std);
        return t;
    }

    public Tensor constant(float value, int... shape) {
        Tensor t = backend.empty(shape);
        backend.fill(t, value);
        return t;
    }

    /** An nn.Linear weight [out, in]: PyTorch's kaiming-uniform a = √5, i.e. U(±1/√in), or timm's trunc_normal(0.02). */
    public Tensor linearWeight(int out, int in) {
        return timmLinears ? truncNormal(0.02f, out, in) : kaimingUniform(Math.sqrt(5), out, in);
    }

    /** An nn.Linear bias [out]: PyTorch's U(±1/√in), or timm's zeros. */
    public Tensor linearBias(int out, int in) {
        return timmLinears ? constant(0f, out) : uniform((float) (1 / Math.sqrt(in)), out);
    }

    /** kaiming_uniform_ with negative slope a for a [fanOut, fanIn] weight: bound = √(6 / ((1 + a²)·fanIn)). */
    public Tensor kaimingUniform(double a, int fanOut, int fanIn) {
        return uniform((float) Math.sqrt(6.0 / ((1 + a * a) * fanIn)), fanOut, fanIn);
    }
}

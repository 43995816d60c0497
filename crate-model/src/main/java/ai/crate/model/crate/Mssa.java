package ai.crate.model.crate;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Linear;
import ai.crate.model.nn.Taps;
import ai.crate.model.nn.TokenMixer;
import java.util.List;

/**
 * Multi-head subspace self-attention with its pre-norm, as the official {@code PreNorm(Attention)} layer's branch:
 * W_out·MSSA(LN(Z)) + b_out, where MSSA projects once, W = LN(Z)·Uᵀ, and uses W as query, key and value of every
 * head (U is the official {@code qkv.weight}, no bias). The block adds Z.
 */
public final class Mssa extends TokenMixer {
    private final LayerNorm norm;
    private final Linear qkv;
    private final Linear toOut;
    private final int heads;
    private final float scale;

    /** CRATE's: U [d, d], W_out with a bias, LayerNorm eps 1e-5. */
    public Mssa(Init init, int dim, int heads) { this(init, dim, dim, heads, true, LayerNorm.EPS); }

    /**
     * U [inner, d] (heads of width inner/heads), W_out [d, inner] with or without a bias, the pre-norm's eps:
     * CRATE-α's MSSA has no bias on W_out and eps 1e-6.
     */
    public Mssa(Init init, int dim, int inner, int heads, boolean outBias, float eps) {
        this.norm = child("norm", new LayerNorm(init, dim, eps));
        this.qkv = child("fn.qkv", new Linear(init, dim, inner, false));
        this.toOut = child("fn.to_out.0", new Linear(init, inner, dim, outBias));
        this.heads = heads;
        this.scale = (float) (1.0 / Math.sqrt(inner / heads));   // head width^-½, the official dim_head ** -0.5
    }

    public int heads() { return heads; }

    /** The head features are W = LN(Z)·Uᵀ, queries, keys and values at once. */
    @Override
    public List<String> headFeatureParts() { return List.of("w"); }

    @Override
    public Variable attend(Variable w) { return F.mssa(w, heads, scale, true); }

    @Override
    public int projectedWidth() { return qkv.weight().shape()[0]; }

    @Override
    public Variable forward(Variable z, Taps taps) {
        return attentionBranch(z, norm, qkv, toOut, heads, taps, (w, keep, maps) -> F.mssa(w, heads, scale, keep, maps));
    }

    /** Parameters of one layer of width d and head features of width inner: the norm, U, and W_out (± its bias). */
    public static long parameterCount(long d, long inner, boolean outBias) {
        return 2 * d + inner * d + d * inner + (outBias ? d : 0);
    }

    /** FLOPs for n tokens of width d, head features of width inner: U, W Wᵀ and A W per head, W_out. */
    public static double flops(double n, double d, double inner) {
        return 2 * n * d * inner + 2 * (2 * n * n * inner) + 2 * n * inner * d;
    }
}

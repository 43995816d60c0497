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

    public Mssa(Init init, int dim, int heads) {
        this.norm = child("norm", new LayerNorm(init, dim));
        this.qkv = child("fn.qkv", new Linear(init, dim, dim, false));
        this.toOut = child("fn.to_out.0", new Linear(init, dim, dim, true));
        this.heads = heads;
        this.scale = (float) (1.0 / Math.sqrt(dim / heads));   // head width^-½, the official dim_head ** -0.5
    }

    public int heads() { return heads; }

    /** The head features are W = LN(Z)·Uᵀ, queries, keys and values at once. */
    @Override
    public List<String> headFeatureParts() { return List.of("w"); }

    @Override
    public Variable forward(Variable z, Taps taps) {
        return attentionBranch(z, norm, qkv, toOut, heads, taps, (w, keep, maps) -> F.mssa(w, heads, scale, keep, maps));
    }

    /** Parameters of one layer of width d: the norm, U, and W_out with its bias. */
    static long parameterCount(long d) { return 2 * d + d * d + d * d + d; }

    /** FLOPs for n tokens of width d: U, W Wᵀ and A W per head, W_out. */
    static double flops(double n, double d) { return 2 * n * d * d + 2 * (2 * n * n * d) + 2 * n * d * d; }
}

package ai.crate.model;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;

/**
 * Multi-head subspace self-attention with its pre-norm and residual, as the official
 * {@code PreNorm(Attention)} layer: Z + W_out·MSSA(LN(Z)) + b_out, where MSSA projects once, W = LN(Z)·Uᵀ, and uses W
 * as query, key and value of every head (U is the official {@code qkv.weight}, no bias).
 */
public final class Mssa extends Module {
    private final LayerNorm norm;
    private final Linear qkv;
    private final Linear toOut;
    private final int heads;
    private final float scale;

    public Mssa(Init init, CrateConfig config) { this(init, config.dim(), config.heads()); }

    public Mssa(Init init, int dim, int heads) {
        this.norm = child("norm", new LayerNorm(init, dim));
        this.qkv = child("fn.qkv", new Linear(init, dim, dim, false));
        this.toOut = child("fn.to_out.0", new Linear(init, dim, dim, true));
        this.heads = heads;
        this.scale = (float) (1.0 / Math.sqrt(dim / heads));
    }

    /** The attention branch alone, W_out·MSSA(LN(z)) + b_out, without the residual (the MAE decoder subtracts it). */
    public Variable attend(Variable z, boolean keepAttention) {
        return toOut.forward(F.mssa(qkv.forward(norm.forward(z)), heads, scale, keepAttention));
    }

    /** Z + MSSA(Z); with {@code keepAttention} the backward reuses the forward's attention instead of recomputing. */
    public Variable forward(Variable z, boolean keepAttention) { return F.add(z, attend(z, keepAttention)); }

    LayerNorm norm() { return norm; }

    Linear qkv() { return qkv; }

    Linear toOut() { return toOut; }
}

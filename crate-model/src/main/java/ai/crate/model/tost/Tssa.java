package ai.crate.model.tost;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Linear;
import ai.crate.model.nn.Taps;
import ai.crate.model.nn.TokenMixer;
import java.util.List;

/**
 * Token-statistics self-attention with its pre-norm and LayerScale, ToST's attention branch
 * γ₁ ⊙ to_out(TSSA(norm1(x))) (keys {@code norm1}, {@code attn.qkv}, {@code attn.temp}, {@code attn.to_out.0},
 * {@code gamma1}). Per head k on w = qkv(x) ([N, p] per image): ŵ = w / max(‖w‖ over tokens, 1e-12);
 * Π = softmax over the heads of temp_k·Σ_dims ŵ² (each token's membership in the heads); s = Σ_tokens
 * (Π/(Σ_tokens Π + 1e-8))·w²; out = −(w·Π)/(1 + s). Composed from autograd primitives: every intermediate is
 * [B, H, N, p], [B, H, N] or [B, H, 1, p], so time and memory are linear in N — no N × N matrix, forward or backward.
 */
public final class Tssa extends TokenMixer {
    private final LayerNorm norm;
    private final Linear qkv;
    private final Variable temp;
    private final Linear toOut;
    private final Variable gamma;
    private final int heads;

    public Tssa(Init init, int dim, int heads, float layerScale) {
        this.norm = child("norm1", new LayerNorm(init, dim, Tost.EPS));
        this.qkv = child("attn.qkv", new Linear(init, dim, dim, true));
        this.temp = parameter("attn.temp", init.constant(1f, heads, 1));
        this.toOut = child("attn.to_out.0", new Linear(init, dim, dim, true));
        this.gamma = parameter("gamma1", init.constant(layerScale, dim));
        this.heads = heads;
    }

    @Override
    public List<String> headFeatureParts() { return List.of("w"); }

    /** TSSA makes no token-by-token attention; its map is the membership Π. */
    @Override
    public boolean hasAttentionMaps() { return false; }

    @Override
    public Variable forward(Variable x, Taps taps) {
        Variable y = norm.forward(x);
        Variable w = qkv.forward(y);
        y.discard();
        Variable out = attend(w);
        if (taps.wantsHeadFeatures()) taps.headFeatures(w.value());
        Variable result = F.mul(toOut.forward(out), gamma);
        out.discard();
        return result;
    }

    /** TSSA on w [B, N, d]: −(w·Π)/(1 + s) per head, heads concatenated, [B, N, d]. */
    @Override
    public Variable attend(Variable w) {
        int[] s = w.shape();
        int b = s[0], n = s[1], d = s[2], p = d / heads;
        Variable wh = F.transpose(F.reshape(w, b, n, heads, p), 1, 2);               // [B, H, N, p] view
        Variable sq = F.square(wh);
        Variable pi = membership(sq, b, n);
        Variable mass = F.affine(F.sum(pi, 2, true), 1f, 1e-8f);                     // [B, H, 1]
        Variable weights = F.reshape(F.div(pi, mass), b, heads, 1, n);
        Variable stat = F.matmul(weights, sq);                                       // s, [B, H, 1, p]
        Variable attn = F.reciprocal(F.affine(stat, 1f, 1f));
        Variable out = F.neg(F.mul(F.mul(wh, F.reshape(pi, b, heads, n, 1)), attn));  // [B, H, N, p]
        return F.reshape(F.transpose(out, 1, 2), b, n, d);
    }

    /** Π [B, H, N] from w² [B, H, N, p]: softmax over the heads of temp_k·Σ_dims w²/max(‖w‖_tokens, 1e-12)². */
    private Variable membership(Variable sq, int b, int n) {
        Variable norms = F.sqrt(F.sum(sq, 2, true));                                // [B, H, 1, p]
        Variable clamped = F.affine(F.relu(F.affine(norms, 1f, -1e-12f)), 1f, 1e-12f);   // max(‖w‖, 1e-12)
        Variable score = F.mul(F.sum(F.div(sq, F.square(clamped)), 3, false), temp);  // [B, H, N]
        return F.transpose(F.softmax(dense(F.transpose(score, 1, 2))), 1, 2);        // softmax over the heads
    }

    @Override
    public int projectedWidth() { return qkv.weight().shape()[0]; }

    /** The membership Π [B, H, N] of tokens x [B, N, d]: each token's distribution over the heads. */
    public Variable membership(Variable x) {
        Variable w = qkv.forward(norm.forward(x));
        int[] s = w.shape();
        int b = s[0], n = s[1], p = s[2] / heads;
        return membership(F.square(F.transpose(F.reshape(w, b, n, heads, p), 1, 2)), b, n);
    }

    /** A contiguous copy when {@code v} is a strided view (softmax reads dense rows). */
    static Variable dense(Variable v) { return F.reshape(v, v.shape()); }

    public int heads() { return heads; }

    /** Parameters of one layer of width d with h heads: norm, qkv, temp, to_out, γ₁. */
    static long parameterCount(long d, long h) { return 2 * d + d * d + d + h + d * d + d + d; }

    /** FLOPs for n tokens: qkv and to_out (the statistics are O(n·d)). */
    static double flops(double n, double d) { return 2 * (2 * n * d * d) + 10 * n * d; }
}

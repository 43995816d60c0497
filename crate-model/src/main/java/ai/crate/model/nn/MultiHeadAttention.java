package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import java.util.List;

/**
 * timm's {@code Attention} with its pre-norm, the token mixer of ViT: proj(MHSA(qkv(norm1(x)))) with untied queries,
 * keys and values from one Linear d → 3d ({@code attn.qkv}, with bias, laid out q | k | v, each split into heads),
 * scores scaled by the head width^−½, and the output projection {@code attn.proj}. The block adds x.
 */
public final class MultiHeadAttention extends TokenMixer {
    private final LayerNorm norm;
    private final Linear qkv;
    private final Linear proj;
    private final int heads;
    private final float scale;

    /** Under timm's block keys {@code norm1}, {@code attn.qkv}, {@code attn.proj}; LayerNorm eps {@code eps}. */
    public MultiHeadAttention(Init init, int dim, int heads, float eps) {
        if (heads < 1 || dim % heads != 0) throw new IllegalArgumentException("dim " + dim + " does not split into " + heads + " heads");
        this.norm = child("norm1", new LayerNorm(init, dim, eps));
        this.qkv = child("attn.qkv", new Linear(init, dim, 3 * dim, true));
        this.proj = child("attn.proj", new Linear(init, dim, dim, true));
        this.heads = heads;
        this.scale = (float) (1.0 / Math.sqrt(dim / heads));
    }

    public int heads() { return heads; }

    /** The head features are qkv(norm1(x)): queries, keys and values side by side. */
    @Override
    public List<String> headFeatureParts() { return List.of("q", "k", "v"); }

    @Override
    public Variable attend(Variable qkvs) { return F.mhsa(qkvs, heads, scale, true, null); }

    @Override
    public int projectedWidth() { return qkv.weight().shape()[0]; }

    @Override
    public Variable forward(Variable x, Taps taps) {
        return attentionBranch(x, norm, qkv, proj, heads, taps, (w, keep, maps) -> F.mhsa(w, heads, scale, keep, maps));
    }

    /** Parameters of one layer of width d: the norm, qkv with its bias, proj with its bias. */
    public static long parameterCount(long d) { return 2 * d + 3 * d * d + 3 * d + d * d + d; }

    /** FLOPs for n tokens of width d: qkv, Q Kᵀ and A V per head, proj. */
    public static double flops(double n, double d) { return 2 * n * d * 3 * d + 2 * (2 * n * n * d) + 2 * n * d * d; }
}

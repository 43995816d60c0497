package ai.crate.model;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.ReduceOp;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import java.util.ArrayList;
import java.util.List;

/**
 * Inference without a tape for one version of a model's weights, written straight on backend ops so every
 * intermediate buffer is handed back ({@link Backend#release}) as soon as it is consumed: a steady stream of batches
 * allocates nothing. Each ISTA step is one GEMM against M = I + η(D − DᵀD), precomputed here once. Optionally
 * returns every layer's attention maps for the white-box tools. Obtain through {@link Crate#inference()}, which
 * rebuilds it after {@link Crate#markUpdated()}.
 */
public final class CrateInference {
    /** Logits [B, classes], the final tokens [B, N, d], and per layer the attention [B, H, N, N] (when asked). */
    public record Output(Tensor logits, Tensor tokens, List<Tensor> attention) {}

    /**
     * Sees each layer's intermediate tensors during {@link #forward(Tensor, boolean, LayerProbe)}; they are handed
     * back for reuse right after the call, so copy what you keep.
     */
    @FunctionalInterface
    public interface LayerProbe {
        /** Layer {@code layer}: its head features W = LN₁(Z)·Uᵀ [B, N, d] and its output Z' (the ISTA code) [B, N, d]. */
        void layer(int layer, Tensor headFeatures, Tensor output);
    }

    private final Crate model;
    private final long version;
    private final Backend be;
    private final List<Tensor> istaMatrices = new ArrayList<>();

    CrateInference(Crate model, long version) {
        this.model = model;
        this.version = version;
        this.be = model.backend();
        for (CrateBlock block : model.blocks()) istaMatrices.add(block.ista().inferenceMatrix());
    }

    long version() { return version; }

    /** Logits [B, classes]. */
    public Tensor logits(Tensor images) {
        Output out = forward(images, false);
        be.release(out.tokens());
        return out.logits();
    }

    public Output forward(Tensor images, boolean attentionMaps) { return forward(images, attentionMaps, null); }

    /** As {@link #forward(Tensor, boolean)}, showing each layer's intermediates to {@code probe} (may be null). */
    public Output forward(Tensor images, boolean attentionMaps, LayerProbe probe) {
        CrateConfig c = model.config();
        Tensor z = embed(images);
        int b = z.dim(0), n = c.tokens();
        List<Tensor> maps = new ArrayList<>();
        for (int i = 0; i < c.depth(); i++) {
            CrateBlock block = model.blocks().get(i);
            Tensor attn = attentionMaps ? be.allocate(b, c.heads(), n, n) : null;
            Tensor[] features = new Tensor[1];
            Tensor half = mssa(block.mssa(), z, attn, c, probe == null ? null : features);
            be.release(z);
            z = ista(block.ista(), half, istaMatrices.get(i));
            be.release(half);
            if (probe != null) {
                probe.layer(i, features[0], z);
                be.release(features[0]);
            }
            if (attn != null) maps.add(attn);
        }
        return new Output(classify(z, c), z, List.copyOf(maps));
    }

    /** [CLS; LN(Linear(LN(patches)))] + positions, [B, N, d]. */
    private Tensor embed(Tensor images) {
        CrateConfig c = model.config();
        PatchEmbed pe = model.patchEmbed();
        Tensor patches = PatchEmbed.patchify(images, c);
        Tensor normed = layerNorm(pe.patchNorm(), patches);
        if (patches.storage() != images.storage()) be.release(patches);   // a copy unless already in patch order
        Tensor projected = linear(pe.projection(), normed);
        be.release(normed);
        Tensor tokens = layerNorm(pe.tokenNorm(), projected);
        be.release(projected);
        int b = tokens.dim(0), d = c.dim();
        Tensor z = be.allocate(b, c.tokens(), d);
        Tensor cls = model.clsToken().value();   // [1, 1, d], copied to every image in one pass by a stride-0 view
        be.copy(new Tensor(be, cls.storage(), new int[] {b, 1, d}, new int[] {0, 0, 1}, cls.offset()),
                z.slice(1, 0, 1));
        be.copy(tokens, z.slice(1, 1, c.tokens()));
        be.release(tokens);
        be.binary(BinaryOp.ADD, z, model.posEmbedding().value(), z);
        return z;
    }

    /** z + W_out·MSSA(LN(z)) + b_out, attention into attn when not null; W kept in keepW[0] when asked. */
    private Tensor mssa(Mssa m, Tensor z, Tensor attn, CrateConfig c, Tensor[] keepW) {
        Tensor y = layerNorm(m.norm(), z);
        Tensor w = linear(m.qkv(), y);
        be.release(y);
        Tensor o = be.allocate(w.shape());
        be.mssaForward(w, c.heads(), c.attentionScale(), o, attn);
        if (keepW != null) keepW[0] = w;
        else be.release(w);
        Tensor out = linear(m.toOut(), o);
        be.release(o);
        be.binary(BinaryOp.ADD, out, z, out);
        return out;
    }

    /** ReLU(LN(z)·M − ηλ). */
    private Tensor ista(Ista s, Tensor z, Tensor m) {
        Tensor x = layerNorm(s.norm(), z);
        Tensor out = be.allocate(x.shape());
        be.gemm(1f, x, false, m, false, 0f, out);
        be.release(x);
        be.affine(out, 1f, -s.eta() * s.lambda(), out);
        be.unary(UnaryOp.RELU, out, out);
        return out;
    }

    private Tensor classify(Tensor z, CrateConfig c) {
        int b = z.dim(0), d = c.dim();
        Tensor pooled = be.allocate(b, d);
        if (c.pool() == Pool.CLS) be.copy(z.slice(1, 0, 1).reshape(b, d), pooled);
        else be.reduce(ReduceOp.MEAN, z, 1, pooled);
        Tensor normed = layerNorm(model.headNorm(), pooled);
        be.release(pooled);
        Tensor logits = linear(model.head(), normed);
        be.release(normed);
        return logits;
    }

    private Tensor layerNorm(LayerNorm ln, Tensor x) {
        int[] rows = java.util.Arrays.copyOf(x.shape(), x.rank() - 1);
        Tensor out = be.allocate(x.shape()), mean = be.allocate(rows), rstd = be.allocate(rows);
        be.layerNorm(x, ln.weight().value(), ln.bias().value(), LayerNorm.EPS, out, mean, rstd);
        be.release(mean);
        be.release(rstd);
        return out;
    }

    /** x·Wᵀ + b over the last axis. */
    private Tensor linear(Linear l, Tensor x) {
        Tensor w = l.weight().value();
        int[] shape = x.shape();
        shape[shape.length - 1] = w.dim(0);
        Tensor out = be.allocate(shape);
        be.gemm(1f, x, false, w, true, 0f, out);
        if (l.bias() != null) be.binary(BinaryOp.ADD, out, l.bias().value(), out);
        return out;
    }
}

package ai.crate.model;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The CRATE classifier: patch embedding, CLS token and learned positions, {@code depth} {@link CrateBlock}s, then
 * pooling (CLS row or token mean), LayerNorm and a linear head. Parameter names are the official state_dict keys.
 *
 * <p>{@link #forward} records the tape when gradients are enabled; {@link #inference()} gives the tape-free path with
 * ISTA as one GEMM and optional attention maps. After changing weights in place (an optimizer step, a load), call
 * {@link #markUpdated()} so derived inference matrices are rebuilt.
 */
public final class Crate extends Module {
    private final CrateConfig config;
    private final Backend backend;
    private final Variable posEmbedding;
    private final Variable clsToken;
    private final PatchEmbed patchEmbed;
    private final List<CrateBlock> blocks;
    private final LayerNorm headNorm;
    private final Linear head;
    private boolean keepAttention = true;
    private long version;
    private CrateInference inference;

    /** A freshly initialised model (the official init), its weights a function of {@code seed} alone. */
    public Crate(CrateConfig config, Backend backend, long seed) {
        this.config = config;
        this.backend = backend;
        Init init = new Init(backend, seed);
        this.posEmbedding = parameter("pos_embedding", init.normal(1, config.tokens(), config.dim()));
        this.clsToken = parameter("cls_token", init.normal(1, 1, config.dim()));
        this.patchEmbed = child("to_patch_embedding", new PatchEmbed(init, config));
        List<CrateBlock> layers = new ArrayList<>();
        for (int i = 0; i < config.depth(); i++) {
            layers.add(child("transformer.layers." + i, new CrateBlock(init, config)));
        }
        this.blocks = Collections.unmodifiableList(layers);
        this.headNorm = child("mlp_head.0", new LayerNorm(init, config.dim()));
        this.head = child("mlp_head.1", new Linear(init, config.dim(), config.numClasses(), true));
    }

    public CrateConfig config() { return config; }

    public Backend backend() { return backend; }

    public List<CrateBlock> blocks() { return blocks; }

    PatchEmbed patchEmbed() { return patchEmbed; }

    Variable posEmbedding() { return posEmbedding; }

    Variable clsToken() { return clsToken; }

    LayerNorm headNorm() { return headNorm; }

    Linear head() { return head; }

    /**
     * Whether training keeps each layer's attention matrices (B·H·N² floats per layer) for the backward instead of
     * recomputing them there. On by default: see BENCHMARKS.md for the measured trade.
     */
    public void setKeepAttention(boolean keep) { this.keepAttention = keep; }

    /** Logits [B, classes] for images [B, C, H, W]; records the tape when gradients are enabled. */
    public Variable forward(Tensor images) { return classify(features(images)); }

    /** The final tokens [B, N, d] (CLS first). */
    public Variable features(Tensor images) {
        Variable z = embed(images);
        for (CrateBlock block : blocks) z = block.forward(z, keepAttention);
        return z;
    }

    /** Tokens entering the first layer: [CLS; patches] + positions, [B, N, d]. */
    Variable embed(Tensor images) {
        Variable patches = patchEmbed.forward(images);
        int b = patches.shape()[0];
        // zeros + cls broadcasts the token to [B, 1, d]; the graph owns the zeros (releaseGraph hands them back)
        Variable cls = F.add(Variable.temporary(backend.empty(b, 1, config.dim())), clsToken);
        return F.add(F.concat(List.of(cls, patches), 1), posEmbedding);
    }

    /** Pooling, LayerNorm and the linear head: logits [B, classes]. */
    public Variable classify(Variable tokens) {
        int b = tokens.shape()[0];
        Variable pooled = config.pool() == Pool.CLS
                ? F.reshape(F.slice(tokens, 1, 0, 1), b, config.dim())
                : F.mean(tokens, 1, false);
        return head.forward(headNorm.forward(pooled));
    }

    /** Marks the weights as changed: the next {@link #inference()} rebuilds its derived matrices. */
    public void markUpdated() { version++; }

    public long version() { return version; }

    /** The tape-free inference path for the current weights (built once per {@link #markUpdated() version}). */
    public CrateInference inference() {
        if (inference == null || inference.version() != version) inference = new CrateInference(this, version);
        return inference;
    }
}

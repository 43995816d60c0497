package ai.crate.model;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Inference without a tape for one version of a model's weights: each ISTA step is one GEMM against
 * M = I + η(D − DᵀD), precomputed here once; optionally returns every layer's attention maps for the white-box
 * tools. Obtain through {@link Crate#inference()}, which rebuilds it after {@link Crate#markUpdated()}.
 */
public final class CrateInference {
    /** Logits [B, classes], the final tokens [B, N, d], and per layer the attention [B, H, N, N] (when asked). */
    public record Output(Tensor logits, Tensor tokens, List<Tensor> attention) {}

    private final Crate model;
    private final long version;
    private final List<Tensor> istaMatrices = new ArrayList<>();

    CrateInference(Crate model, long version) {
        this.model = model;
        this.version = version;
        for (CrateBlock block : model.blocks()) istaMatrices.add(block.ista().inferenceMatrix());
    }

    long version() { return version; }

    /** Logits [B, classes]. */
    public Tensor logits(Tensor images) { return forward(images, false).logits(); }

    public Output forward(Tensor images, boolean attentionMaps) {
        CrateConfig c = model.config();
        Backend be = model.backend();
        try (var ignored = Autograd.noGrad()) {
            Variable z = model.embed(images);
            int b = z.shape()[0];
            List<Tensor> maps = new ArrayList<>();
            for (int i = 0; i < c.depth(); i++) {
                Tensor attn = attentionMaps ? be.empty(b, c.heads(), c.tokens(), c.tokens()) : null;
                z = model.blocks().get(i).forwardInference(z, istaMatrices.get(i), attn);
                if (attn != null) maps.add(attn);
            }
            return new Output(model.classify(z).value(), z.value(), List.copyOf(maps));
        }
    }
}

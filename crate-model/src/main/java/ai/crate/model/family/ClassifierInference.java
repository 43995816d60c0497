package ai.crate.model.family;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;
import ai.crate.model.nn.Taps;
import java.util.List;

/**
 * A classifier's forward without a tape, in evaluation mode: the model's own modules in a no-grad scope, where each
 * takes its tape-free path (ISTA as one GEMM against I + η(D − DᵀD), say) and hands every intermediate buffer back as
 * soon as it is consumed, so a steady stream of batches allocates nothing. Optionally returns every layer's attention maps and
 * shows each layer to a probe, for the white-box tools. Obtain through {@link ImageClassifier#inference()}.
 */
public final class ClassifierInference {
    /** Logits [B, classes], the final tokens [B, N, d], and per layer the attention [B, H, N, N] (when asked). */
    public record Output(Tensor logits, Tensor tokens, List<Tensor> attention) {}

    private final ImageClassifier model;

    ClassifierInference(ImageClassifier model) { this.model = model; }

    /** Logits [B, classes]. */
    public Tensor logits(Tensor images) {
        Output out = forward(images, false);
        model.backend().release(out.tokens());
        return out.logits();
    }

    public Output forward(Tensor images, boolean attentionMaps) { return forward(images, attentionMaps, null); }

    /** As {@link #forward(Tensor, boolean)}, showing each layer's intermediates to {@code probe} (may be null). */
    public Output forward(Tensor images, boolean attentionMaps, Taps.LayerProbe probe) {
        if (attentionMaps && !model.blocks().getFirst().mixer().hasAttentionMaps()) {
            throw new IllegalArgumentException("the " + model.config().architecture() + " model's token mixer computes no "
                    + "token-by-token attention maps (ToST's TSSA weighs tokens by their membership in the heads)");
        }
        boolean training = model.isTraining();
        model.train(false);
        try (var noGrad = Autograd.noGrad()) {
            Taps taps = Taps.inference(attentionMaps, probe);
            Variable tokens = model.features(images, taps);
            Variable logits = model.classify(tokens);
            return new Output(logits.value(), tokens.value(), taps.attentionMaps());
        } finally {
            model.train(training);
        }
    }
}

package ai.crate.model.nn;

import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * What one forward pass is asked for besides its output: in training whether attention layers keep their maps for
 * the backward; in inference each layer's attention maps and a {@link LayerProbe} of per-layer intermediates (the
 * white-box tools). Made per pass; the model calls {@link #layerDone} after every block.
 */
public final class Taps {
    /** Sees each layer's head features and output; they are handed back right after the call, so copy what you keep. */
    @FunctionalInterface
    public interface LayerProbe {
        /**
         * Layer {@code layer}: its head features ([B, N, parts·inner], the mixer's {@link TokenMixer#headFeatureParts}
         * side by side: MSSA's W = LN₁(Z)·Uᵀ, or an attention's q | k | v), its output [B, N, d], and the sparse code
         * of its feature map where that is one ({@link FeatureMap#isSparseCode}: CRATE's ISTA output, which is the
         * layer's output, or CRATE-α's a₂ [B, N, atoms]), else null.
         */
        void layer(int layer, Tensor headFeatures, Tensor output, Tensor sparseCode);
    }

    private final boolean keepAttention;
    private final List<Tensor> attention;
    private final LayerProbe probe;
    private Tensor features;
    private Tensor code;
    private boolean ownsCode;
    private int layer;

    private Taps(boolean keepAttention, boolean attentionMaps, LayerProbe probe) {
        this.keepAttention = keepAttention;
        this.attention = attentionMaps ? new ArrayList<>() : null;
        this.probe = probe;
    }

    /** A training pass: attention layers keep their maps for the backward when {@code keepAttention}. */
    public static Taps training(boolean keepAttention) { return new Taps(keepAttention, false, null); }

    /** An inference pass collecting every layer's attention maps when asked, showing layers to {@code probe} (or null). */
    public static Taps inference(boolean attentionMaps, LayerProbe probe) {
        return new Taps(false, attentionMaps, probe);
    }

    public boolean keepAttention() { return keepAttention; }

    /** Whether attention layers should write their maps ([B, H, N, N]) and hand them to {@link #attention(Tensor)}. */
    public boolean wantsAttention() { return attention != null; }

    public void attention(Tensor maps) { attention.add(maps); }

    /** The maps collected so far, one per attention layer. */
    public List<Tensor> attentionMaps() { return attention == null ? List.of() : List.copyOf(attention); }

    /** Whether the current layer should hand its head features to {@link #headFeatures} instead of discarding them. */
    public boolean wantsHeadFeatures() { return probe != null; }

    public void headFeatures(Tensor w) { features = w; }

    /** Whether the current layer's feature map should hand its sparse code to {@link #sparseCode}. */
    public boolean wantsSparseCode() { return probe != null; }

    /**
     * The current layer's sparse code, unchanged until {@link #layerDone}; {@code owned}: handed back after the probe
     * has seen it (a buffer of its own), else left to the pass (the layer's output itself).
     */
    public void sparseCode(Tensor code, boolean owned) {
        this.code = code;
        this.ownsCode = owned;
    }

    /** After each block: shows the layer to the probe, then hands its head features and owned code back. */
    public void layerDone(Variable output) {
        if (probe != null) {
            probe.layer(layer, features, output.value(), code);
            if (features != null) features.backend().release(features);
            if (code != null && ownsCode) code.backend().release(code);
            features = null;
            code = null;
        }
        layer++;
    }
}

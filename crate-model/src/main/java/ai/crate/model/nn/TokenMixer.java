package ai.crate.model.nn;

import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;
import java.util.List;

/**
 * The token-mixing branch of a block (MSSA; next multi-head self-attention, TSSA), its pre-norm included: tokens
 * [B, N, d] to the branch's output [B, N, d], which the {@link Block} adds to its input.
 */
public abstract class TokenMixer extends Module {
    /** The branch output, a tensor of its own; {@code taps} says what else the pass wants (attention maps...). */
    public abstract Variable forward(Variable tokens, Taps taps);

    /**
     * What the head features handed to {@link Taps#headFeatures} hold, side by side along the last axis, each [B, N, d]
     * split into the heads: MSSA's one projection W, or an attention's queries, keys and values.
     */
    public abstract List<String> headFeatureParts();

    /**
     * The attention alone on projected features [B, N, {@link #projectedWidth}] (no norm, no projections, maps kept
     * for the backward): what grows with the number of tokens, for benchmarks.
     */
    public abstract Variable attend(Variable projected);

    /** The width of the projected features {@link #attend} takes. */
    public abstract int projectedWidth();

    /** Whether the mixer computes token-by-token attention maps [B, H, N, N] (MSSA, MHSA; not ToST's TSSA). */
    public boolean hasAttentionMaps() { return true; }

    /** An attention on the projected tokens: keeps A for the backward when asked, writes it into maps when not null. */
    @FunctionalInterface
    protected interface Attend {
        Variable apply(Variable projected, boolean keepAttention, Tensor maps);
    }

    /**
     * The branch every attention mixer shares, out(attend(in(norm(x)))): allocates the maps the pass wants
     * ([B, H, N, N], handed to {@code taps}), gives the projection to {@code taps} as the head features when it wants
     * them, and hands every intermediate back as soon as it is consumed.
     */
    protected static Variable attentionBranch(Variable x, LayerNorm norm, Linear in, Linear out, int heads, Taps taps,
                                              Attend attend) {
        Variable y = norm.forward(x);
        Variable w = in.forward(y);
        y.discard();
        Tensor maps = null;
        if (taps.wantsAttention()) {
            int[] s = w.shape();
            maps = w.backend().allocate(s[0], heads, s[1], s[1]);
            taps.attention(maps);
        }
        Variable o = attend.apply(w, taps.keepAttention(), maps);
        if (taps.wantsHeadFeatures()) taps.headFeatures(w.value());
        else w.discard();
        Variable result = out.forward(o);
        o.discard();
        return result;
    }
}

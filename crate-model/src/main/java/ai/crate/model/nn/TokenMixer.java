package ai.crate.model.nn;

import ai.crate.autograd.Variable;
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
}

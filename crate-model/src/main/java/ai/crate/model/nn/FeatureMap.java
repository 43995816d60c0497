package ai.crate.model.nn;

import ai.crate.autograd.Variable;

/**
 * The per-token branch of a block (ISTA; next an MLP, the overcomplete ISTA block), its pre-norm included: tokens
 * [B, N, d] to [B, N, d].
 */
public abstract class FeatureMap extends Module {
    /** The branch output, a tensor of its own. */
    public abstract Variable forward(Variable tokens);

    /**
     * As {@link #forward(Variable)}, handing the sparse code to {@code taps} when they want it. By default the code
     * is the output itself (CRATE's ISTA, whose output is the layer's); a map whose code is internal overrides this.
     */
    public Variable forward(Variable tokens, Taps taps) {
        Variable out = forward(tokens);
        if (isSparseCode() && taps.wantsSparseCode()) taps.sparseCode(out.value(), false);
        return out;
    }

    /** Whether the output is a sparse code (ISTA-type: ReLU of a proximal step), whose share of zeros means something. */
    public boolean isSparseCode() { return false; }
}

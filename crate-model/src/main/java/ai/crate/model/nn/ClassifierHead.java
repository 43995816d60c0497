package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;

/**
 * Pooling (the CLS row or the mean over tokens), a LayerNorm and a linear layer to the class logits, under the
 * architecture's names for the two layers.
 */
public final class ClassifierHead extends Module {
    private final Pool pool;
    private final LayerNorm norm;
    private final Linear linear;

    public ClassifierHead(Pool pool, String normName, LayerNorm norm, String linearName, Linear linear) {
        this.pool = pool;
        this.norm = child(normName, norm);
        this.linear = child(linearName, linear);
    }

    public Pool pool() { return pool; }

    /** Logits [B, classes] from the final tokens [B, N, d]. */
    public Variable forward(Variable tokens) {
        int b = tokens.shape()[0], d = tokens.shape()[2];
        Variable row = pool == Pool.CLS ? F.slice(tokens, 1, 0, 1) : F.mean(tokens, 1, false);
        Variable normed = norm.forward(F.reshape(row, b, d));
        row.discard();
        Variable logits = linear.forward(normed);
        normed.discard();
        return logits;
    }
}

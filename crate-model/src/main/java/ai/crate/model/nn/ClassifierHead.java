package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;

/**
 * Pooling ({@link Pool}: the CLS row, the mean of all rows, or the mean of the patch rows), a LayerNorm and a linear layer to the class logits, under the
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
        int b = tokens.shape()[0], n = tokens.shape()[1], d = tokens.shape()[2];
        Variable row = switch (pool) {
            case CLS -> F.slice(tokens, 1, 0, 1);
            case MEAN -> F.mean(tokens, 1, false);
            case AVG -> {
                Variable patches = F.slice(tokens, 1, 1, n);
                Variable mean = F.mean(patches, 1, false);
                patches.discard();
                yield mean;
            }
        };
        Variable normed = norm.forward(F.reshape(row, b, d));
        row.discard();
        Variable logits = linear.forward(normed);
        normed.discard();
        return logits;
    }
}

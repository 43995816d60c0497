package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;

/**
 * Position embeddings added to the tokens: learned ({@link #learned}, a parameter) or fixed ({@link #fixed}, a
 * buffer saved with the weights, e.g. a sin-cos table), under the key the architecture names.
 */
public final class Positions extends Module {
    private final Variable table;

    private Positions(String name, Tensor value, boolean learned) {
        this.table = learned ? parameter(name, value) : buffer(name, value);
    }

    /** A learned [1, tokens, d] table, initialised from N(0, 1) as the official CRATE code. */
    public static Positions learned(Init init, String name, int tokens, int dim) {
        return new Positions(name, init.normal(1, tokens, dim), true);
    }

    /** A learned [1, tokens, d] table starting from {@code initial} (e.g. timm's trunc_normal(0.02)). */
    public static Positions learned(String name, Tensor initial) { return new Positions(name, initial, true); }

    /** A fixed table [1, tokens, d]. */
    public static Positions fixed(String name, Tensor table) { return new Positions(name, table, false); }

    public Variable table() { return table; }

    /** tokens + table, the table broadcast over the batch. */
    public Variable apply(Variable tokens) { return F.add(tokens, table); }
}

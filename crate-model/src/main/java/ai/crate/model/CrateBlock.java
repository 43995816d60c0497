package ai.crate.model;

import ai.crate.autograd.Variable;

/** One CRATE layer, official {@code transformer.layers.i}: compression (MSSA, ".0") then sparsification (ISTA, ".1"). */
public final class CrateBlock extends Module {
    private final Mssa mssa;
    private final Ista ista;

    public CrateBlock(Init init, CrateConfig config) {
        this(init, config.dim(), config.heads(), config.eta(), config.lambda());
    }

    public CrateBlock(Init init, int dim, int heads, float eta, float lambda) {
        this.mssa = child("0", new Mssa(init, dim, heads));
        this.ista = child("1", new Ista(init, dim, eta, lambda));
    }

    public Variable forward(Variable z, boolean keepAttention) { return ista.forward(mssa.forward(z, keepAttention)); }

    public Mssa mssa() { return mssa; }

    public Ista ista() { return ista; }
}

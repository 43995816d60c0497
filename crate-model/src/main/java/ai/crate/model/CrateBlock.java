package ai.crate.model;

import ai.crate.autograd.Variable;

/** One CRATE layer, official {@code transformer.layers.i}: compression (MSSA, ".0") then sparsification (ISTA, ".1"). */
public final class CrateBlock extends Module {
    private final Mssa mssa;
    private final Ista ista;

    public CrateBlock(Init init, CrateConfig config) {
        this.mssa = child("0", new Mssa(init, config));
        this.ista = child("1", new Ista(init, config));
    }

    public Variable forward(Variable z, boolean keepAttention) { return ista.forward(mssa.forward(z, keepAttention)); }

    public Mssa mssa() { return mssa; }

    public Ista ista() { return ista; }
}

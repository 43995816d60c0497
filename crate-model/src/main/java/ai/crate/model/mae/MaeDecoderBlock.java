package ai.crate.model.mae;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.model.crate.Mssa;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Module;
import ai.crate.model.nn.Taps;

/**
 * A CRATE-MAE decoder layer, official {@code decoder_blocks.i.layers.0}: Y = LN_a(Z)·Wᵀ (".0": {@code norm},
 * {@code fn.weight}, no bias), then Z' = Y − MSSA(LN_b(Y)) (".1", the MSSA with its output projection) — the
 * structured-diffusion step that undoes the encoder's compression.
 */
public final class MaeDecoderBlock extends Module {
    private final LayerNorm norm;
    private final Variable weight;
    private final Mssa mssa;

    public MaeDecoderBlock(Init init, int dim, int heads) {
        this.norm = child("layers.0.0.norm", new LayerNorm(init, dim));
        this.weight = parameter("layers.0.0.fn.weight", init.kaimingUniform(Math.sqrt(5), dim, dim));
        this.mssa = child("layers.0.1", new Mssa(init, dim, heads));
    }

    public Variable forward(Variable z, Taps taps) {
        Variable y = F.linear(norm.forward(z), weight, null);
        return F.sub(y, mssa.forward(y, taps));
    }
}

package ai.crate.model.alpha;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.nn.FeatureMap;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Taps;

/**
 * CRATE-α's overcomplete ISTA block with its pre-norm, as the official {@code PreNorm(OvercompleteISTABlock)}: on
 * x = LN(z) (eps 1e-6), two proximal steps toward a sparse code against the dictionary D [d, atoms] (official
 * {@code fn.D}) from zero, a₁ = ReLU(η·xD − ηλ), a₂ = ReLU(a₁ − η(a₁Dᵀ − x)D − ηλ), decoded through D1 (official
 * {@code fn.D1}): out = a₂D1ᵀ. The block adds z. One fused op ({@link F#overcompleteIsta}); a₂ is the sparse code
 * the white-box tools measure.
 */
public final class OvercompleteIsta extends FeatureMap {
    private final LayerNorm norm;
    private final Variable dictionary;
    private final Variable decoder;
    private final float eta;
    private final float lambda;

    public OvercompleteIsta(Init init, int dim, int atoms, float eta, float lambda) {
        this.norm = child("norm", new LayerNorm(init, dim, CrateAlpha.EPS));
        // the official init: kaiming_uniform_ (a = 0) of a [d, atoms] weight, fan-in = atoms
        this.dictionary = parameter("fn.D", init.kaimingUniform(0, dim, atoms));
        this.decoder = parameter("fn.D1", init.kaimingUniform(0, dim, atoms));
        this.eta = eta;
        this.lambda = lambda;
    }

    @Override
    public Variable forward(Variable z) {
        Variable x = norm.forward(z);
        Variable out = F.overcompleteIsta(x, dictionary, decoder, eta, lambda);
        x.discard();
        return out;
    }

    /** Without a tape and with a probe: the same op, keeping a₂ for the probe. */
    @Override
    public Variable forward(Variable z, Taps taps) {
        if (!taps.wantsSparseCode() || Autograd.isGradEnabled()) return forward(z);
        Variable x = norm.forward(z);
        Backend be = x.backend();
        int[] codeShape = x.shape();
        codeShape[codeShape.length - 1] = dictionary.shape()[1];
        Tensor out = be.allocate(x.shape()), code = be.allocate(codeShape);
        be.fused().overcompleteIstaForward(x.value(), dictionary.value(), decoder.value(), eta, lambda, out, null,
                code, null);
        x.discard();
        taps.sparseCode(code, true);
        return Variable.untaped("overcompleteIsta", out);
    }

    @Override
    public boolean isSparseCode() { return true; }

    /** Parameters of one layer of width d with {@code atoms} atoms: the norm, D and D1. */
    static long parameterCount(long d, long atoms) { return 2 * d + 2 * d * atoms; }

    /** FLOPs for n tokens: xD, a₁Dᵀ, rD and a₂D1ᵀ. */
    static double flops(double n, double d, double atoms) { return 4 * (2 * n * d * atoms); }
}

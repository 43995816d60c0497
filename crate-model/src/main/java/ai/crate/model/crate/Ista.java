package ai.crate.model.crate;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import ai.crate.model.nn.FeatureMap;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;

/**
 * The ISTA block with its pre-norm, as the official {@code PreNorm(FeedForward)} layer: one proximal-gradient step
 * toward a sparse code of X = LN(Z) against the dictionary D (official {@code fn.weight}):
 * ReLU(X + η(X D − X Dᵀ D) − ηλ). No residual around it. Both ways it is one GEMM against M = I + η(D − DᵀD);
 * without a tape M is kept, built on first use after each change of the weights.
 */
public final class Ista extends FeatureMap {
    private final LayerNorm norm;
    private final Variable dictionary;
    private final float eta;
    private final float lambda;
    private Tensor inferenceMatrix;

    public Ista(Init init, int dim, float eta, float lambda) {
        this.norm = child("norm", new LayerNorm(init, dim));
        // the official init: kaiming_uniform_ with its default a = 0
        this.dictionary = parameter("fn.weight", init.kaimingUniform(0, dim, dim));
        this.eta = eta;
        this.lambda = lambda;
    }

    @Override
    public Variable forward(Variable z) {
        Variable x = norm.forward(z);
        if (Autograd.isGradEnabled()) return F.ista(x, dictionary, eta, lambda);
        Backend be = x.backend();
        Tensor out = be.allocate(x.shape());
        be.gemm(1f, x.value(), false, inferenceMatrix(), false, 0f, out);
        x.discard();
        be.affine(out, 1f, -eta * lambda, out);
        be.unary(UnaryOp.RELU, out, out);
        return Variable.untaped("ista", out);
    }

    @Override
    public boolean isSparseCode() { return true; }

    @Override
    protected void onWeightsChanged() {
        if (inferenceMatrix != null) inferenceMatrix.backend().release(inferenceMatrix);
        inferenceMatrix = null;
    }

    /** M = I + η(D − DᵀD), [d, d]: X·M equals X + η(X D − X Dᵀ D), the same bits as the taped forward's. */
    private Tensor inferenceMatrix() {
        if (inferenceMatrix != null) return inferenceMatrix;
        Tensor d = dictionary.value();
        return inferenceMatrix = d.backend().fused().istaMatrix(d, eta);
    }

    /** Parameters of one layer of width d: the norm and D. */
    static long parameterCount(long d) { return 2 * d + d * d; }

    /** FLOPs for n tokens of width d as the official form counts them (two GEMMs): the count {@code info} reports. */
    static double flops(double n, double d) { return 2 * (2 * n * d * d); }
}

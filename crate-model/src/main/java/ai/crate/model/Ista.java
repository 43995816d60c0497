package ai.crate.model;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.Tensor;

/**
 * The ISTA block with its pre-norm, as the official {@code PreNorm(FeedForward)} layer: one proximal-gradient step
 * toward a sparse code of X = LN(Z) against the dictionary D (official {@code fn.weight}):
 * ReLU(X + η(X D − X Dᵀ D) − ηλ). No residual around it.
 */
public final class Ista extends Module {
    private final LayerNorm norm;
    private final Variable dictionary;
    private final float eta;
    private final float lambda;

    public Ista(Init init, CrateConfig config) { this(init, config.dim(), config.eta(), config.lambda()); }

    public Ista(Init init, int dim, float eta, float lambda) {
        this.norm = child("norm", new LayerNorm(init, dim));
        // the official init: kaiming_uniform_ with its default a = 0
        this.dictionary = parameter("fn.weight", init.kaimingUniform(0, dim, dim));
        this.eta = eta;
        this.lambda = lambda;
    }

    LayerNorm norm() { return norm; }

    float eta() { return eta; }

    float lambda() { return lambda; }

    public Variable forward(Variable z) { return F.ista(norm.forward(z), dictionary, eta, lambda); }

    /** M = I + η(D − DᵀD), [d, d]: X·M equals X + η(X D − X Dᵀ D). */
    Tensor inferenceMatrix() {
        Tensor d = dictionary.value();
        Backend be = d.backend();
        int n = d.dim(0);
        Tensor m = be.empty(n, n);
        be.gemm(-eta, d, true, d, false, 0f, m);
        Tensor scaled = be.empty(n, n);
        be.affine(d, eta, 0f, scaled);
        be.binary(BinaryOp.ADD, m, scaled, m);
        float[] eye = new float[n * n];
        for (int i = 0; i < n; i++) eye[i * n + i] = 1f;
        be.binary(BinaryOp.ADD, m, be.fromArray(eye, n, n), m);
        return m;
    }
}

package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;

/** nn.LayerNorm over the last axis: eps 1e-5, affine, weight 1 and bias 0 at init. */
public final class LayerNorm extends Module {
    public static final float EPS = 1e-5f;
    private final Variable weight;
    private final Variable bias;
    private final float eps;

    public LayerNorm(Init init, int dim) { this(init, dim, EPS); }

    public LayerNorm(Init init, int dim, float eps) {
        this.weight = parameter("weight", init.constant(1f, dim));
        this.bias = parameter("bias", init.constant(0f, dim));
        this.eps = eps;
    }

    public Variable forward(Variable x) { return F.layerNorm(x, weight, bias, eps); }

    public float eps() { return eps; }

    public Variable weight() { return weight; }

    public Variable bias() { return bias; }
}

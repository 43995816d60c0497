package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;

/** nn.Linear: y = x Wᵀ + b, W [out, in]; initialised as {@link Init#linearWeight} and {@link Init#linearBias} say. */
public final class Linear extends Module {
    private final Variable weight;
    private final Variable bias;

    public Linear(Init init, int in, int out, boolean withBias) {
        this.weight = parameter("weight", init.linearWeight(out, in));
        this.bias = withBias ? parameter("bias", init.linearBias(out, in)) : null;
    }

    public Variable forward(Variable x) { return F.linear(x, weight, bias); }

    public Variable weight() { return weight; }

    public Variable bias() { return bias; }
}

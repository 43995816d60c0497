package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;

/** nn.Linear: y = x Wᵀ + b, W [out, in]; PyTorch's init (kaiming-uniform a = √5, i.e. U(±1/√in), bias alike). */
public final class Linear extends Module {
    private final Variable weight;
    private final Variable bias;

    public Linear(Init init, int in, int out, boolean withBias) {
        this.weight = parameter("weight", init.kaimingUniform(Math.sqrt(5), out, in));
        this.bias = withBias ? parameter("bias", init.uniform((float) (1 / Math.sqrt(in)), out)) : null;
    }

    public Variable forward(Variable x) { return F.linear(x, weight, bias); }

    public Variable weight() { return weight; }

    public Variable bias() { return bias; }
}

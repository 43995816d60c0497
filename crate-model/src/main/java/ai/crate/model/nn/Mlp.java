package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.UnaryOp;

/**
 * timm's {@code Mlp} with its pre-norm, the feature map of ViT: fc2(GELU(fc1(norm2(x)))), hidden width
 * {@code hidden} (4d in timm's presets), the exact erf GELU. The block adds x. Without a tape the GELU runs in place.
 */
public final class Mlp extends FeatureMap {
    private final LayerNorm norm;
    private final Linear fc1;
    private final Linear fc2;

    /** Under timm's block keys {@code norm2}, {@code mlp.fc1}, {@code mlp.fc2}; LayerNorm eps {@code eps}. */
    public Mlp(Init init, int dim, int hidden, float eps) {
        this.norm = child("norm2", new LayerNorm(init, dim, eps));
        this.fc1 = child("mlp.fc1", new Linear(init, dim, hidden, true));
        this.fc2 = child("mlp.fc2", new Linear(init, hidden, dim, true));
    }

    @Override
    public Variable forward(Variable x) {
        Variable y = norm.forward(x);
        Variable h = fc1.forward(y);
        y.discard();
        Variable a;
        if (h.mayOverwrite()) {
            h.backend().unary(UnaryOp.GELU, h.value(), h.value());
            a = h;
        } else {
            a = F.gelu(h);
        }
        Variable out = fc2.forward(a);
        a.discard();
        return out;
    }

    /** Parameters for width d and hidden width m: the norm, fc1 and fc2 with their biases. */
    public static long parameterCount(long d, long m) { return 2 * d + d * m + m + m * d + d; }

    /** FLOPs for n tokens: fc1 and fc2. */
    public static double flops(double n, double d, double m) { return 2 * (2 * n * d * m); }
}

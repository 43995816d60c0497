package ai.crate.model.optim;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import java.util.List;

/**
 * AdamW as {@code torch.optim.AdamW} computes it: moments m and v with bias correction,
 * p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε), after the decoupled decay. Built from backend ops.
 */
public final class AdamW extends Optimizer {
    private final float beta1, beta2, eps;

    public AdamW(List<Param> params, float lr, float beta1, float beta2, float eps, float weightDecay) {
        super(params, lr, weightDecay);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps >= 0)) {
            throw new IllegalArgumentException("AdamW: need 0 <= betas < 1 and eps >= 0; got betas (" + beta1 + ", "
                    + beta2 + "), eps " + eps);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8. */
    public AdamW(List<Param> params, float lr, float weightDecay) { this(params, lr, 0.9f, 0.999f, 1e-8f, weightDecay); }

    @Override
    protected void initBuffers(Param p) {
        buffer("adamw.exp_avg", p);
        buffer("adamw.exp_avg_sq", p);
    }

    @Override
    protected void update(Param p, Tensor w, Tensor g, float lr, long step) {
        Backend be = w.backend();
        Tensor m = buffer("adamw.exp_avg", p), v = buffer("adamw.exp_avg_sq", p), t = be.allocate(w.shape());
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        be.affine(m, beta1, 0f, m);                        // m = β₁m + (1 − β₁)g
        be.affine(g, 1f - beta1, 0f, t);
        be.binary(BinaryOp.ADD, m, t, m);
        be.binary(BinaryOp.MUL, g, g, t);                  // v = β₂v + (1 − β₂)g²
        be.affine(t, 1f - beta2, 0f, t);
        be.affine(v, beta2, 0f, v);
        be.binary(BinaryOp.ADD, v, t, v);
        be.unary(UnaryOp.SQRT, v, t);                      // denominator √v/√bc₂ + ε
        be.affine(t, (float) (1 / Math.sqrt(bc2)), eps, t);
        be.binary(BinaryOp.DIV, m, t, t);
        be.affine(t, (float) (-lr / bc1), 0f, t);
        be.binary(BinaryOp.ADD, w, t, w);
        be.release(t);
    }
}

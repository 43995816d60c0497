package ai.crate.model.optim;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW as {@code torch.optim.AdamW} computes it: decoupled weight decay p ← p·(1 − lr·wd), moments m and v with
 * bias correction, p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε). Updates the parameters' tensors in place;
 * parameters without a gradient are skipped, as PyTorch does.
 *
 * <p>Built from backend ops (a dozen elementwise passes per tensor); a fused single-pass kernel is left to the
 * training work.
 */
public final class AdamW {
    private final List<Variable> params;
    private final List<Tensor> m = new ArrayList<>();
    private final List<Tensor> v = new ArrayList<>();
    private final float beta1, beta2, eps, weightDecay;
    private float lr;
    private long step;

    public AdamW(List<Variable> params, float lr, float beta1, float beta2, float eps, float weightDecay) {
        if (!(lr >= 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("AdamW: need lr >= 0, 0 <= betas < 1, eps >= 0, weight decay >= 0; got lr "
                    + lr + ", betas (" + beta1 + ", " + beta2 + "), eps " + eps + ", weight decay " + weightDecay);
        }
        this.params = List.copyOf(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        for (Variable p : this.params) {
            Backend be = p.backend();
            Tensor mi = be.empty(p.shape()), vi = be.empty(p.shape());
            be.fill(mi, 0f);
            be.fill(vi, 0f);
            m.add(mi);
            v.add(vi);
        }
    }

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8. */
    public AdamW(List<Variable> params, float lr, float weightDecay) {
        this(params, lr, 0.9f, 0.999f, 1e-8f, weightDecay);
    }

    public void setLearningRate(float lr) { this.lr = lr; }

    public float learningRate() { return lr; }

    public long steps() { return step; }

    public void step() {
        step++;
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        for (int i = 0; i < params.size(); i++) {
            Variable p = params.get(i);
            Tensor g = p.grad();
            if (g == null) continue;
            Backend be = p.backend();
            Tensor w = p.value(), mi = m.get(i), vi = v.get(i), t = be.allocate(w.shape());
            be.affine(w, 1f - lr * weightDecay, 0f, w);
            be.affine(mi, beta1, 0f, mi);                       // m = β₁m + (1 − β₁)g
            be.affine(g, 1f - beta1, 0f, t);
            be.binary(BinaryOp.ADD, mi, t, mi);
            be.binary(BinaryOp.MUL, g, g, t);                   // v = β₂v + (1 − β₂)g²
            be.affine(t, 1f - beta2, 0f, t);
            be.affine(vi, beta2, 0f, vi);
            be.binary(BinaryOp.ADD, vi, t, vi);
            be.unary(UnaryOp.SQRT, vi, t);                      // denominator √v/√bc₂ + ε
            be.affine(t, (float) (1 / Math.sqrt(bc2)), eps, t);
            be.binary(BinaryOp.DIV, mi, t, t);
            be.affine(t, (float) (-lr / bc1), 0f, t);
            be.binary(BinaryOp.ADD, w, t, w);
            be.release(t);
        }
    }

    public void zeroGrad() { for (Variable p : params) p.zeroGrad(); }
}

package ai.crate.model.optim;

import ai.crate.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW as {@code torch.optim.AdamW} computes it: moments m and v with bias correction,
 * p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε), after the decoupled decay: one {@code Backend.adamWStep}.
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

    /** Every parameter in one {@code Backend.adamWSteps} (one launch for the whole model on CUDA). */
    @Override
    protected void updateAll(List<Param> ps, List<Tensor> ws, List<Tensor> gs, float[] decays, float lr, long step) {
        List<Tensor> ms = new ArrayList<>(ps.size()), vs = new ArrayList<>(ps.size());
        for (Param p : ps) {
            ms.add(buffer("adamw.exp_avg", p));
            vs.add(buffer("adamw.exp_avg_sq", p));
        }
        ws.getFirst().backend().fused().adamWSteps(ws, gs, ms, vs, decays, lr, beta1, beta2, eps, step);
    }
}

package ai.crate.model.optim;

import ai.crate.engine.Tensor;
import java.util.List;

/**
 * Lion (Chen et al. 2023) as lion-pytorch computes it, the optimizer of the official CRATE ImageNet recipe: after the
 * decoupled decay, p ← p − lr·sign(β₁m + (1 − β₁)g), then m ← β₂m + (1 − β₂)g.
 */
public final class Lion extends Optimizer {
    private final float beta1, beta2;

    public Lion(List<Param> params, float lr, float beta1, float beta2, float weightDecay) {
        super(params, lr, weightDecay);
        if (!(beta1 >= 0 && beta1 <= 1) || !(beta2 >= 0 && beta2 <= 1)) {
            throw new IllegalArgumentException("Lion: need betas in [0, 1], got (" + beta1 + ", " + beta2 + ")");
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
    }

    /** lion-pytorch's defaults: betas (0.9, 0.99). */
    public Lion(List<Param> params, float lr, float weightDecay) { this(params, lr, 0.9f, 0.99f, weightDecay); }

    @Override
    protected void initBuffers(Param p) { buffer("lion.exp_avg", p); }

    /** Every parameter in one {@code Backend.lionSteps} (one launch for the whole model on CUDA). */
    @Override
    protected void updateAll(List<Param> ps, List<Tensor> ws, List<Tensor> gs, float[] decays, float lr, long step) {
        List<Tensor> ms = ps.stream().map(p -> buffer("lion.exp_avg", p)).toList();
        ws.getFirst().backend().fused().lionSteps(ws, gs, ms, decays, lr, beta1, beta2);
    }
}

package ai.crate.model.optim;

import ai.crate.engine.Tensor;
import java.util.List;

/**
 * SGD with momentum as torch.optim.SGD (dampening 0): b ← μb + g (b = g at the first step), then p ← p − lr·b, or with
 * Nesterov p ← p − lr·(g + μb). Weight decay is decoupled (p ← p·(1 − lr·wd) first), like the other optimizers here,
 * not torch's L2 term added to g.
 */
public final class Sgd extends Optimizer {
    private final float momentum;
    private final boolean nesterov;

    public Sgd(List<Param> params, float lr, float momentum, boolean nesterov, float weightDecay) {
        super(params, lr, weightDecay);
        if (!(momentum >= 0) || (nesterov && momentum == 0)) {
            throw new IllegalArgumentException("SGD: momentum must be >= 0, and > 0 for Nesterov; got " + momentum);
        }
        this.momentum = momentum;
        this.nesterov = nesterov;
    }

    @Override
    protected void initBuffers(Param p) { if (momentum != 0) buffer("sgd.momentum_buffer", p); }

    /** Every parameter in one {@code Backend.sgdSteps} (one launch for the whole model on CUDA). */
    @Override
    protected void updateAll(List<Param> ps, List<Tensor> ws, List<Tensor> gs, float[] decays, float lr, long step) {
        List<Tensor> buffers = momentum == 0 ? null : ps.stream().map(p -> buffer("sgd.momentum_buffer", p)).toList();
        ws.getFirst().backend().fused().sgdSteps(ws, gs, buffers, decays, lr, momentum, nesterov);
    }
}

package ai.crate.model.nn;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;

/**
 * nn.BatchNorm2d on channels-last feature maps [B, L, C] (eps 1e-5, momentum 0.1, affine): in training the batch's
 * mean and biased variance over B·L normalise, and the running mean and unbiased variance move by the momentum
 * ({@code num_batches_tracked} counts the steps); in evaluation the running statistics normalise. Keys as PyTorch's:
 * weight, bias, running_mean, running_var, num_batches_tracked.
 */
public final class BatchNorm extends Module {
    public static final float EPS = 1e-5f;
    public static final float MOMENTUM = 0.1f;

    private final Variable weight;
    private final Variable bias;
    private final Variable runningMean;
    private final Variable runningVar;
    private final Counter batches;

    public BatchNorm(Init init, int channels) {
        this.weight = parameter("weight", init.constant(1f, channels));
        this.bias = parameter("bias", init.constant(0f, channels));
        this.runningMean = buffer("running_mean", init.constant(0f, channels));
        this.runningVar = buffer("running_var", init.constant(1f, channels));
        this.batches = counter("num_batches_tracked");
    }

    public Variable forward(Variable x) {
        int[] s = x.shape();
        int c = s[s.length - 1];
        Variable rows = F.reshape(x, -1, c);
        Variable y = isTraining() ? batchStatistics(rows) : runningStatistics(rows);
        return F.reshape(y, s);
    }

    private Variable batchStatistics(Variable rows) {
        int m = rows.shape()[0];
        Variable mean = F.mean(rows, 0, true);
        Variable centred = F.sub(rows, mean);
        Variable var = F.mean(F.square(centred), 0, true);
        Variable y = F.add(F.mul(F.div(centred, F.sqrt(F.affine(var, 1f, EPS))), weight), bias);
        try (var noGrad = Autograd.noGrad()) {
            update(runningMean.value(), mean.value(), 1f);
            update(runningVar.value(), var.value(), m > 1 ? (float) m / (m - 1) : 1f);
        }
        batches.increment();
        return y;
    }

    /** running = (1 − momentum)·running + momentum·scale·batch. */
    private static void update(Tensor running, Tensor batch, float scale) {
        Backend be = running.backend();
        Tensor b = batch.reshape(running.shape());
        Tensor scaled = be.allocate(running.shape());
        be.affine(b, MOMENTUM * scale, 0f, scaled);
        be.affine(running, 1 - MOMENTUM, 0f, running);
        be.binary(BinaryOp.ADD, running, scaled, running);
        be.release(scaled);
    }

    /** y = x·γ/√(var + eps) + (β − mean·γ/√(var + eps)), differentiable in x, γ and β. */
    private Variable runningStatistics(Variable rows) {
        Backend be = rows.backend();
        Tensor inv = be.allocate(runningVar.shape());
        be.affine(runningVar.value(), 1f, EPS, inv);
        be.unary(UnaryOp.SQRT, inv, inv);
        be.unary(UnaryOp.RECIPROCAL, inv, inv);
        Variable scale = F.mul(weight, Variable.temporary(inv));
        Variable shift = F.sub(bias, F.mul(runningMean, scale));
        return F.add(F.mul(rows, scale), shift);
    }

    public Variable runningMean() { return runningMean; }

    public Variable runningVar() { return runningVar; }

    public long batchesTracked() { return batches.get(); }
}

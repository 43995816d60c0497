package ai.crate.model.optim;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import ai.crate.model.io.StoredTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A first-order optimizer over named parameters with decoupled weight decay (p ← p·(1 − lr·wd) on the parameters
 * whose {@link Param#decay()} is set). Updates tensors in place through backend ops. Its state (moment buffers and
 * the step count) can be saved and restored exactly, for resuming training.
 */
public abstract class Optimizer {
    protected final List<Param> params;
    protected final float weightDecay;
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private float lr;
    private long steps;

    protected Optimizer(List<Param> params, float lr, float weightDecay) {
        if (!(lr >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": need lr >= 0 and weight decay >= 0, got lr "
                    + lr + ", weight decay " + weightDecay);
        }
        this.params = List.copyOf(params);
        this.lr = lr;
        this.weightDecay = weightDecay;
    }

    /** A zero-filled state buffer shaped like parameter {@code p}, saved under "{kind}.{p's name}". */
    protected final Tensor buffer(String kind, Param p) {
        return buffers.computeIfAbsent(kind + "." + p.name(), k -> {
            Tensor t = p.variable().backend().empty(p.variable().shape());
            p.variable().backend().fill(t, 0f);
            return t;
        });
    }

    public final float learningRate() { return lr; }

    public final void setLearningRate(float lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        this.lr = lr;
    }

    /** Optimizer steps taken (restored by {@link #loadState}). */
    public final long steps() { return steps; }

    /** One update of every parameter that has a gradient; parameters without one are skipped, as in PyTorch. */
    public final void step() {
        steps++;
        List<Param> ps = new ArrayList<>();
        List<Tensor> ws = new ArrayList<>(), gs = new ArrayList<>();
        for (Param p : params) {
            Tensor g = p.variable().grad();
            if (g == null) continue;
            ps.add(p);
            ws.add(p.variable().value());
            gs.add(g);
        }
        float[] decays = new float[ps.size()];
        for (int i = 0; i < decays.length; i++) decays[i] = ps.get(i).decay() ? 1f - lr * weightDecay : 1f;
        if (!ps.isEmpty()) updateAll(ps, ws, gs, decays, lr, steps);
    }

    /**
     * The update of every parameter that has a gradient (parallel lists: parameter, value, gradient, decay): the
     * decoupled decay w ← decay·w (decay = 1 − lr·wd, or 1 for parameters exempt from it), then the rule's step;
     * {@code step} counts from 1. Backends fuse both into one pass, per parameter or for all at once.
     */
    protected abstract void updateAll(List<Param> ps, List<Tensor> ws, List<Tensor> gs, float[] decays, float lr,
                                      long step);

    public final void zeroGrad() { for (Param p : params) p.variable().zeroGrad(); }

    /** ‖g‖ of the last {@link #clipGradNorm}, reused by the next. */
    private Tensor gradNorm;

    /**
     * As torch.nn.utils.clip_grad_norm_: every gradient times min(1, maxNorm / (‖g‖ + 1e-6)), ‖g‖ the global L2 norm
     * over all parameters. Computed on the backend without reading anything back (a GPU step stays queued); returns
     * ‖g‖ before clipping as a one-element tensor the optimizer owns and overwrites at the next call (its
     * {@code item()} waits for it), or null when no parameter has a gradient.
     */
    public final Tensor clipGradNorm(float maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("clipGradNorm: maxNorm must be positive, got " + maxNorm);
        List<Tensor> grads = new ArrayList<>();
        for (Param p : params) if (p.variable().grad() != null) grads.add(p.variable().grad());
        if (grads.isEmpty()) return null;
        Backend be = grads.getFirst().backend();
        if (gradNorm == null || gradNorm.backend() != be) gradNorm = be.allocate(1);
        Tensor total = gradNorm;
        be.fill(total, 0f);
        be.fused().sumOfSquaresInto(grads, total);
        be.unary(UnaryOp.SQRT, total, total);
        Tensor coef = be.allocate(1), one = be.allocate(1);
        be.affine(total, 1f, 1e-6f, coef);
        be.unary(UnaryOp.RECIPROCAL, coef, coef);
        be.affine(coef, maxNorm, 0f, coef);
        be.fill(one, 1f);
        be.binary(BinaryOp.MIN, coef, one, coef);
        be.fused().scaleAll(grads, coef);
        be.release(coef);
        be.release(one);
        return total;
    }

    /** The moment buffers under stable names ("{kind}.{parameter}"), for a checkpoint; the step count is separate. */
    public final Map<String, StoredTensor> state() {
        for (Param p : params) initBuffers(p);
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        buffers.forEach((k, t) -> out.put(k, StoredTensor.f32(t.shape(), t.toFloatArray())));
        return out;
    }

    /** Restores {@link #state()} and the step count; every buffer must be present with its shape. */
    public final void loadState(Map<String, StoredTensor> state, long steps) {
        for (Param p : params) initBuffers(p);
        for (var e : buffers.entrySet()) {
            StoredTensor s = state.get(e.getKey());
            if (s == null) {
                throw new IllegalArgumentException(getClass().getSimpleName() + " state: missing buffer '" + e.getKey() + "'");
            }
            if (!Arrays.equals(s.shape(), e.getValue().shape())) {
                throw new IllegalArgumentException(getClass().getSimpleName() + " state: buffer '" + e.getKey()
                        + "' has shape " + Arrays.toString(s.shape()) + ", expected " + Arrays.toString(e.getValue().shape()));
            }
            Backend be = e.getValue().backend();
            be.copy(be.fromArray(s.floats(), s.shape()), e.getValue());
        }
        this.steps = steps;
    }

    /** Creates the buffers of {@code p} (so state() lists them before the first step). */
    protected abstract void initBuffers(Param p);
}

package ai.crate.model.nn;

import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A layer with named parameters and named sub-layers, so every parameter has a dotted name exactly as the official
 * PyTorch state_dict spells it (e.g. {@code transformer.layers.3.0.fn.qkv.weight}). A sub-layer registered with
 * {@link #inline} adds its members under this layer's own prefix (a part whose official keys sit at its parent's
 * level, such as a model's {@code pos_embedding}).
 */
public abstract class Module {
    /** Parameters (Variable) and sub-layers (Module) in registration order, which is the state_dict order. */
    private final Map<String, Object> members = new LinkedHashMap<>();
    private int inlined;
    private boolean training = true;

    protected final Variable parameter(String name, Tensor value) {
        return member(name, Variable.parameter(value));
    }

    /** A fixed tensor saved with the parameters but never trained (a constant Variable). */
    protected final Variable buffer(String name, Tensor value) {
        return member(name, Variable.constant(value));
    }

    /** An integer saved with the weights, int64 in checkpoints (BatchNorm's {@code num_batches_tracked}). */
    public static final class Counter {
        private long value;

        public long get() { return value; }

        public void set(long v) { value = v; }

        public void increment() { value++; }
    }

    protected final Counter counter(String name) { return member(name, new Counter()); }

    protected final <M extends Module> M child(String name, M module) {
        if (name.isEmpty() || name.startsWith("\0")) throw new IllegalArgumentException("child name must be a key");
        return member(name, module);
    }

    /** A sub-layer whose members are named as if they were this layer's own. */
    protected final <M extends Module> M inline(M module) { return member("\0" + inlined++, module); }

    private <T> T member(String name, T member) {
        if (members.putIfAbsent(name, member) != null) throw new IllegalStateException("duplicate member " + name);
        return member;
    }

    /** Every trainable parameter under its full dotted name, in registration order (the official state_dict order). */
    public final Map<String, Variable> namedParameters() {
        Map<String, Variable> out = new LinkedHashMap<>();
        collect("", out);
        out.values().removeIf(v -> !v.requiresGrad());
        return Collections.unmodifiableMap(out);
    }

    /** Parameters and fixed buffers: everything a state_dict holds, in its order. */
    public final Map<String, Variable> namedTensors() {
        Map<String, Variable> out = new LinkedHashMap<>();
        collect("", out);
        return Collections.unmodifiableMap(out);
    }

    /** Number of trainable scalars. */
    public final long parameterCount() {
        long n = 0;
        for (Variable v : namedParameters().values()) n += v.value().size();
        return n;
    }

    /** Every integer counter under its full dotted name, in state_dict order. */
    public final Map<String, Counter> namedCounters() {
        Map<String, Object> all = new LinkedHashMap<>();
        collectAll("", all);
        Map<String, Counter> out = new LinkedHashMap<>();
        all.forEach((k, v) -> { if (v instanceof Counter c) out.put(k, c); });
        return Collections.unmodifiableMap(out);
    }

    /** Everything a state_dict holds, Variables and Counters, in its order. */
    public final Map<String, Object> namedState() {
        Map<String, Object> all = new LinkedHashMap<>();
        collectAll("", all);
        return Collections.unmodifiableMap(all);
    }

    private void collect(String prefix, Map<String, Variable> out) {
        Map<String, Object> all = new LinkedHashMap<>();
        collectAll(prefix, all);
        all.forEach((k, v) -> { if (v instanceof Variable var) out.put(k, var); });
    }

    private void collectAll(String prefix, Map<String, Object> out) {
        members.forEach((k, m) -> {
            if (m instanceof Module sub) sub.collectAll(k.startsWith("\0") ? prefix : prefix + k + ".", out);
            else if (out.putIfAbsent(prefix + k, m) != null) {
                throw new IllegalStateException("two members are named " + prefix + k);
            }
        });
    }

    /**
     * The weights were changed in place (an optimizer step, a load): this layer and every sub-layer drop what they
     * derived from them (e.g. ISTA's inference matrix).
     */
    public final void weightsChanged() {
        onWeightsChanged();
        for (Object m : members.values()) if (m instanceof Module sub) sub.weightsChanged();
    }

    /** Drops tensors derived from this layer's own weights; nothing by default. */
    protected void onWeightsChanged() {}

    /**
     * Training or evaluation mode for this layer and every sub-layer, as PyTorch's {@code train()}/{@code eval()}:
     * layers that behave differently (batch statistics, dropout) read {@link #isTraining()}. A new layer trains.
     */
    public final void train(boolean on) {
        training = on;
        for (Object m : members.values()) if (m instanceof Module sub) sub.train(on);
    }

    public final boolean isTraining() { return training; }
}

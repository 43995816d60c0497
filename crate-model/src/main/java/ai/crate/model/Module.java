package ai.crate.model;

import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A layer with named parameters and named sub-layers, so every parameter has a dotted name exactly as the official
 * PyTorch state_dict spells it (e.g. {@code transformer.layers.3.0.fn.qkv.weight}).
 */
public abstract class Module {
    /** Parameters (Variable) and sub-layers (Module) in registration order, which is the state_dict order. */
    private final Map<String, Object> members = new LinkedHashMap<>();

    protected final Variable parameter(String name, Tensor value) {
        Variable v = Variable.parameter(value);
        if (members.putIfAbsent(name, v) != null) throw new IllegalStateException("duplicate member " + name);
        return v;
    }

    /** A fixed tensor saved with the parameters but never trained (a constant Variable). */
    protected final Variable buffer(String name, Tensor value) {
        Variable v = Variable.constant(value);
        if (members.putIfAbsent(name, v) != null) throw new IllegalStateException("duplicate member " + name);
        return v;
    }

    protected final <M extends Module> M child(String name, M module) {
        if (members.putIfAbsent(name, module) != null) throw new IllegalStateException("duplicate member " + name);
        return module;
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

    private void collect(String prefix, Map<String, Variable> out) {
        members.forEach((k, m) -> {
            if (m instanceof Module sub) sub.collect(prefix + k + ".", out);
            else out.put(prefix + k, (Variable) m);
        });
    }
}

package ai.crate.autograd;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A node of the computation graph: a value {@link Tensor}, and for results of ops that need gradients, the op's
 * parents and {@link BackwardRule}. Leaves are made with {@link #parameter} (requires grad) or {@link #constant};
 * op results with {@link #fromOp}, which is also how to define a custom op:
 * <pre>{@code
 * // y = x², with its gradient rule dx = dy · 2x
 * Tensor y = backend.empty(x.shape());
 * backend.unary(UnaryOp.SQUARE, x.value(), y);
 * Variable out = Variable.fromOp("square", y, List.of(x), (dy, needs) -> {
 *     Tensor dx = backend.empty(x.shape());
 *     backend.unaryBackward(UnaryOp.SQUARE, x.value(), dy, dx);
 *     return new Tensor[] {dx};
 * });
 * }</pre>
 *
 * <p>As in PyTorch, {@link #backward} keeps gradients only on leaves that require grad; intermediate gradients are
 * handed back to the backend ({@link Backend#release}) as soon as they have been passed on, and
 * {@link #releaseGraph} hands back a finished graph's values and saved buffers, so a training loop in steady state
 * reuses its buffers instead of allocating. Backward rules read the values saved at forward time, so modifying a
 * value in place between forward and backward gives wrong gradients. Not thread-safe.
 */
public final class Variable {
    private final Tensor value;
    private final boolean requiresGrad;
    private final String op;
    private final List<Variable> parents;
    private final BackwardRule rule;
    /** Tensors the rule saved besides parent values (attention maps, residuals, statistics). */
    private final List<Tensor> buffers;
    private boolean released;
    /** An op result that recorded no node and holds storage of its own (not a view of a parent's): see discard. */
    private final boolean ownsStorage;
    private Tensor grad;

    private Variable(Tensor value, boolean requiresGrad, String op, List<Variable> parents, BackwardRule rule,
                     List<Tensor> buffers) {
        this(value, requiresGrad, op, parents, rule, buffers, false);
    }

    private Variable(Tensor value, boolean requiresGrad, String op, List<Variable> parents, BackwardRule rule,
                     List<Tensor> buffers, boolean ownsStorage) {
        this.ownsStorage = ownsStorage;
        this.value = value;
        this.requiresGrad = requiresGrad;
        this.op = op;
        this.parents = parents;
        this.rule = rule;
        this.buffers = buffers;
    }

    /** A leaf whose gradient {@link #backward} accumulates: a weight, or an input to differentiate by. */
    public static Variable parameter(Tensor value) {
        return new Variable(value, true, "parameter", List.of(), null, List.of());
    }

    /** A leaf that needs no gradient: data, labels, fixed tensors. */
    public static Variable constant(Tensor value) {
        return new Variable(value, false, "constant", List.of(), null, List.of());
    }

    private static final String TEMPORARY = "temporary";

    /**
     * A constant made for this graph alone (a layout copy of the input, say): like {@link #constant}, except that
     * {@link #releaseGraph} hands its storage back with the graph's other buffers.
     */
    public static Variable temporary(Tensor value) {
        return new Variable(value, false, TEMPORARY, List.of(), null, List.of());
    }

    /**
     * {@link #temporary} for a tensor derived from {@code source} (a layout copy of it, typically), or a
     * {@link #constant} when it turns out to be a view of source's storage, which is not the graph's to hand back.
     */
    public static Variable temporaryUnlessViewOf(Tensor value, Tensor source) {
        return value.storage() == source.storage() ? constant(value) : temporary(value);
    }

    private boolean isTemporary() { return rule == null && op.equals(TEMPORARY); }

    /**
     * The result of op {@code op}: {@code value} computed from {@code parents}, with the rule that sends its gradient
     * back to them. Records a node only when recording is on ({@link Autograd#isGradEnabled()}) and some parent
     * requires grad; otherwise the result is a constant and {@code rule} is dropped.
     *
     * @throws IllegalArgumentException if the value and the parents are not all on one backend
     */
    public static Variable fromOp(String op, Tensor value, List<Variable> parents, BackwardRule rule) {
        return fromOp(op, value, parents, rule, new Tensor[0]);
    }

    /**
     * As {@link #fromOp(String, Tensor, List, BackwardRule)}, naming the tensors the rule keeps besides its parents'
     * values and its own output, so that {@link #releaseGraph} can hand them back too.
     */
    public static Variable fromOp(String op, Tensor value, List<Variable> parents, BackwardRule rule,
                                  Tensor... buffers) {
        Objects.requireNonNull(rule, "rule");
        List<Variable> inputs = List.copyOf(parents);
        requireSameBackend(op, value, inputs);
        List<Tensor> saved = Arrays.stream(buffers).filter(Objects::nonNull).toList();
        if (willRecord(inputs)) return new Variable(value, true, op, inputs, rule, saved);
        for (Tensor b : saved) b.backend().release(b);      // saved for a backward that cannot come
        boolean view = inputs.stream().anyMatch(p -> p.value.storage() == value.storage());
        return new Variable(value, false, op, List.of(), null, List.of(), !view);
    }

    /** Whether an op on {@code inputs} records a node: recording is on and some input requires grad. */
    public static boolean willRecord(List<Variable> inputs) {
        if (!Autograd.isGradEnabled()) return false;
        for (Variable v : inputs) if (v.requiresGrad) return true;
        return false;
    }

    /**
     * The result of a module's tape-free path (inside {@link Autograd#noGrad()}): a value computed straight on
     * backend ops into storage of its own, recording nothing. {@link #discard} may hand it back.
     */
    public static Variable untaped(String op, Tensor value) {
        return new Variable(value, false, op, List.of(), null, List.of(), true);
    }

    /**
     * Hands this value's storage back to the backend for reuse, where nothing can read it again: only inside
     * {@link Autograd#noGrad()} (no tape keeps it), and only for an op result holding storage of its own or a
     * {@link #temporary} (never a parameter, a constant or a view of another variable's value). Elsewhere it does
     * nothing: after a backward, {@link #releaseGraph} hands a training graph back. Modules call it on the
     * intermediates they are done with, so a stream of inference batches allocates nothing; reading the value
     * afterwards is an error.
     */
    public void discard() {
        if (!mayOverwrite()) return;
        released = true;
        value.backend().release(value);
    }

    /**
     * Whether the code holding this variable may write over its value or hand it back: only inside
     * {@link Autograd#noGrad()} (no tape reads it later), and only for an op result with storage of its own or a
     * {@link #temporary}. A module's tape-free path uses it to add a residual in place into a fresh branch output.
     */
    public boolean mayOverwrite() {
        return !Autograd.isGradEnabled() && !released && (ownsStorage || isTemporary());
    }

    static void requireSameBackend(String op, Tensor value, List<Variable> inputs) {
        for (Variable v : inputs) {
            if (v.value.backend() != value.backend()) {
                throw new IllegalArgumentException(op + ": mixes backends: input " + v.value + " is on '"
                        + v.value.backend().name() + "' but " + value + " is on '" + value.backend().name()
                        + "' (distinct backend instances); move tensors with tensor.to(backend)");
            }
        }
    }

    public Tensor value() {
        if (released) {
            throw new IllegalStateException("the value of '" + op + "' was handed back by releaseGraph() or discard();"
                    + " read what you need (e.g. loss.value().item()) before releasing it");
        }
        return value;
    }

    /** The accumulated gradient, shaped like the value; null before any backward reached it or after zeroGrad. */
    public Tensor grad() { return grad; }

    public boolean requiresGrad() { return requiresGrad; }

    /** True for parameters, constants and op results that recorded no node. */
    public boolean isLeaf() { return rule == null; }

    /** The op that produced this variable, or "parameter" / "constant" for leaves made directly. */
    public String op() { return op; }

    /** The inputs of the recorded op; empty for leaves. */
    public List<Variable> parents() { return parents; }

    public int[] shape() { return value.shape(); }

    public Backend backend() { return value.backend(); }

    /**
     * Forgets the accumulated gradient, so the next backward starts afresh; its buffer (which this variable owns) is
     * handed back to the backend for reuse, so a tensor obtained from {@link #grad()} must not be used afterwards.
     */
    public void zeroGrad() {
        if (grad != null) grad.backend().release(grad);
        grad = null;
    }

    /**
     * Backpropagates from this one-element variable, typically a loss: seeds its gradient with 1.
     *
     * @throws IllegalStateException if the value has more than one element (use {@link #backward(Tensor)}) or this
     *                               variable does not require grad
     */
    public void backward() {
        if (value.size() != 1) {
            throw new IllegalStateException("backward() needs a one-element output, but '" + op + "' has shape "
                    + Arrays.toString(value.shape()) + "; pass the output's gradient with backward(seed)");
        }
        Tensor one = value.backend().allocate(value.shape());
        value.backend().fill(one, 1f);
        backward(one);
        value.backend().release(one);   // leaves keep copies of what reached them, so the seed is free again
    }

    /**
     * Backpropagates {@code seed}, the gradient of some scalar with respect to this variable, accumulating
     * (adding) into the {@link #grad()} of every parameter this variable depends on. Runs in reverse topological
     * order with an explicit stack, so graph depth is limited by memory, not by the thread's stack.
     *
     * @throws IllegalArgumentException if {@code seed} differs in shape or backend from the value
     * @throws IllegalStateException    if this variable does not require grad, or a backward rule returns a
     *                                  gradient of the wrong shape or count
     */
    public void backward(Tensor seed) {
        if (!requiresGrad) {
            throw new IllegalStateException("backward: '" + op + "' does not require grad (a constant, a result of"
                    + " constants only, or computed inside Autograd.noGrad())");
        }
        if (seed.backend() != value.backend()) {
            throw new IllegalArgumentException("backward: seed " + seed + " is on backend '" + seed.backend().name()
                    + "' but the output " + value + " is on '" + value.backend().name() + "'");
        }
        if (!Arrays.equals(seed.shape(), value.shape())) {
            throw new IllegalArgumentException("backward: seed shape " + Arrays.toString(seed.shape())
                    + " differs from output shape " + Arrays.toString(value.shape()));
        }
        List<Variable> order = topologicalOrder();
        // Gradients in flight are counted per storage and handed back when the last reference is consumed; the
        // graph's own values and saved buffers (and the caller's seed) are never handed back here.
        Set<Object> kept = Collections.newSetFromMap(new IdentityHashMap<>());
        kept.add(seed.storage());
        for (Variable v : order) {
            kept.add(v.value.storage());
            for (Tensor b : v.buffers) kept.add(b.storage());
        }
        InFlight inFlight = new InFlight(kept);
        Map<Variable, Tensor> pending = new IdentityHashMap<>();
        pending.put(this, seed);
        for (int i = order.size() - 1; i >= 0; i--) {
            Variable v = order.get(i);
            Tensor g = pending.remove(v);
            if (g == null) continue;
            if (v.isLeaf()) {
                if (v.grad == null && g.isContiguous() && g.offset() == 0 && inFlight.soleHolder(g)) {
                    v.grad = g;            // the first gradient of a leaf, held by nothing else: adopted, not copied
                    inFlight.forget(g);
                    continue;
                }
                v.accumulate(g);
            } else {
                v.propagate(g, pending, inFlight);
            }
            inFlight.drop(g);
        }
    }

    /** Reference counts of the storages of gradients in flight during one backward. */
    private static final class InFlight {
        private final Set<Object> kept;
        private final Map<Object, int[]> refs = new IdentityHashMap<>();

        InFlight(Set<Object> kept) { this.kept = kept; }

        void hold(Tensor t) { refs.computeIfAbsent(t.storage(), k -> new int[1])[0]++; }

        /** True when {@code t}'s storage is a gradient in flight referenced once, and not the graph's own. */
        boolean soleHolder(Tensor t) {
            int[] n = refs.get(t.storage());
            return n != null && n[0] == 1 && !kept.contains(t.storage());
        }

        /** Stops counting {@code t}'s storage without handing it back (a leaf adopted it). */
        void forget(Tensor t) { refs.remove(t.storage()); }

        void drop(Tensor t) {
            Object s = t.storage();
            int[] n = refs.get(s);
            if (n != null && --n[0] > 0) return;
            refs.remove(s);
            if (!kept.contains(s)) t.backend().release(t);
        }
    }

    /**
     * Hands the storage of every intermediate value and saved buffer of the graph that produced this variable back to
     * the backend for reuse, and marks those variables released: reading their values afterwards is an error.
     * Leaves (parameters, constants, their views) and their gradients are untouched. Call it once per training step,
     * after {@link #backward} and after reading what you need from the graph (the loss value, the logits).
     */
    public void releaseGraph() {
        List<Variable> nodes = new ArrayList<>();
        Set<Variable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<Variable> stack = new ArrayDeque<>();
        stack.push(this);
        seen.add(this);
        while (!stack.isEmpty()) {
            Variable v = stack.pop();
            nodes.add(v);
            for (Variable p : v.parents) if (seen.add(p)) stack.push(p);
        }
        Set<Object> leaves = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Variable v : nodes) if (v.isLeaf() && !v.isTemporary()) leaves.add(v.value.storage());
        Set<Object> done = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Variable v : nodes) {
            if ((v.isLeaf() && !v.isTemporary()) || v.released) continue;
            List<Tensor> owned = new ArrayList<>(v.buffers);
            owned.add(v.value);
            for (Tensor t : owned) {
                if (!leaves.contains(t.storage()) && done.add(t.storage())) t.backend().release(t);
            }
            v.released = true;
        }
    }

    /** Variables reachable through parents that require grad, every parent before its children. */
    private List<Variable> topologicalOrder() {
        List<Variable> order = new ArrayList<>();
        Set<Variable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        // Iterative post-order DFS: each frame is a variable and the index of its next parent to visit.
        Deque<Variable> stack = new ArrayDeque<>();
        Deque<int[]> next = new ArrayDeque<>();
        stack.push(this);
        next.push(new int[1]);
        seen.add(this);
        while (!stack.isEmpty()) {
            Variable v = stack.peek();
            int[] k = next.peek();
            if (k[0] < v.parents.size()) {
                Variable p = v.parents.get(k[0]++);
                if (p.requiresGrad && seen.add(p)) {
                    stack.push(p);
                    next.push(new int[1]);
                }
            } else {
                order.add(stack.pop());
                next.pop();
            }
        }
        return order;
    }

    private void propagate(Tensor g, Map<Variable, Tensor> pending, InFlight inFlight) {
        boolean[] needs = new boolean[parents.size()];
        for (int i = 0; i < needs.length; i++) needs[i] = parents.get(i).requiresGrad;
        Tensor[] grads = rule.gradients(g, needs);
        if (grads == null || grads.length != parents.size()) {
            throw new IllegalStateException("backward of '" + op + "' returned "
                    + (grads == null ? "null" : grads.length + " gradients") + " for " + parents.size() + " parents");
        }
        for (int i = 0; i < grads.length; i++) {
            Variable p = parents.get(i);
            Tensor gi = grads[i];
            if (!needs[i] || gi == null) continue;
            if (gi.backend() != value.backend() || !Arrays.equals(gi.shape(), p.value.shape())) {
                throw new IllegalStateException("backward of '" + op + "': gradient for parent " + i + " is " + gi
                        + " on '" + gi.backend().name() + "', expected shape " + Arrays.toString(p.value.shape())
                        + " on '" + value.backend().name() + "'");
            }
            inFlight.hold(gi);
            Tensor before = pending.get(p);
            if (before == null) {
                pending.put(p, gi);
            } else {
                Tensor total = sum(before, gi);
                inFlight.hold(total);
                pending.put(p, total);
                inFlight.drop(before);
                inFlight.drop(gi);
            }
        }
        // A rule may compute a gradient nobody needs (for a constant input): hand it back, after the needed ones are
        // held, so a storage they share stays.
        for (int i = 0; i < grads.length; i++) {
            if (!needs[i] && grads[i] != null) {
                inFlight.hold(grads[i]);
                inFlight.drop(grads[i]);
            }
        }
    }

    /** grad += g into a fresh, contiguous tensor this variable owns (g may be a view shared with other nodes). */
    private void accumulate(Tensor g) {
        if (grad == null) {
            grad = g.backend().allocate(g.shape());
            g.backend().copy(g, grad);
        } else {
            Tensor old = grad;
            grad = sum(old, g);
            old.backend().release(old);
        }
    }

    /** a + b in a new tensor: never in place, since gradients in flight may be views of one another. */
    private static Tensor sum(Tensor a, Tensor b) {
        Tensor out = a.backend().allocate(a.shape());
        a.backend().binary(BinaryOp.ADD, a, b, out);
        return out;
    }

    @Override
    public String toString() {
        return "Variable(" + op + ", " + value + (requiresGrad ? ", requiresGrad" : "") + ")";
    }
}

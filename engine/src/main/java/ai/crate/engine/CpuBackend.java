package ai.crate.engine;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Storage shared by the CPU backends: a heap {@code float[]} per tensor, pooled for reuse. Ops are each backend's
 * own (concat and slice, copies between views, come from {@link Backend}'s defaults on top of each backend's copy).
 */
public abstract class CpuBackend implements Backend {
    /**
     * Debugging aid: -Dcrate.poisonPool=VALUE (a float, or NaN) fills recycled arrays with it, so an op that reads an
     * allocated tensor before writing it shows (its results change with the value).
     */
    private static final String POISON_VALUE = System.getProperty("crate.poisonPool");
    private static final boolean POISON = POISON_VALUE != null;
    private static final float POISON_FILL = POISON ? Float.parseFloat(POISON_VALUE) : 0f;

    /**
     * Released arrays by length, for {@link #allocate}; at most {@link #poolLimit} floats are kept. Half the maximum
     * heap: a training step hands back all of its activations at once, and each array the pool cannot keep is
     * garbage that the next step allocates again — under the serial collector, which grows the heap before it
     * collects, that drift took ViT's training to the whole default heap (6 GB) with half of it live. Should the
     * pooled arrays ever stand between an allocation and the heap, the pool is emptied and the allocation retried.
     */
    private final Map<Integer, ArrayDeque<float[]>> pool = new HashMap<>();
    private final Set<float[]> pooled = Collections.newSetFromMap(new IdentityHashMap<>());
    private long pooledFloats;
    private final long poolLimit = Runtime.getRuntime().maxMemory() / 2 / Float.BYTES;

    @Override
    public Tensor empty(int... shape) { return create(shape, true); }

    @Override
    public Tensor allocate(int... shape) { return create(shape, false); }

    private Tensor create(int[] shape, boolean zeroed) {
        int[] s = shape.clone();
        long n = Shapes.numel(s);
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("empty: shape " + Arrays.toString(s) + " has " + n
                    + " elements, more than a CPU tensor can hold");
        }
        float[] d = takeFromPool((int) n);
        if (d == null) d = newArray((int) n);             // new arrays are zero already
        else if (zeroed) Arrays.fill(d, 0f);
        else if (POISON) Arrays.fill(d, POISON_FILL);
        return new Tensor(this, d, s, Shapes.contiguousStrides(s), 0);
    }

    private float[] newArray(int n) {
        try {
            return new float[n];
        } catch (OutOfMemoryError e) {
            if (!emptyPool()) throw e;
            return new float[n];
        }
    }

    /** Drops every pooled array (to the garbage collector); whether there were any. */
    private synchronized boolean emptyPool() {
        boolean any = pooledFloats > 0;
        pool.clear();
        pooled.clear();
        pooledFloats = 0;
        return any;
    }

    private synchronized float[] takeFromPool(int n) {
        ArrayDeque<float[]> q = pool.get(n);
        float[] d = q == null ? null : q.pollLast();
        if (d == null) return null;
        pooled.remove(d);
        pooledFloats -= n;
        return d;
    }

    /**
     * Keeps the array behind {@code t} for a later allocation of the same length (below half the maximum
     * heap in all; beyond that the garbage collector takes it). Releasing one array twice is a bug that would hand
     * one buffer to two tensors, so it is refused.
     */
    @Override
    public synchronized void release(Tensor t) {
        float[] d = data("release", t);
        if (!pooled.add(d)) {
            throw new IllegalStateException("release: the storage of " + t + " was already released");
        }
        if (d.length == 0 || pooledFloats + d.length > poolLimit) {
            pooled.remove(d);
            return;
        }
        pool.computeIfAbsent(d.length, k -> new ArrayDeque<>()).addLast(d);
        pooledFloats += d.length;
    }

    @Override
    public Tensor fromArray(float[] data, int... shape) {
        OpChecks.fromArray(data, shape);
        Tensor t = empty(shape);
        System.arraycopy(data, 0, (float[]) t.storage(), 0, data.length);
        return t;
    }

    @Override
    public float[] toArray(Tensor t) {
        float[] d = data("toArray", t);
        int n = (int) t.size();
        if (t.isContiguous()) return Arrays.copyOfRange(d, (int) t.offset(), (int) t.offset() + n);
        float[] out = new float[n];
        int[] shape = t.shape(), strides = t.strides();
        for (int i = 0; i < n; i++) out[i] = d[(int) (t.offset() + Layout.offsetOf(i, shape, strides))];
        return out;
    }

    @Override
    public void copyToHost(Tensor src, float[] dst, int offset) {
        OpChecks.hostRange("copyToHost", src, dst, offset);
        float[] d = data("copyToHost", src);
        int n = (int) src.size();
        if (src.isContiguous()) {
            System.arraycopy(d, (int) src.offset(), dst, offset, n);
            return;
        }
        int[] shape = src.shape(), strides = src.strides();
        for (int i = 0; i < n; i++) dst[offset + i] = d[(int) (src.offset() + Layout.offsetOf(i, shape, strides))];
    }

    @Override
    public void copyFromHost(float[] src, int offset, Tensor dst) {
        OpChecks.hostRange("copyFromHost", dst, src, offset);
        float[] d = data("copyFromHost", dst);
        int n = (int) dst.size();
        if (dst.isContiguous()) {
            System.arraycopy(src, offset, d, (int) dst.offset(), n);
            return;
        }
        int[] shape = dst.shape(), strides = dst.strides();
        for (int i = 0; i < n; i++) d[(int) (dst.offset() + Layout.offsetOf(i, shape, strides))] = src[offset + i];
    }

    /** The heap array behind {@code t}, after checking it belongs to this backend. */
    protected final float[] data(String op, Tensor t) {
        OpChecks.sameBackend(op, this, t);
        return (float[]) t.storage();
    }

    @Override
    public String toString() { return name(); }
}

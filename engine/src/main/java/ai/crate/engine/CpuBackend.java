package ai.crate.engine;

import java.util.Arrays;
import java.util.List;

/**
 * Storage shared by the CPU backends: a heap {@code float[]} per tensor. Ops are each backend's own, except concat
 * and slice, which are only copies between views and so are written once here on top of each backend's copy.
 */
public abstract class CpuBackend implements Backend {

    @Override
    public Tensor empty(int... shape) {
        int[] s = shape.clone();
        long n = Shapes.numel(s);
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("empty: shape " + Arrays.toString(s) + " has " + n
                    + " elements, more than a CPU tensor can hold");
        }
        return new Tensor(this, new float[(int) n], s, Shapes.contiguousStrides(s), 0);
    }

    @Override
    public Tensor fromArray(float[] data, int... shape) {
        long n = Shapes.numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("fromArray: " + data.length + " values do not fill shape "
                    + Arrays.toString(shape) + " (" + n + " elements)");
        }
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
    public final void concat(List<Tensor> xs, int axis, Tensor out) {
        OpChecks.sameBackend("concat", this, xs.toArray(new Tensor[0]));
        OpChecks.sameBackend("concat", this, out);
        int ax = OpChecks.concat("concat", xs, axis, out);
        int at = 0;
        for (Tensor x : xs) {
            copy(x, out.slice(ax, at, at + x.dim(ax)));
            at += x.dim(ax);
        }
    }

    @Override
    public final void slice(Tensor x, int axis, int start, Tensor out) {
        OpChecks.sameBackend("slice", this, x, out);
        int ax = OpChecks.slice("slice", x, axis, start, out);
        OpChecks.contiguous("slice", "output", out);
        copy(x.slice(ax, start, start + out.dim(ax)), out);
    }

    /** The heap array behind {@code t}, after checking it belongs to this backend. */
    protected final float[] data(String op, Tensor t) {
        OpChecks.sameBackend(op, this, t);
        return (float[]) t.storage();
    }

    @Override
    public String toString() { return name(); }
}

package ai.crate.engine;

import java.util.Arrays;

/**
 * A float32 tensor of any rank: a strided, row-major-by-default view onto storage owned by one {@link Backend}.
 *
 * <p>Views ({@link #reshape}, {@link #transpose}, {@link #slice}, {@link #select}) share storage and copy nothing;
 * {@link #contiguous()} copies only when the layout is not already dense row-major. All arithmetic goes through the
 * backend; this class only describes layout.
 */
public final class Tensor {
    private final Backend backend;
    private final Object storage;
    private final int[] shape;
    private final int[] strides;
    private final long offset;
    private final long size;

    /** For backends: wraps storage they allocated. Application code creates tensors through a {@link Backend}. */
    public Tensor(Backend backend, Object storage, int[] shape, int[] strides, long offset) {
        if (shape.length != strides.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " and strides "
                    + Arrays.toString(strides) + " differ in rank");
        }
        this.backend = backend;
        this.storage = storage;
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
        this.size = Shapes.numel(this.shape);
    }

    public Backend backend() { return backend; }

    /** Backend-specific storage (a {@code float[]} on CPU backends). */
    public Object storage() { return storage; }

    public int[] shape() { return shape.clone(); }

    public int[] strides() { return strides.clone(); }

    public long offset() { return offset; }

    public int rank() { return shape.length; }

    /** Size of dimension {@code axis}; negative axes count from the end. */
    public int dim(int axis) { return shape[Shapes.axis(axis, shape, "dim")]; }

    public int stride(int axis) { return strides[Shapes.axis(axis, shape, "stride")]; }

    public long size() { return size; }

    /** True when elements are dense and row-major, so the storage range [offset, offset+size) is this tensor. */
    public boolean isContiguous() {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    /** A view with a new shape (one dimension may be -1); copies first when this view is not contiguous. */
    public Tensor reshape(int... newShape) {
        int[] resolved = Shapes.resolveReshape(shape, newShape);
        Tensor base = isContiguous() ? this : contiguous();
        return new Tensor(backend, base.storage, resolved, Shapes.contiguousStrides(resolved), base.offset);
    }

    /** A view swapping the last two dimensions (no copy). */
    public Tensor transpose() {
        if (shape.length < 2) {
            throw new IllegalArgumentException("transpose needs rank >= 2, got shape " + Arrays.toString(shape));
        }
        return transpose(shape.length - 2, shape.length - 1);
    }

    /** A view swapping two dimensions (no copy). */
    public Tensor transpose(int axisA, int axisB) {
        int a = Shapes.axis(axisA, shape, "transpose");
        int b = Shapes.axis(axisB, shape, "transpose");
        int[] s = shape.clone();
        int[] st = strides.clone();
        s[a] = shape[b]; s[b] = shape[a];
        st[a] = strides[b]; st[b] = strides[a];
        return new Tensor(backend, storage, s, st, offset);
    }

    /** A view with dimensions reordered: dimension i of the result is dimension {@code order[i]} of this (no copy). */
    public Tensor permute(int... order) {
        if (order.length != shape.length) {
            throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " does not list the "
                    + shape.length + " dimensions of shape " + Arrays.toString(shape));
        }
        boolean[] seen = new boolean[shape.length];
        int[] s = new int[shape.length], st = new int[shape.length];
        for (int i = 0; i < order.length; i++) {
            int a = Shapes.axis(order[i], shape, "permute");
            if (seen[a]) {
                throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " repeats axis " + a);
            }
            seen[a] = true;
            s[i] = shape[a];
            st[i] = strides[a];
        }
        return new Tensor(backend, storage, s, st, offset);
    }

    /** A view of indices [start, end) along {@code axis} (no copy). */
    public Tensor slice(int axis, int start, int end) {
        int a = Shapes.axis(axis, shape, "slice");
        if (start < 0 || end > shape[a] || start > end) {
            throw new IllegalArgumentException("slice: range [" + start + ", " + end + ") out of bounds for axis "
                    + a + " of shape " + Arrays.toString(shape));
        }
        int[] s = shape.clone();
        s[a] = end - start;
        return new Tensor(backend, storage, s, strides, offset + (long) start * strides[a]);
    }

    /** A view of index {@code index} along the first dimension, dropping that dimension (no copy). */
    public Tensor select(int index) {
        if (shape.length == 0 || index < 0 || index >= shape[0]) {
            throw new IllegalArgumentException("select: index " + index + " out of bounds for shape "
                    + Arrays.toString(shape));
        }
        return new Tensor(backend, storage, Arrays.copyOfRange(shape, 1, shape.length),
                Arrays.copyOfRange(strides, 1, strides.length), offset + (long) index * strides[0]);
    }

    /** This tensor if already contiguous, else a dense row-major copy on the same backend. */
    public Tensor contiguous() {
        if (isContiguous()) return this;
        Tensor out = backend.empty(shape);
        backend.copy(this, out);
        return out;
    }

    /** A dense copy of this tensor on {@code target} (a copy even when the backend is the same). */
    public Tensor to(Backend target) {
        return target.fromArray(toFloatArray(), shape);
    }

    /** Elements in row-major order, copied to the heap. */
    public float[] toFloatArray() { return backend.toArray(this); }

    /** The single element of a one-element tensor. */
    public float item() {
        if (size != 1) throw new IllegalArgumentException("item() needs one element, shape is " + Arrays.toString(shape));
        return toFloatArray()[0];
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + "@" + backend.name();
    }
}

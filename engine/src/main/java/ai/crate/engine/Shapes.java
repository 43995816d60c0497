package ai.crate.engine;

import java.util.Arrays;

/** Shape arithmetic shared by all backends: sizes, strides, broadcasting, axis normalisation, checks. */
public final class Shapes {
    private Shapes() {}

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n *= d;
        }
        return n;
    }

    public static int[] contiguousStrides(int[] shape) {
        int[] strides = new int[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = (int) s;
            s *= Math.max(shape[i], 1);
        }
        if (s > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has more than 2^31-1 elements");
        }
        return strides;
    }

    /** Normalises a possibly negative axis of a tensor of {@code shape}; the error names op, axis and shape. */
    public static int axis(int axis, int[] shape, String op) {
        int a = axis < 0 ? axis + shape.length : axis;
        if (a < 0 || a >= shape.length) {
            throw new IllegalArgumentException(op + ": axis " + axis + " out of range for shape "
                    + Arrays.toString(shape));
        }
        return a;
    }

    public static int[] resolveReshape(int[] from, int[] to) {
        long known = 1;
        int inferred = -1;
        for (int i = 0; i < to.length; i++) {
            if (to[i] == -1) {
                if (inferred >= 0) throw new IllegalArgumentException("reshape: more than one -1 in " + Arrays.toString(to));
                inferred = i;
            } else if (to[i] < 0) {
                throw new IllegalArgumentException("reshape: negative dimension in " + Arrays.toString(to));
            } else {
                known *= to[i];
            }
        }
        long n = numel(from);
        int[] out = to.clone();
        if (inferred >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException("reshape: cannot reshape " + Arrays.toString(from) + " into "
                        + Arrays.toString(to));
            }
            out[inferred] = (int) (n / known);
        }
        if (numel(out) != n) {
            throw new IllegalArgumentException("reshape: cannot reshape " + Arrays.toString(from) + " ("
                    + n + " elements) into " + Arrays.toString(to));
        }
        return out;
    }

    /** NumPy broadcasting of two shapes, or an error naming the op and both shapes. */
    public static int[] broadcast(String op, int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            int db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + Arrays.toString(a) + " and "
                        + Arrays.toString(b) + " do not broadcast");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /**
     * Strides that read {@code t} as if broadcast to {@code target}: size-1 and missing leading dims get stride 0.
     */
    public static int[] broadcastStrides(Tensor t, int[] target, String op) {
        int[] shape = t.shape();
        int[] strides = t.strides();
        int lead = target.length - shape.length;
        if (lead < 0) {
            throw new IllegalArgumentException(op + ": cannot broadcast " + Arrays.toString(shape) + " to "
                    + Arrays.toString(target));
        }
        int[] out = new int[target.length];
        for (int i = 0; i < target.length; i++) {
            if (i < lead) continue;
            int d = shape[i - lead];
            if (d == target[i]) out[i] = strides[i - lead];
            else if (d == 1) out[i] = 0;
            else throw new IllegalArgumentException(op + ": cannot broadcast " + Arrays.toString(shape) + " to "
                        + Arrays.toString(target));
        }
        return out;
    }

    public static void requireShape(String op, String what, Tensor t, int... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + what + " has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(expected));
        }
    }

    public static void requireSameShape(String op, Tensor a, String aName, Tensor b, String bName) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException(op + ": " + aName + " shape " + Arrays.toString(a.shape())
                    + " differs from " + bName + " shape " + Arrays.toString(b.shape()));
        }
    }

    public static void requireRankAtLeast(String op, String what, Tensor t, int rank) {
        if (t.rank() < rank) {
            throw new IllegalArgumentException(op + ": " + what + " needs rank >= " + rank + ", got shape "
                    + Arrays.toString(t.shape()));
        }
    }

    /** Shape with {@code axis} removed. */
    public static int[] drop(int[] shape, int axis) {
        int[] out = new int[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) if (i != axis) out[j++] = shape[i];
        return out;
    }

    /** Shape with {@code axis} set to 1. */
    public static int[] keep(int[] shape, int axis) {
        int[] out = shape.clone();
        out[axis] = 1;
        return out;
    }
}

package ai.crate.model.io;

import java.util.Arrays;

/**
 * An immutable named-tensor value on the heap, as a checkpoint file stores it: the dtype, the shape (a 0-d scalar has
 * shape []) and the row-major data.
 *
 * <p>Floating data (F64, F32, F16, BF16) is held as float32, converted the way PyTorch's {@code .float()} converts:
 * F16 and BF16 widen exactly, F64 rounds to nearest even. The values always fit the dtype: the factories round floats
 * to F16/BF16 and range-check integers, so writing the tensor back with its dtype stores exactly these values (an F64
 * tensor is written with its float32 values widened). Integer data and BOOL (0 or 1) are held as long.
 */
public final class StoredTensor {
    private final DType dtype;
    private final int[] shape;
    private final float[] floats; // non-null exactly when dtype.isFloating()
    private final long[] longs;

    private StoredTensor(DType dtype, int[] shape, float[] floats, long[] longs) {
        this.dtype = dtype;
        this.shape = shape;
        this.floats = floats;
        this.longs = longs;
    }

    /** A float32 tensor holding a copy of {@code data}. */
    public static StoredTensor f32(int[] shape, float[] data) {
        return ofFloats(DType.F32, shape, data);
    }

    /** An int64 tensor holding a copy of {@code data}. */
    public static StoredTensor i64(int[] shape, long[] data) {
        return ofLongs(DType.I64, shape, data);
    }

    /**
     * A tensor of floating {@code dtype} holding a copy of {@code data}, each value rounded to the dtype (nearest
     * even, as PyTorch's {@code .to(dtype)}) so that what this tensor reports is what a file stores.
     */
    public static StoredTensor ofFloats(DType dtype, int[] shape, float[] data) {
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException("ofFloats: " + dtype + " is not a floating dtype; use ofLongs");
        }
        int[] s = checkedShape(shape, data.length);
        float[] copy = data.clone();
        if (dtype == DType.F16) {
            for (int i = 0; i < copy.length; i++) copy[i] = Float.float16ToFloat(Float.floatToFloat16(copy[i]));
        } else if (dtype == DType.BF16) {
            for (int i = 0; i < copy.length; i++) copy[i] = Elements.bf16ToFloat(Elements.floatToBf16(copy[i]));
        }
        return new StoredTensor(dtype, s, copy, null);
    }

    /** A tensor of integer {@code dtype} (or BOOL) holding a copy of {@code data}; every value must fit the dtype. */
    public static StoredTensor ofLongs(DType dtype, int[] shape, long[] data) {
        if (dtype.isFloating()) {
            throw new IllegalArgumentException("ofLongs: " + dtype + " is a floating dtype; use ofFloats");
        }
        int[] s = checkedShape(shape, data.length);
        long min = dtype.minValue(), max = dtype.maxValue();
        for (int i = 0; i < data.length; i++) {
            if (data[i] < min || data[i] > max) {
                throw new IllegalArgumentException("ofLongs: element " + i + " = " + data[i] + " does not fit "
                        + dtype + " [" + min + ", " + max + "]");
            }
        }
        return new StoredTensor(dtype, s, null, data.clone());
    }

    /** For readers: takes ownership of {@code data}, already converted and exactly representable in the dtype. */
    static StoredTensor wrapFloats(DType dtype, int[] shape, float[] data) {
        return new StoredTensor(dtype, shape.clone(), data, null);
    }

    /** For readers: takes ownership of {@code data}, already range-correct for the dtype. */
    static StoredTensor wrapLongs(DType dtype, int[] shape, long[] data) {
        return new StoredTensor(dtype, shape.clone(), null, data);
    }

    public DType dtype() { return dtype; }

    public int[] shape() { return shape.clone(); }

    public int rank() { return shape.length; }

    /** Number of elements: the product of the shape, 1 for a scalar. */
    public int numel() { return floats != null ? floats.length : longs.length; }

    /** A copy of the data, row-major, as float32. Only for floating dtypes. */
    public float[] floats() {
        if (floats == null) {
            throw new IllegalStateException("floats(): tensor has integer dtype " + dtype + "; use longs()");
        }
        return floats.clone();
    }

    /** A copy of the data, row-major. Only for integer dtypes and BOOL. */
    public long[] longs() {
        if (longs == null) {
            throw new IllegalStateException("longs(): tensor has floating dtype " + dtype + "; use floats()");
        }
        return longs.clone();
    }

    // Writers read the data without copying it.
    float floatAt(int i) { return floats[i]; }

    long longAt(int i) { return longs[i]; }

    @Override
    public boolean equals(Object o) {
        return o instanceof StoredTensor t && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && Arrays.equals(floats, t.floats) && Arrays.equals(longs, t.longs);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * dtype.hashCode() + Arrays.hashCode(shape)) + Arrays.hashCode(floats) + Arrays.hashCode(longs);
    }

    @Override
    public String toString() {
        return "StoredTensor[" + dtype + " " + Arrays.toString(shape) + "]";
    }

    private static int[] checkedShape(int[] shape, int dataLength) {
        long n = 1;
        boolean empty = false;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            if (d == 0) empty = true;
            if (n <= Integer.MAX_VALUE) n *= d; // stays below 2^62; past 2^31 we only need "too many"
        }
        if (empty) n = 0;
        if (n != dataLength) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + dataLength
                    + " elements");
        }
        return shape.clone();
    }
}

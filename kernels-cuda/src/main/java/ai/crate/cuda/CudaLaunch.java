package ai.crate.cuda;

import ai.crate.engine.Tensor;
import java.util.Arrays;

/**
 * What the CUDA backend's launches share: the block sizes the kernels are written for, the grids of the elementwise
 * and row kernels, the kernels' {@code View} struct, and the chores around a launch (a contiguous copy of an input
 * the kernel cannot read strided, host ints uploaded for it).
 */
final class CudaLaunch {
    static final int THREADS = 256;
    static final int ROWS_PER_BLOCK = 8;          // rows.cu: one warp per row, 8 warps per block
    private static final int MAX_RANK = 6;        // crate_cuda.cuh: CRATE_MAX_RANK
    /** Grid-stride loops cover what lies beyond this many blocks. */
    private static final int MAX_ELEMENTWISE_BLOCKS = 1 << 20;

    /** A rank-0 view: the kernels read it as "contiguous, same shape as the output". */
    static final int[] CONTIGUOUS = new int[1 + 2 * MAX_RANK];

    private final CudaBackend be;
    private final Device device;

    CudaLaunch(CudaBackend backend, Device device) {
        this.be = backend;
        this.device = device;
    }

    /** The device memory of a tensor of the CUDA backend. */
    static DeviceMemory mem(Tensor t) { return ((CudaBackend.Storage) t.storage()).memory(); }

    /** Where a tensor starts in its memory, in bytes. */
    static long bytes(Tensor t) { return t.offset() * Float.BYTES; }

    static int ceil(long a, int b) { return Math.toIntExact((a + b - 1) / b); }

    static int[] view(Tensor t, String op) { return view(t.shape(), t.strides(), op); }

    /**
     * The kernels' {@code View} struct (rank, shape[6], strides[6]) for a view of {@code shape} with
     * {@code strides}: size-1 dimensions dropped and adjacent dimensions merged where the strides allow, so
     * contiguous data becomes the rank-0 fast path and ranks above 6 usually fit.
     */
    static int[] view(int[] shape, int[] strides, String op) {
        int[] s = new int[shape.length], st = new int[shape.length];
        int r = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            if (r > 0 && st[r - 1] == (long) strides[d] * shape[d]) {
                s[r - 1] *= shape[d];
                st[r - 1] = strides[d];
            } else {
                s[r] = shape[d];
                st[r] = strides[d];
                r++;
            }
        }
        if (r == 0 || (r == 1 && st[0] == 1)) return CONTIGUOUS;
        if (r > MAX_RANK) {
            throw new IllegalArgumentException(op + ": a view of shape " + Arrays.toString(shape) + " strides "
                    + Arrays.toString(strides) + " has " + r + " dimensions that cannot be merged; the CUDA kernels "
                    + "take at most " + MAX_RANK + " (make it contiguous first)");
        }
        int[] v = new int[1 + 2 * MAX_RANK];
        v[0] = r;
        for (int d = 0; d < MAX_RANK; d++) {
            v[1 + d] = d < r ? s[d] : 1;
            v[1 + MAX_RANK + d] = d < r ? st[d] : 0;
        }
        return v;
    }

    /** A kernel with one thread per element of n. */
    void elementwise(String kernel, long n, KernelArgs args) {
        int blocks = (int) Math.min((n + THREADS - 1) / THREADS, MAX_ELEMENTWISE_BLOCKS);
        device.launch(kernel, Device.Dim3.of(Math.max(blocks, 1)), Device.Dim3.of(THREADS), 0, args);
    }

    /** A kernel with one warp per row. */
    void rows(String kernel, int rows, KernelArgs args) {
        device.launch(kernel, Device.Dim3.of(ceil(rows, ROWS_PER_BLOCK)), Device.Dim3.of(THREADS), 0, args);
    }

    /** {@code t} itself when contiguous, else a contiguous copy to hand to {@link #releaseIfCopy} after the launch. */
    Tensor contiguousInput(Tensor t) { return t.isContiguous() ? t : contiguousCopy(t); }

    Tensor contiguousCopy(Tensor t) {
        Tensor c = be.allocate(t.shape());
        be.copy(t, c);
        return c;
    }

    void releaseIfCopy(Tensor maybeCopy, Tensor original) { if (maybeCopy != original) be.release(maybeCopy); }

    /** Labels or indices for a kernel; release the tensor after the launch (the pool keeps stream order). */
    Tensor uploadInts(int[] values) {
        Tensor t = be.allocate(Math.max(values.length, 1));   // ints in a float buffer of the same byte size
        if (values.length > 0) device.upload(values, 0, mem(t), 0, values.length);
        return t;
    }
}

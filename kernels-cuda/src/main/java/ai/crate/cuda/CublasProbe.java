package ai.crate.cuda;

import java.util.Optional;

import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasStatus;
import jcuda.libraryPropertyType;
import jcuda.runtime.cudaStream_t;

/**
 * cuBLAS through JCublas, as a reference to benchmark our GEMM kernels against; the one class that touches
 * {@code jcuda.jcublas} (all of it in the nested {@code Native} class, loaded only once the library is known to
 * work). JCublas 12.6's native library links against {@code libcublas.so.12}, which hosts with only CUDA 13 lack
 * (a symlink to {@code libcublas.so.13} cannot work: the symbols are versioned), so it is optional and probed:
 * {@link #availability} never throws, and {@link #tryLoad} is empty where it says no.
 *
 * <p>SGEMM runs on the calling thread's stream of the {@link JCudaDevice}, so it is ordered with the backend's own
 * work on that thread. cuBLAS's default math mode is kept: FP32 without TF32 tensor cores (unless the environment
 * sets {@code NVIDIA_TF32_OVERRIDE=1}).
 */
public final class CublasProbe implements AutoCloseable {
    /** Whether cuBLAS can be used here: its version, or in one line why not. */
    public record Availability(boolean available, String reason) {}

    private static Availability cached;

    private final JCudaDevice device;
    private final Native handle;
    private boolean closed;

    private CublasProbe(JCudaDevice device, Native handle) {
        this.device = device;
        this.handle = handle;
    }

    /**
     * Loads JCublas once per JVM: available with "cuBLAS 12.x.y through JCublas 12.6.0", or why not, e.g.
     * "libcublas.so.12 not found (JCublas 12.6 needs CUDA 12's cuBLAS)". Never throws.
     */
    public static synchronized Availability availability() {
        if (cached == null) {
            Availability a;
            try {
                a = Native.load();
            } catch (LinkageError | RuntimeException e) {
                a = new Availability(false, reason(e));
            }
            cached = new Availability(a.available(), a.reason().replaceAll("\\s*\\R\\s*", "; "));
        }
        return cached;
    }

    private static String reason(Throwable e) {
        String cause = CudaBackendProvider.linkFailure(e);
        if (cause.startsWith("libcublas.so.12 not found") || cause.startsWith("libcublasLt.so.12 not found")) {
            return cause + " (JCublas 12.6 needs CUDA 12's cuBLAS)";
        }
        if (e instanceof NoClassDefFoundError && cause.contains("jcuda/jcublas")) {
            return "JCublas is not on the class path (" + cause + ")";
        }
        return "JCublas failed to load: " + cause;
    }

    /**
     * A cuBLAS handle on {@code device}'s context, or empty when {@link #availability} says cuBLAS cannot load
     * here. A {@link CudaException} if the library loads but {@code cublasCreate} fails.
     */
    public static Optional<CublasProbe> tryLoad(JCudaDevice device) {
        if (!availability().available()) return Optional.empty();
        device.stream();   // the device's context current on this thread, for cublasCreate
        return Optional.of(new CublasProbe(device, Native.create()));
    }

    /**
     * Column-major SGEMM exactly as cuBLAS defines it: C = α·op(A)·op(B) + β·C with op(A) m×k, op(B) k×n and C
     * m×n, leading dimensions in elements; asynchronous on the calling thread's stream.
     */
    public synchronized void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   DeviceMemory a, long aByteOffset, int lda, DeviceMemory b, long bByteOffset, int ldb,
                                   float beta, DeviceMemory c, long cByteOffset, int ldc) {
        if (closed) throw new IllegalStateException("sgemm: cuBLAS handle closed");
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("sgemm: negative size " + m + "×" + n + "×" + k);
        var pa = device.pointer(a, aByteOffset, extent(transA ? k : m, transA ? m : k, lda, "A"), "sgemm A");
        var pb = device.pointer(b, bByteOffset, extent(transB ? n : k, transB ? k : n, ldb, "B"), "sgemm B");
        var pc = device.pointer(c, cByteOffset, extent(m, n, ldc, "C"), "sgemm C");
        handle.sgemm(device.stream(), transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    /**
     * Row-major contiguous SGEMM, like {@code Backend.gemm} on 2-D tensors: C [m, n] = α·op(A)·op(B) + β·C, A stored
     * [m, k] ([k, m] when transA), B stored [k, n] ([n, k] when transB). Computed as the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ.
     */
    public void sgemmRowMajor(boolean transA, boolean transB, int m, int n, int k, float alpha,
                              DeviceMemory a, long aByteOffset, DeviceMemory b, long bByteOffset,
                              float beta, DeviceMemory c, long cByteOffset) {
        sgemm(transB, transA, n, m, k, alpha, b, bByteOffset, Math.max(1, transB ? k : n), a, aByteOffset,
                Math.max(1, transA ? m : k), beta, c, cByteOffset, Math.max(1, n));
    }

    /** Bytes a column-major rows×cols matrix with leading dimension ld spans. */
    private static long extent(int rows, int cols, int ld, String name) {
        if (ld < Math.max(1, rows)) {
            throw new IllegalArgumentException("sgemm: leading dimension of " + name + " is " + ld + " < " + rows);
        }
        return rows == 0 || cols == 0 ? 0 : ((long) ld * (cols - 1) + rows) * Float.BYTES;
    }

    /** Destroys the handle (before the device is closed); idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        device.stream();
        handle.destroy();
    }

    /** Everything that names a JCublas type; loaded only through {@link #availability} and {@link #tryLoad}. */
    private static final class Native {
        private final cublasHandle handle;

        private Native(cublasHandle handle) { this.handle = handle; }

        static Availability load() {
            JCublas2.setExceptionsEnabled(false);   // loads libJCublas2, so libcublas.so.12
            int[] v = new int[3];
            int[] one = new int[1];
            int[] props = {libraryPropertyType.MAJOR_VERSION, libraryPropertyType.MINOR_VERSION,
                    libraryPropertyType.PATCH_LEVEL};
            for (int i = 0; i < 3; i++) {
                check(JCublas2.cublasGetProperty(props[i], one), "cublasGetProperty");
                v[i] = one[0];
            }
            return new Availability(true, "cuBLAS " + v[0] + "." + v[1] + "." + v[2] + " through JCublas 12.6.0");
        }

        static Native create() {
            cublasHandle h = new cublasHandle();
            check(JCublas2.cublasCreate(h), "cublasCreate");
            return new Native(h);
        }

        void sgemm(jcuda.driver.CUstream stream, boolean transA, boolean transB, int m, int n, int k, float alpha,
                   Pointer a, int lda, Pointer b, int ldb, float beta, Pointer c, int ldc) {
            check(JCublas2.cublasSetStream(handle, new cudaStream_t(stream)), "cublasSetStream");
            check(JCublas2.cublasSgemm(handle, transA ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N,
                    transB ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N, m, n, k,
                    Pointer.to(new float[] {alpha}), a, lda, b, ldb, Pointer.to(new float[] {beta}), c, ldc),
                    "cublasSgemm(" + m + "×" + n + "×" + k + ")");
        }

        void destroy() { check(JCublas2.cublasDestroy(handle), "cublasDestroy"); }

        private static void check(int status, String what) {
            if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
                throw new CudaException(what + ": " + cublasStatus.stringFor(status));
            }
        }
    }
}

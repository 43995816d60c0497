package ai.crate.cuda;

/**
 * The few driver operations {@link CudaBackend} is built on: device memory, copies and kernel launches by name.
 * {@link JCudaDevice} is the real one (CUDA driver API through JCuda); tests also run the backend on an emulated
 * device that executes the same kernel sources on the CPU, so every launch configuration is checked without a GPU.
 *
 * <p>Work is ordered per calling thread (on JCuda, one stream per thread): launches and device-to-device copies are
 * asynchronous, downloads wait for the calling thread's earlier work.
 */
public interface Device extends AutoCloseable {
    /** What runs, for logs: the card, compute capability, memory and driver, or "emulated". */
    String description();

    /** {@code bytes} of device memory; a {@link CudaException} saying what was asked and what is free when out. */
    DeviceMemory allocate(long bytes);

    /**
     * The device address of byte {@code byteOffset} of {@code memory}, for kernels that read a table of pointers
     * (one launch over many tensors). Only meaningful on the device.
     */
    long address(DeviceMemory memory, long byteOffset);

    /** Returns memory to the driver (after the calling thread's queued work that may use it). */
    void free(DeviceMemory memory);

    /** Free device memory in bytes, for error messages. */
    long freeBytes();

    /** Copies {@code count} floats from {@code src[srcIndex…]} to device memory at {@code dstByteOffset}. */
    void upload(float[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count);

    /** Copies {@code count} ints (labels, indices) to device memory at {@code dstByteOffset}. */
    void upload(int[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count);

    /** Copies {@code count} longs (offset tables) to device memory at {@code dstByteOffset}. */
    void upload(long[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count);

    /** Copies {@code count} floats from device memory to {@code dst[dstIndex…]}, after queued work finishes. */
    void download(DeviceMemory src, long srcByteOffset, float[] dst, int dstIndex, int count);

    /** Device-to-device copy of {@code bytes}, ordered after the calling thread's earlier work. */
    void copy(DeviceMemory src, long srcByteOffset, DeviceMemory dst, long dstByteOffset, long bytes);

    /**
     * Launches {@code kernel} (an {@code extern "C"} name from {@code src/main/cuda}) on a grid of blocks, with
     * {@code sharedBytes} of dynamic shared memory; errors name the kernel and the driver's result.
     */
    void launch(String kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args);

    /** The most dynamic shared memory one block may use (after opting in), in bytes. */
    int maxSharedBytesPerBlock();

    /** Waits for the calling thread's queued work; errors from it surface here. */
    void synchronize();

    /** Waits for the work queued by every thread (memory whose last user is unknown may be reused after it). */
    void synchronizeAll();

    /** A token for the calling thread's queue, so memory released on one queue is not reused on another too early. */
    Object currentQueue();

    /** Waits for the work queued on {@code queue} (a token from {@link #currentQueue}). */
    void synchronize(Object queue);

    @Override
    void close();

    /** Grid or block extent. */
    record Dim3(int x, int y, int z) {
        public Dim3 {
            if (x < 1 || y < 1 || z < 1) throw new IllegalArgumentException("launch extent must be positive: " + x + "×" + y + "×" + z);
        }

        public static Dim3 of(int x) { return new Dim3(x, 1, 1); }

        public static Dim3 of(int x, int y) { return new Dim3(x, y, 1); }

        public static Dim3 of(int x, int y, int z) { return new Dim3(x, y, z); }
    }
}

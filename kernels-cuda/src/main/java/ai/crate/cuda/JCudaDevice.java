package ai.crate.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventQuery;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuFuncGetAttribute;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuGetErrorString;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * The real {@link Device}: the CUDA driver API through JCuda, on the device's primary context.
 *
 * <ul>
 *   <li>Every result code is checked here (JCuda's own exceptions are off); failures are {@link CudaException}s
 *       naming the op or kernel and the {@code CUresult} name.
 *   <li>The primary context is retained by {@link #open} and released by {@link #close}; it is made current on
 *       each thread the first time that thread calls in (and again after another {@code JCudaDevice} made its own
 *       current there).
 *   <li>Each calling thread gets its own non-blocking stream ({@link #currentQueue}) and its own pinned staging
 *       ring for transfers: an upload copies the Java array into the ring and queues the copy, so the caller may
 *       reuse its array at once and need not wait for the GPU; a region of the ring is overwritten only after the
 *       event recorded behind the copy that used it has completed. Downloads wait for the thread's stream.
 *   <li>Kernels come from {@link KernelImage}: each module is loaded once with {@code cuModuleLoadData}, functions
 *       are looked up by name across modules and cached.
 * </ul>
 *
 * <p>{@code -Dcrate.cuda.syncLaunches=true} synchronizes after every launch, so an asynchronous fault (an illegal
 * address, say) is reported against the kernel that caused it rather than at the next synchronization.
 */
public final class JCudaDevice implements Device {
    /** Dynamic shared memory a kernel may use without opting in. */
    static final int DEFAULT_SHARED_LIMIT = 48 * 1024;
    private static final long STAGING_MIN = 1L << 20;
    private static final long STAGING_MAX = 64L << 20;
    private static final int STAGING_ALIGN = 256;
    /** In-flight staging regions kept before the oldest is waited for (bounds the events per thread). */
    private static final int MAX_IN_FLIGHT = 256;
    private static final boolean SYNC_LAUNCHES = Boolean.getBoolean("crate.cuda.syncLaunches");

    /** The device whose context this thread last made current (several devices may share a thread). */
    private static final ThreadLocal<JCudaDevice> CURRENT = new ThreadLocal<>();

    private static String driverFailure;
    private static boolean driverChecked;

    private final int ordinal;
    private final CUdevice device;
    private final CUcontext context;
    private final Info info;
    private final int maxSharedOptIn;
    private final List<Module> modules;
    private final ConcurrentHashMap<String, Kernel> kernels = new ConcurrentHashMap<>();
    private final ThreadLocal<PerThread> threads = new ThreadLocal<>();
    private final Queue<PerThread> allThreads = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    /** What the driver says about one device. */
    public record Info(int ordinal, String name, int major, int minor, long totalBytes, int driverVersion) {
        /** e.g. "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB, driver CUDA 13.0)". */
        public String describe() {
            return String.format(Locale.ROOT, "%s (sm_%d%d, %.1f GiB, driver CUDA %s)", name, major, minor,
                    totalBytes / (double) (1L << 30), cudaVersion(driverVersion));
        }

        /** Whether the prebuilt kernels can run on it: sm_80 or newer. */
        public boolean supported() { return major >= 8; }
    }

    private record Module(String name, CUmodule handle) {}

    private JCudaDevice(int ordinal, CUdevice device, Info info) {
        this.ordinal = ordinal;
        this.device = device;
        this.info = info;
        this.maxSharedOptIn = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        this.context = new CUcontext();
        check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain(device " + ordinal + ")");
        List<Module> loaded = new ArrayList<>();
        try {
            check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
            CURRENT.set(this);
            KernelImage image = KernelImage.load();
            for (String name : image.modules()) {
                CUmodule module = new CUmodule();
                check(cuModuleLoadData(module, image.fatbin(name)), "cuModuleLoadData(" + name + ".fatbin)");
                loaded.add(new Module(name, module));
            }
        } catch (RuntimeException e) {
            for (Module m : loaded) cuModuleUnload(m.handle);
            cuDevicePrimaryCtxRelease(device);
            if (CURRENT.get() == this) CURRENT.remove();
            throw e;
        }
        this.modules = List.copyOf(loaded);
    }

    /**
     * Opens device {@code ordinal}: retains its primary context and loads every kernel module. A
     * {@link CudaException} saying why when CUDA is unavailable, the ordinal does not exist, the GPU is older than
     * sm_80 or a module does not load.
     */
    public static JCudaDevice open(int ordinal) {
        String why = driverUnavailable();
        if (why != null) throw new CudaException("CUDA unavailable: " + why);
        int count = deviceCount();
        if (ordinal < 0 || ordinal >= count) {
            throw new CudaException("CUDA device " + ordinal + " does not exist: the driver sees " + count);
        }
        Info info = query(ordinal);
        if (!info.supported()) {
            throw new CudaException(info.describe() + " needs sm_80 or newer: the kernels are built for sm_80/sm_90");
        }
        CUdevice device = new CUdevice();
        check(cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        return new JCudaDevice(ordinal, device, info);
    }

    // ---- driver loading and device queries (also used by the provider's probe) ------------------------------------

    /**
     * Loads JCuda's driver binding and runs {@code cuInit} once per process: null when that worked, else a short
     * one-line reason (e.g. "libcuda.so.1 not found (no NVIDIA driver)", "cuInit: CUDA_ERROR_NO_DEVICE"). Never
     * throws; the answer is remembered, since a failed native load cannot be retried in the same JVM.
     */
    static synchronized String driverUnavailable() {
        if (driverChecked) return driverFailure;
        driverChecked = true;
        try {
            JCudaDriver.setExceptionsEnabled(false);
            int r = cuInit(0);
            if (r != CUresult.CUDA_SUCCESS) driverFailure = "cuInit: " + resultName(r);
        } catch (LinkageError e) {
            String cause = CudaBackendProvider.linkFailure(e);
            driverFailure = cause.startsWith("libcuda.so") ? cause + " (no NVIDIA driver)" : "JCuda: " + cause;
        } catch (RuntimeException e) {
            driverFailure = "JCuda: " + CudaBackendProvider.oneLine(String.valueOf(e));
        }
        return driverFailure;
    }

    /** How many CUDA devices the driver sees (after a successful {@link #driverUnavailable}). */
    static int deviceCount() {
        int[] n = new int[1];
        check(JCudaDriver.cuDeviceGetCount(n), "cuDeviceGetCount");
        return n[0];
    }

    /** Name, compute capability, memory and driver version of device {@code ordinal}; needs no context. */
    public static Info query(int ordinal) {
        String why = driverUnavailable();
        if (why != null) throw new CudaException("CUDA unavailable: " + why);
        CUdevice d = new CUdevice();
        check(cuDeviceGet(d, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] name = new byte[256];
        check(cuDeviceGetName(name, name.length, d), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        long[] total = new long[1];
        check(cuDeviceTotalMem(total, d), "cuDeviceTotalMem");
        int[] version = new int[1];
        check(cuDriverGetVersion(version), "cuDriverGetVersion");
        return new Info(ordinal, new String(name, 0, len, StandardCharsets.UTF_8).trim(),
                attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR), total[0], version[0]);
    }

    private static int attribute(CUdevice d, int attribute) {
        int[] v = new int[1];
        check(cuDeviceGetAttribute(v, attribute, d), "cuDeviceGetAttribute(" + CUdevice_attribute.stringFor(attribute) + ")");
        return v[0];
    }

    /** "13.0" for 13000. */
    static String cudaVersion(int v) { return (v / 1000) + "." + (v % 1000) / 10; }

    // ---- Device ---------------------------------------------------------------------------------------------------

    @Override public String description() { return info.describe(); }

    /** The driver's facts about this device. */
    public Info info() { return info; }

    public int ordinal() { return ordinal; }

    @Override
    public DeviceMemory allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("allocate: negative size " + bytes);
        thread();
        if (bytes == 0) return new Memory(this, new AddressedPointer(), 0);
        AddressedPointer p = new AddressedPointer();
        int r = cuMemAlloc(p, bytes);
        if (r == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            long[] free = new long[1], total = new long[1];
            String state = cuMemGetInfo(free, total) == CUresult.CUDA_SUCCESS
                    ? "free " + mib(free[0]) + " of " + mib(total[0]) : "free memory unknown";
            throw new CudaOutOfMemoryException("out of device memory: asked " + mib(bytes) + ", " + state
                    + " (cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY)");
        }
        check(r, "cuMemAlloc(" + bytes + " bytes)");
        return new Memory(this, p, bytes);
    }

    /**
     * Releases {@code memory} after all queued work of every thread (a context-wide synchronization: frees are rare
     * behind a pool, and the memory may have been used last on another thread's stream); a no-op once the device
     * is closed.
     */
    @Override
    public void free(DeviceMemory memory) {
        if (closed.get()) return;
        Memory m = memory(memory, "free");
        if (!m.freed.compareAndSet(false, true)) throw new IllegalStateException("free: memory freed twice");
        if (m.bytes == 0) return;
        PerThread t = thread();
        // Every stream, not only this thread's: a pool may free memory another thread's queue used last.
        check(cuCtxSynchronize(), "free (synchronizing the context first)" + t.lastKernelHint());
        t.stagingDone();
        check(cuMemFree(m.pointer), "cuMemFree(" + m.bytes + " bytes)");
    }

    @Override
    public long freeBytes() {
        thread();
        long[] free = new long[1], total = new long[1];
        check(cuMemGetInfo(free, total), "cuMemGetInfo");
        return free[0];
    }

    @Override
    public void upload(float[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count) {
        Objects.checkFromIndexSize(srcIndex, count, src.length);
        upload(src, srcIndex, dst, dstByteOffset, count, Float.BYTES);
    }

    @Override
    public void upload(int[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count) {
        Objects.checkFromIndexSize(srcIndex, count, src.length);
        upload(src, srcIndex, dst, dstByteOffset, count, Integer.BYTES);
    }

    @Override
    public void upload(long[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count) {
        Objects.checkFromIndexSize(srcIndex, count, src.length);
        upload(src, srcIndex, dst, dstByteOffset, count, Long.BYTES);
    }

    private void upload(Object src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count, int size) {
        Memory m = memory(dst, "upload");
        range(m, dstByteOffset, (long) count * size, "upload");
        if (count == 0) return;
        PerThread t = thread();
        int chunk = (int) (STAGING_MAX / size);
        for (int done = 0; done < count; ) {
            int n = Math.min(chunk, count - done);
            long bytes = (long) n * size;
            long at = t.reserve(bytes);
            int index = (int) (at / size);
            switch (src) {
                case float[] a -> t.floats.put(index, a, srcIndex + done, n);
                case int[] a -> t.ints.put(index, a, srcIndex + done, n);
                case long[] a -> t.longs.put(index, a, srcIndex + done, n);
                default -> throw new AssertionError(src);
            }
            check(cuMemcpyHtoDAsync(m.at(dstByteOffset + (long) done * size), t.host.withByteOffset(at), bytes,
                    t.stream), "upload (cuMemcpyHtoDAsync, " + bytes + " bytes)");
            t.queued(at, bytes);
            done += n;
        }
    }

    @Override
    public void download(DeviceMemory src, long srcByteOffset, float[] dst, int dstIndex, int count) {
        Objects.checkFromIndexSize(dstIndex, count, dst.length);
        Memory m = memory(src, "download");
        range(m, srcByteOffset, (long) count * Float.BYTES, "download");
        PerThread t = thread();
        if (count == 0) {
            synchronize();
            return;
        }
        int chunk = (int) (STAGING_MAX / Float.BYTES);
        for (int done = 0; done < count; ) {
            int n = Math.min(chunk, count - done);
            long bytes = (long) n * Float.BYTES;
            long at = t.reserve(bytes);
            check(cuMemcpyDtoHAsync(t.host.withByteOffset(at), m.at(srcByteOffset + (long) done * Float.BYTES),
                    bytes, t.stream), "download (cuMemcpyDtoHAsync, " + bytes + " bytes)");
            check(cuStreamSynchronize(t.stream), "download (synchronizing)" + t.lastKernelHint());
            t.stagingDone();
            t.floats.get((int) (at / Float.BYTES), dst, dstIndex + done, n);
            done += n;
        }
    }

    @Override
    public void copy(DeviceMemory src, long srcByteOffset, DeviceMemory dst, long dstByteOffset, long bytes) {
        Memory s = memory(src, "copy"), d = memory(dst, "copy");
        range(s, srcByteOffset, bytes, "copy (source)");
        range(d, dstByteOffset, bytes, "copy (destination)");
        if (s == d && srcByteOffset < dstByteOffset + bytes && dstByteOffset < srcByteOffset + bytes && bytes > 0
                && srcByteOffset != dstByteOffset) {
            throw new IllegalArgumentException("copy: overlapping ranges in one allocation");
        }
        PerThread t = thread();
        if (bytes == 0 || (s == d && srcByteOffset == dstByteOffset)) return;
        check(cuMemcpyDtoDAsync(d.at(dstByteOffset), s.at(srcByteOffset), bytes, t.stream),
                "copy (cuMemcpyDtoDAsync, " + bytes + " bytes)");
    }

    @Override
    public void launch(String kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
        PerThread t = thread();
        Kernel k = kernel(kernel);
        if (sharedBytes < 0) throw new IllegalArgumentException("kernel " + kernel + ": negative shared memory " + sharedBytes);
        if (sharedBytes > k.dynamicLimit) k.allowDynamicShared(sharedBytes, maxSharedOptIn);
        List<Object> values = args.values();
        NativePointerObject[] params = new NativePointerObject[values.size()];
        for (int i = 0; i < params.length; i++) {
            Object v = values.get(i);
            params[i] = switch (v) {
                case KernelArgs.Ptr p when p.memory() == null -> Pointer.to(new long[] {0L});
                case KernelArgs.Ptr p -> {
                    Memory m = memory(p.memory(), "kernel " + kernel + " argument " + i);
                    range(m, p.byteOffset(), 0, "kernel " + kernel + " argument " + i);
                    yield Pointer.to(m.at(p.byteOffset()));
                }
                case Integer x -> Pointer.to(new int[] {x});
                case Long x -> Pointer.to(new long[] {x});
                case Float x -> Pointer.to(new float[] {x});
                case KernelArgs.IntStruct s -> Pointer.to(s.values());
                default -> throw new IllegalArgumentException("kernel " + kernel + " argument " + i + ": unsupported " + v);
            };
        }
        int r = cuLaunchKernel(k.function, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                sharedBytes, t.stream, Pointer.to(params), null);
        if (r != CUresult.CUDA_SUCCESS) {
            throw new CudaException("kernel " + kernel + " (grid " + dims(grid) + ", block " + dims(block) + ", "
                    + sharedBytes + " B dynamic shared): " + resultName(r) + hint(r));
        }
        t.lastKernel = kernel;
        if (SYNC_LAUNCHES) {
            check(cuStreamSynchronize(t.stream), "kernel " + kernel + " (synchronized by -Dcrate.cuda.syncLaunches)");
        }
    }

    @Override public int maxSharedBytesPerBlock() { return maxSharedOptIn; }

    @Override
    public void synchronize() {
        PerThread t = thread();
        check(cuStreamSynchronize(t.stream), "synchronize" + t.lastKernelHint());
        t.stagingDone();
    }

    @Override
    public void synchronizeAll() {
        PerThread t = thread();
        check(cuCtxSynchronize(), "synchronizeAll (cuCtxSynchronize)" + t.lastKernelHint());
        t.stagingDone();
    }

    /** The calling thread's {@link CUstream}. */
    @Override public Object currentQueue() { return thread().stream; }

    @Override
    public void synchronize(Object queue) {
        if (!(queue instanceof CUstream s)) {
            throw new IllegalArgumentException("synchronize: not a queue of this device: " + queue);
        }
        PerThread t = thread();
        if (s == t.stream) {
            synchronize();
            return;
        }
        String owner = "";
        for (PerThread p : allThreads) if (p.stream == s) owner = " (the stream of thread " + p.threadName + ")";
        check(cuStreamSynchronize(s), "synchronize" + owner);
    }

    /** Releases the primary context, after the streams, staging buffers and modules; idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        String failure = null;
        int r = cuCtxSetCurrent(context);
        if (r != CUresult.CUDA_SUCCESS) failure = "close: cuCtxSetCurrent: " + resultName(r);
        for (PerThread t : allThreads) {
            r = t.release();
            if (r != CUresult.CUDA_SUCCESS && failure == null) failure = "close: stream of thread " + t.threadName + ": " + resultName(r);
        }
        allThreads.clear();
        for (Module m : modules) {
            r = cuModuleUnload(m.handle);
            if (r != CUresult.CUDA_SUCCESS && failure == null) failure = "close: cuModuleUnload(" + m.name + "): " + resultName(r);
        }
        kernels.clear();
        r = cuDevicePrimaryCtxRelease(device);
        if (r != CUresult.CUDA_SUCCESS && failure == null) failure = "close: cuDevicePrimaryCtxRelease: " + resultName(r);
        cuCtxSetCurrent(new CUcontext());
        CURRENT.remove();
        threads.remove();
        if (failure != null) throw new CudaException(failure);
    }

    @Override public String toString() { return "JCudaDevice[" + ordinal + ": " + info.describe() + "]"; }

    // ---- package-private access for CublasProbe ------------------------------------------------------------------

    /** The calling thread's stream, with this device's context current on the thread. */
    CUstream stream() { return thread().stream; }

    /** The device address of {@code memory} + {@code byteOffset}, with {@code bytes} from there in the allocation. */
    CUdeviceptr pointer(DeviceMemory memory, long byteOffset, long bytes, String op) {
        Memory m = memory(memory, op);
        range(m, byteOffset, bytes, op);
        return m.at(byteOffset);
    }

    // ---- per thread ----------------------------------------------------------------------------------------------

    /** The calling thread's state, making the context current on it first if needed. */
    private PerThread thread() {
        if (closed.get()) throw new IllegalStateException("CUDA device " + ordinal + " is closed");
        if (CURRENT.get() != this) {
            check(cuCtxSetCurrent(context), "cuCtxSetCurrent(device " + ordinal + ")");
            CURRENT.set(this);
        }
        PerThread t = threads.get();
        if (t == null) {
            t = new PerThread();
            threads.set(t);
            allThreads.add(t);
        }
        return t;
    }

    /** One thread's stream and pinned staging ring. Used only by its thread (and by close). */
    private static final class PerThread {
        final String threadName = Thread.currentThread().getName();
        final CUstream stream = new CUstream();
        String lastKernel;
        Pointer host;
        FloatBuffer floats;
        IntBuffer ints;
        LongBuffer longs;
        final StagingRing<CUevent> ring = new StagingRing<>(STAGING_ALIGN);
        final ArrayDeque<CUevent> spareEvents = new ArrayDeque<>();

        PerThread() {
            check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        }

        String lastKernelHint() {
            return lastKernel == null ? "" : " (last kernel queued by this thread: " + lastKernel + ")";
        }

        /** A ring offset for {@code bytes} (≤ {@link #STAGING_MAX}) that no queued copy still uses. */
        long reserve(long bytes) {
            if (bytes > ring.capacity()) grow(bytes);
            return ring.reserve(bytes,
                    e -> check(cuEventSynchronize(e), "upload/download (waiting for the staging buffer)"),
                    spareEvents::push);
        }

        /** Records that a copy through [start, start + bytes) was queued on the stream. */
        void queued(long start, long bytes) {
            while (ring.inFlight() > 0 && (ring.inFlight() >= MAX_IN_FLIGHT
                    || cuEventQuery(ring.oldest()) == CUresult.CUDA_SUCCESS)) {
                CUevent e = ring.pollOldest();
                check(cuEventSynchronize(e), "upload (waiting for an earlier copy)");
                spareEvents.push(e);
            }
            CUevent e = spareEvents.poll();
            if (e == null) {
                e = new CUevent();
                check(cuEventCreate(e, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
            }
            check(cuEventRecord(e, stream), "cuEventRecord");
            ring.queued(start, bytes, e);
        }

        /** After the stream was synchronized: every staging copy is done. */
        void stagingDone() { ring.drain(spareEvents::push); }

        private void grow(long bytes) {
            if (ring.inFlight() > 0) {
                check(cuEventSynchronize(ring.newest()), "staging buffer (waiting before growing it)");
                stagingDone();
            }
            if (host != null) check(cuMemFreeHost(host), "cuMemFreeHost");
            host = null;
            ring.reset(0);
            long cap = Math.min(STAGING_MAX, Math.max(STAGING_MIN, Long.highestOneBit(bytes - 1) << 1));
            Pointer p = new Pointer();
            check(cuMemAllocHost(p, cap), "cuMemAllocHost(" + cap + " bytes of pinned staging)");
            ByteBuffer buffer = p.getByteBuffer(0, cap).order(ByteOrder.nativeOrder());
            host = p;
            floats = buffer.asFloatBuffer();
            ints = buffer.asIntBuffer();
            longs = buffer.asLongBuffer();
            ring.reset(cap);
        }

        /** Frees everything of this thread (at close); the first failing result, or success. */
        int release() {
            int first = cuStreamSynchronize(stream);
            stagingDone();
            for (CUevent e : spareEvents) {
                int r = cuEventDestroy(e);
                if (first == CUresult.CUDA_SUCCESS) first = r;
            }
            spareEvents.clear();
            if (host != null) {
                int r = cuMemFreeHost(host);
                if (first == CUresult.CUDA_SUCCESS) first = r;
                host = null;
                ring.reset(0);
            }
            int r = cuStreamDestroy(stream);
            return first == CUresult.CUDA_SUCCESS ? r : first;
        }
    }

    /**
     * The bookkeeping of a staging ring: which byte ranges queued copies still use, oldest first, each with the
     * event recorded behind its copy. New ranges follow the last one and wrap to 0 at the end. Copies on one stream
     * complete in order, so waiting for the newest queued range that overlaps a new one frees every older range
     * too. Pure Java (the events are whatever the caller records), so tests check it without a GPU.
     */
    static final class StagingRing<E> {
        private record Region<E>(long start, long end, E event) {}

        private final ArrayDeque<Region<E>> inFlight = new ArrayDeque<>();
        private final long align;
        private long capacity;
        private long head;

        StagingRing(long align) { this.align = align; }

        long capacity() { return capacity; }

        /** Queued ranges not yet known to be done. */
        int inFlight() { return inFlight.size(); }

        /** A new (empty) buffer of {@code capacity} bytes; every queued copy must be done. */
        void reset(long capacity) {
            if (!inFlight.isEmpty()) throw new IllegalStateException("staging ring reset with copies in flight");
            this.capacity = capacity;
            head = 0;
        }

        /**
         * The start of {@code bytes} (≤ capacity) that no queued copy uses: when some do, waits for the newest of them
         * ({@code await}) and hands the events of it and every older range to {@code done}.
         */
        long reserve(long bytes, Consumer<E> await, Consumer<E> done) {
            if (bytes < 0 || bytes > capacity) {
                throw new IllegalArgumentException("staging: " + bytes + " bytes in a ring of " + capacity);
            }
            long start = (head + align - 1) / align * align;
            if (start + bytes > capacity) start = 0;
            Region<E> newestOverlap = null;
            for (Region<E> r : inFlight) if (r.start < start + bytes && start < r.end) newestOverlap = r;
            if (newestOverlap != null) {
                await.accept(newestOverlap.event);
                Region<E> r;
                do {
                    r = inFlight.pollFirst();
                    done.accept(r.event);
                } while (r != newestOverlap);
            }
            return start;
        }

        /** Records a copy through [start, start + bytes) queued before {@code event}. */
        void queued(long start, long bytes, E event) {
            inFlight.addLast(new Region<>(start, start + bytes, event));
            head = start + bytes;
        }

        E oldest() { return inFlight.isEmpty() ? null : inFlight.peekFirst().event; }

        E newest() { return inFlight.isEmpty() ? null : inFlight.peekLast().event; }

        /** Forgets the oldest range (its copy is done or about to be waited for) and returns its event. */
        E pollOldest() { return inFlight.pollFirst().event; }

        /** Forgets every range (the stream was synchronized), handing their events to {@code done}. */
        void drain(Consumer<E> done) {
            while (!inFlight.isEmpty()) done.accept(inFlight.pollFirst().event);
            head = 0;
        }
    }

    // ---- kernels --------------------------------------------------------------------------------------------------

    private Kernel kernel(String name) {
        Kernel k = kernels.get(name);
        return k != null ? k : kernels.computeIfAbsent(name, this::find);
    }

    private Kernel find(String name) {
        for (Module m : modules) {
            CUfunction f = new CUfunction();
            int r = cuModuleGetFunction(f, m.handle, name);
            if (r == CUresult.CUDA_SUCCESS) {
                int[] v = new int[1];
                check(cuFuncGetAttribute(v, CUfunction_attribute.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f),
                        "kernel " + name + ": cuFuncGetAttribute(SHARED_SIZE_BYTES)");
                int staticShared = v[0];
                check(cuFuncGetAttribute(v, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f),
                        "kernel " + name + ": cuFuncGetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
                return new Kernel(name, m.name, f, staticShared, v[0]);
            }
            if (r != CUresult.CUDA_ERROR_NOT_FOUND) check(r, "cuModuleGetFunction(" + m.name + ", " + name + ")");
        }
        throw new CudaException("unknown kernel '" + name + "': not in any module "
                + modules.stream().map(Module::name).toList() + " (cuModuleGetFunction: CUDA_ERROR_NOT_FOUND)");
    }

    private static final class Kernel {
        final String name;
        final String module;
        final CUfunction function;
        final int staticShared;
        /** Dynamic shared memory launches may use now; raised by opting in. */
        volatile int dynamicLimit;

        Kernel(String name, String module, CUfunction function, int staticShared, int dynamicLimit) {
            this.name = name;
            this.module = module;
            this.function = function;
            this.staticShared = staticShared;
            this.dynamicLimit = dynamicLimit;
        }

        synchronized void allowDynamicShared(int bytes, int optIn) {
            if (bytes <= dynamicLimit) return;
            if ((long) bytes + staticShared > optIn) {
                throw new CudaException("kernel " + name + ": " + bytes + " B dynamic + " + staticShared
                        + " B static shared memory exceeds the device's " + optIn + " B per block");
            }
            check(cuFuncSetAttribute(function, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    bytes), "kernel " + name + " (" + module + "): cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, "
                    + bytes + ")");
            dynamicLimit = bytes;
        }
    }

    // ---- memory ---------------------------------------------------------------------------------------------------

    /** A device pointer whose address can be read (JCuda keeps it protected): for pointer tables. */
    static final class AddressedPointer extends CUdeviceptr {
        long address() { return getNativePointer(); }
    }

    @Override
    public long address(DeviceMemory memory, long byteOffset) {
        Memory m = memory(memory, "address");
        range(m, byteOffset, 0, "address");
        return m.pointer.address() + byteOffset;
    }

    /** A {@code cuMemAlloc} allocation (a null pointer for 0 bytes). */
    static final class Memory implements DeviceMemory {
        final JCudaDevice device;
        final AddressedPointer pointer;
        final long bytes;
        final AtomicBoolean freed = new AtomicBoolean();

        Memory(JCudaDevice device, AddressedPointer pointer, long bytes) {
            this.device = device;
            this.pointer = pointer;
            this.bytes = bytes;
        }

        @Override public long bytes() { return bytes; }

        CUdeviceptr at(long byteOffset) { return byteOffset == 0 ? pointer : pointer.withByteOffset(byteOffset); }

        @Override public String toString() { return "DeviceMemory[" + bytes + " bytes on cuda:" + device.ordinal + "]"; }
    }

    private Memory memory(DeviceMemory memory, String op) {
        if (!(memory instanceof Memory m) || m.device != this) {
            throw new IllegalArgumentException(op + ": " + memory + " does not belong to " + this);
        }
        if (m.freed.get()) throw new IllegalStateException(op + ": memory used after free");
        return m;
    }

    private static void range(Memory m, long offset, long bytes, String op) {
        if (offset < 0 || bytes < 0 || offset > m.bytes - bytes) {
            throw new IndexOutOfBoundsException(op + ": bytes [" + offset + ", " + (offset + bytes)
                    + ") outside an allocation of " + m.bytes);
        }
    }

    // ---- errors ---------------------------------------------------------------------------------------------------

    /** Throws a {@link CudaException} "what: CUDA_ERROR_…" unless {@code result} is success. */
    static void check(int result, String what) {
        if (result != CUresult.CUDA_SUCCESS) throw new CudaException(what + ": " + resultName(result) + hint(result));
    }

    /** "CUDA_ERROR_X (the driver's description)". */
    static String resultName(int result) {
        String name = CUresult.stringFor(result);
        try {
            String[] text = new String[1];
            if (cuGetErrorString(result, text) == CUresult.CUDA_SUCCESS && text[0] != null && !text[0].isBlank()) {
                return name + " (" + text[0] + ")";
            }
        } catch (RuntimeException | LinkageError ignored) {
            // the name alone
        }
        return name;
    }

    private static String hint(int result) {
        return switch (result) {
            case CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU, CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION,
                 CUresult.CUDA_ERROR_INVALID_PTX, CUresult.CUDA_ERROR_JIT_COMPILER_NOT_FOUND ->
                    "; the fatbins hold SASS for sm_80/sm_90 and PTX from nvcc 13, which needs a CUDA 13 driver (580+)";
            case CUresult.CUDA_ERROR_ILLEGAL_ADDRESS, CUresult.CUDA_ERROR_LAUNCH_FAILED,
                 CUresult.CUDA_ERROR_MISALIGNED_ADDRESS, CUresult.CUDA_ERROR_ILLEGAL_INSTRUCTION,
                 CUresult.CUDA_ERROR_HARDWARE_STACK_ERROR ->
                    "; the context is unusable from now on; -Dcrate.cuda.syncLaunches=true names the failing kernel";
            default -> "";
        };
    }

    private static String dims(Dim3 d) { return d.x() + "×" + d.y() + "×" + d.z(); }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }
}

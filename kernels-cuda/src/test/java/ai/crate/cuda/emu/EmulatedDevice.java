package ai.crate.cuda.emu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import ai.crate.cuda.CudaException;
import ai.crate.cuda.Device;
import ai.crate.cuda.DeviceMemory;
import ai.crate.cuda.KernelArgs;

/**
 * A {@link Device} that runs the kernels of {@code src/main/cuda} on the CPU, through the library
 * {@link EmulatorBuild} compiles; for tests only. Constructing one skips the calling test when there is no compiler
 * and fails it when the kernels do not compile (see {@link EmulatorBuild#requireLibrary()}).
 *
 * <p>Launches run to completion, one at a time, on the calling thread, so there is one queue for every thread.
 * What this device checks beyond a GPU:
 * <ul>
 *   <li>each launch's arguments against the kinds of the kernel's parameters (a wrong count, an i64 for an int),
 *       and its block against the kernel's {@code __launch_bounds__};
 *   <li>bounds: every allocation lies between guard bands, checked after each launch (the allocations its pointers
 *       point into), when freed and at close (all of them); a kernel that wrote into one fails the next
 *       {@link #synchronize()}, {@link #free}, download or {@link #close()}, as a GPU reports an illegal address
 *       at the next synchronizing call, naming the kernel and the allocation's size. Blocks that write past their
 *       dynamic shared memory fail the launch;
 *   <li>uninitialised reads: new allocations (and each block's dynamic shared memory) hold NaNs, not zeros;
 *   <li>a {@code __syncthreads} or full-warp shuffle that not every thread of the block or warp reaches, reported
 *       instead of hanging; a full-warp shuffle in a partial warp.
 * </ul>
 */
public final class EmulatedDevice implements Device {
    /** The dynamic shared memory a block may use unless the constructor says otherwise. */
    public static final int DEFAULT_MAX_SHARED_BYTES = 48 * 1024;

    private static final long GUARD_BYTES = 256;
    private static final byte GUARD_BYTE = (byte) 0xFD;
    private static final MemorySegment GUARD_PATTERN = Arena.global().allocate(GUARD_BYTES).fill(GUARD_BYTE);
    private static final long NAN_PAIR = 0x7FC000007FC00000L;   // two quiet-NaN floats
    private static final long ALIGNMENT = 256;                  // as cuMemAlloc's
    private static final Object QUEUE = new Object();

    private final Native lib;
    private final int maxSharedBytes;
    private final Set<Allocation> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private long floatDownloads;
    private String lastKernel = "(none)";
    private String pendingError;   // a broken guard band found, for the next synchronizing call
    private boolean closed;

    /** A device allowing {@link #DEFAULT_MAX_SHARED_BYTES} of dynamic shared memory per block. */
    public EmulatedDevice() { this(DEFAULT_MAX_SHARED_BYTES); }

    /** A device allowing {@code maxSharedBytesPerBlock} of dynamic shared memory per block (less forces fallbacks). */
    public EmulatedDevice(int maxSharedBytesPerBlock) {
        EmulatorBuild.requireLibrary();
        this.lib = Native.INSTANCE;
        this.maxSharedBytes = maxSharedBytesPerBlock;
    }

    @Override
    public String description() { return "CPU emulator of the CUDA kernels (tests only)"; }

    @Override
    public synchronized DeviceMemory allocate(long bytes) {
        ensureOpen();
        if (bytes < 0) throw new CudaException("allocate: negative size " + bytes);
        Arena arena = Arena.ofShared();
        MemorySegment whole;
        try {
            whole = arena.allocate(bytes + 2 * GUARD_BYTES, ALIGNMENT);
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new CudaException("allocate: out of memory for " + bytes + " bytes", e);
        }
        Allocation allocation = new Allocation(arena, whole, bytes);
        allocation.resetGuards();
        fillWithNaN(allocation.data);
        live.add(allocation);
        return allocation;
    }

    @Override
    public synchronized void free(DeviceMemory memory) {
        Allocation allocation = live(memory, "free");
        checkGuards(List.of(allocation));
        live.remove(allocation);
        allocation.arena.close();
        throwPendingError();
    }

    /** The JVM's heap limit: the emulator's memory is native, but this is the bound tests run under. */
    @Override
    public long freeBytes() { return Runtime.getRuntime().maxMemory(); }

    @Override
    public synchronized void upload(float[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count) {
        put(src, srcIndex, JAVA_FLOAT_UNALIGNED, dst, dstByteOffset, count);
    }

    @Override
    public synchronized void upload(int[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count) {
        put(src, srcIndex, JAVA_INT_UNALIGNED, dst, dstByteOffset, count);
    }

    @Override
    public synchronized void upload(long[] src, int srcIndex, DeviceMemory dst, long dstByteOffset, int count) {
        put(src, srcIndex, JAVA_LONG_UNALIGNED, dst, dstByteOffset, count);
    }

    @Override
    public synchronized void download(DeviceMemory src, long srcByteOffset, float[] dst, int dstIndex, int count) {
        floatDownloads++;
        get(src, srcByteOffset, JAVA_FLOAT_UNALIGNED, dst, dstIndex, count);
    }

    /** Test-only: how many times tensor values came back to the host (each one a wait for the queue on a GPU). */
    public synchronized long floatDownloads() { return floatDownloads; }

    /** Test-only extra: ints from device memory (labels, indices, the self-test's records). */
    public synchronized void download(DeviceMemory src, long srcByteOffset, int[] dst, int dstIndex, int count) {
        get(src, srcByteOffset, JAVA_INT_UNALIGNED, dst, dstIndex, count);
    }

    /** Test-only extra: longs from device memory (offset tables). */
    public synchronized void download(DeviceMemory src, long srcByteOffset, long[] dst, int dstIndex, int count) {
        get(src, srcByteOffset, JAVA_LONG_UNALIGNED, dst, dstIndex, count);
    }

    @Override
    public synchronized void copy(DeviceMemory src, long srcByteOffset, DeviceMemory dst, long dstByteOffset,
                                  long bytes) {
        MemorySegment.copy(range("copy", src, srcByteOffset, bytes), 0, range("copy", dst, dstByteOffset, bytes), 0,
                bytes);
    }

    @Override
    public synchronized void launch(String kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
        ensureOpen();
        if (sharedBytes < 0 || sharedBytes > maxSharedBytes) {
            throw new CudaException("kernel " + kernel + ": " + sharedBytes + " bytes of dynamic shared memory, "
                    + "but the device allows 0 to " + maxSharedBytes + " per block");
        }
        List<Object> values = args.values();
        String expected = lib.signature(kernel);
        if (expected == null) {
            throw new CudaException("kernel " + kernel + ": unknown kernel: no .cu file compiled into the emulator "
                    + "defines it");
        }
        String given = values.stream().map(EmulatedDevice::kind).collect(Collectors.joining(","));
        if (!expected.equals(given)) {
            throw new CudaException("kernel " + kernel + " takes (" + expected.replace(",", ", ")
                    + ") but was launched with (" + given.replace(",", ", ") + ")");
        }
        lastKernel = kernel;
        List<Allocation> pointedTo = new ArrayList<>();
        String error;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = arena.allocate(ADDRESS, Math.max(1, values.size()));
            for (int i = 0; i < values.size(); i++) {
                params.setAtIndex(ADDRESS, i, marshal(arena, values.get(i), kernel, i, pointedTo));
            }
            error = lib.launch(arena.allocateFrom(kernel), grid, block, sharedBytes, params);
        } finally {
            checkGuards(pointedTo);   // now, to name this kernel; close() checks every allocation once more
        }
        if (error != null) throw new CudaException("kernel " + kernel + ": " + error);
    }

    @Override
    public int maxSharedBytesPerBlock() { return maxSharedBytes; }

    @Override
    public synchronized void synchronize() {
        ensureOpen();
        throwPendingError();
    }

    @Override
    public void synchronizeAll() { synchronize(); }

    @Override
    public synchronized long address(DeviceMemory memory, long byteOffset) {
        return range("address", memory, byteOffset, 0).address();
    }

    /** The one queue: launches are synchronous, whichever thread makes them. */
    @Override
    public Object currentQueue() { return QUEUE; }

    @Override
    public void synchronize(Object queue) { synchronize(); }

    /** Frees every allocation; reports a bounds error not reported yet. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        checkGuards(live);
        for (Allocation allocation : live) allocation.arena.close();
        live.clear();
        throwPendingError();
    }

    // ---- internals ----------------------------------------------------------------------------------------------

    /** An allocation: {@code [guard][data][guard]} in a native segment of its own. */
    private static final class Allocation implements DeviceMemory {
        final Arena arena;
        final MemorySegment before;
        final MemorySegment data;
        final MemorySegment after;

        Allocation(Arena arena, MemorySegment whole, long bytes) {
            this.arena = arena;
            this.before = whole.asSlice(0, GUARD_BYTES);
            this.data = whole.asSlice(GUARD_BYTES, bytes);
            this.after = whole.asSlice(GUARD_BYTES + bytes, GUARD_BYTES);
        }

        @Override
        public long bytes() { return data.byteSize(); }

        void resetGuards() {
            before.copyFrom(GUARD_PATTERN);
            after.copyFrom(GUARD_PATTERN);
        }

        @Override
        public String toString() { return "emulated device memory (" + bytes() + " bytes)"; }
    }

    private void ensureOpen() {
        if (closed) throw new CudaException("the emulated device is closed");
    }

    private Allocation live(DeviceMemory memory, String op) {
        ensureOpen();
        if (memory instanceof Allocation allocation && live.contains(allocation)) return allocation;
        throw new CudaException(op + ": " + memory + " is not live memory of this device (freed, or another device's)");
    }

    /** {@code bytes} of {@code memory} from {@code byteOffset}, which must lie inside it. */
    private MemorySegment range(String op, DeviceMemory memory, long byteOffset, long bytes) {
        Allocation allocation = live(memory, op);
        if (byteOffset < 0 || bytes < 0 || byteOffset > allocation.bytes() - bytes) {
            throw new CudaException(op + ": " + bytes + " bytes at offset " + byteOffset + " do not fit in "
                    + allocation);
        }
        return allocation.data.asSlice(byteOffset, bytes);
    }

    /** Copies {@code count} elements of a Java array (bounds-checked by MemorySegment.copy) into device memory. */
    private void put(Object src, int srcIndex, ValueLayout layout, DeviceMemory dst, long dstByteOffset, int count) {
        MemorySegment.copy(src, srcIndex, range("upload", dst, dstByteOffset, layout.byteSize() * count), layout, 0,
                count);
    }

    /** Copies {@code count} elements of device memory into a Java array, after reporting a bounds error. */
    private void get(DeviceMemory src, long srcByteOffset, ValueLayout layout, Object dst, int dstIndex, int count) {
        throwPendingError();
        MemorySegment.copy(range("download", src, srcByteOffset, layout.byteSize() * count), layout, 0, dst, dstIndex,
                count);
    }

    private static void fillWithNaN(MemorySegment data) {
        long pairs = data.byteSize() / 8;
        for (long i = 0; i < pairs; i++) data.setAtIndex(JAVA_LONG_UNALIGNED, i, NAN_PAIR);
        for (long i = pairs * 8; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (NAN_PAIR >>> (8 * (i % 8))));
        }
    }

    /**
     * Records the first broken guard band among {@code allocations} for {@link #throwPendingError} (and repairs it,
     * so each overrun is reported once). A kernel reaches memory only through its pointer arguments, so checking
     * those after each launch names the kernel exactly (reported at the next synchronizing call); free and close
     * check what they release, which also catches writes that strayed past a neighbour's guard band.
     */
    private void checkGuards(Iterable<Allocation> allocations) {
        for (Allocation allocation : allocations) {
            long past = allocation.after.mismatch(GUARD_PATTERN);
            if (past < 0 && allocation.before.mismatch(GUARD_PATTERN) < 0) continue;
            if (pendingError == null) {
                String where = past >= 0
                        ? "past the end of " + allocation + ", from byte offset " + (allocation.bytes() + past)
                        : "before the start of " + allocation;
                pendingError = "kernel " + lastKernel + " wrote out of bounds: " + where;
            }
            allocation.resetGuards();
        }
    }

    private void throwPendingError() {
        if (pendingError == null) return;
        String error = pendingError;
        pendingError = null;
        throw new CudaException(error);
    }

    /** A parameter's kind, in the words of the runtime's signatures. */
    private static String kind(Object value) {
        return switch (value) {
            case KernelArgs.Ptr p -> "ptr";
            case Integer i -> "i32";
            case Long l -> "i64";
            case Float f -> "f32";
            case KernelArgs.IntStruct s -> "struct(" + s.values().length + " ints)";
            default -> value.getClass().getName();
        };
    }

    /** The bytes of one parameter, as cuLaunchKernel reads them through params[i]. */
    private MemorySegment marshal(Arena arena, Object value, String kernel, int index, List<Allocation> pointedTo) {
        return switch (value) {
            case KernelArgs.Ptr p -> arena.allocateFrom(JAVA_LONG, address(p, kernel, index, pointedTo));
            case Integer i -> arena.allocateFrom(JAVA_INT, i);
            case Long l -> arena.allocateFrom(JAVA_LONG, l);
            case Float f -> arena.allocateFrom(JAVA_FLOAT, f);
            case KernelArgs.IntStruct s -> arena.allocateFrom(JAVA_INT, s.values());
            default -> throw new IllegalStateException("kind() accepted " + value);
        };
    }

    private long address(KernelArgs.Ptr pointer, String kernel, int index, List<Allocation> pointedTo) {
        if (pointer.memory() == null) return 0;
        Allocation allocation = live(pointer.memory(), "kernel " + kernel + " argument " + index);
        pointedTo.add(allocation);
        if (pointer.byteOffset() < 0 || pointer.byteOffset() > allocation.bytes()) {
            throw new CudaException("kernel " + kernel + " argument " + index + ": byte offset "
                    + pointer.byteOffset() + " outside " + allocation);
        }
        return allocation.data.address() + pointer.byteOffset();
    }

    /** The library's entry points, bound once per JVM (surefire runs with --enable-native-access=ALL-UNNAMED). */
    @SuppressWarnings("restricted")
    private static final class Native {
        static final Native INSTANCE = new Native(EmulatorBuild.result().library());

        private final MethodHandle launch;
        private final MethodHandle lastError;
        private final MethodHandle signature;

        private Native(Path library) {
            SymbolLookup symbols = SymbolLookup.libraryLookup(library, Arena.global());
            Linker linker = Linker.nativeLinker();
            launch = linker.downcallHandle(symbols.findOrThrow("crate_emu_launch"), FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
            lastError = linker.downcallHandle(symbols.findOrThrow("crate_emu_last_error"),
                    FunctionDescriptor.of(ADDRESS));
            signature = linker.downcallHandle(symbols.findOrThrow("crate_emu_signature"),
                    FunctionDescriptor.of(ADDRESS, ADDRESS));
        }

        /** The kernel's parameter kinds ("ptr,i32,f32"), or null when the library has no such kernel. */
        String signature(String kernel) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment text = (MemorySegment) signature.invokeExact(arena.allocateFrom(kernel));
                return text.equals(MemorySegment.NULL) ? null : text.reinterpret(Long.MAX_VALUE).getString(0);
            } catch (Throwable e) {
                throw new CudaException("crate_emu_signature failed", e);
            }
        }

        /** Runs a launch; null when it succeeded, else the runtime's error. */
        String launch(MemorySegment kernel, Dim3 grid, Dim3 block, int sharedBytes, MemorySegment params) {
            // The runtime keeps one error text, the last launch's of any thread: read it in the same critical section.
            synchronized (this) {
                try {
                    int result = (int) launch.invokeExact(kernel, grid.x(), grid.y(), grid.z(), block.x(), block.y(),
                            block.z(), sharedBytes, params);
                    if (result == 0) return null;
                    MemorySegment error = (MemorySegment) lastError.invokeExact();
                    return error.reinterpret(Long.MAX_VALUE).getString(0);
                } catch (Throwable e) {
                    throw new CudaException("crate_emu_launch failed", e);
                }
            }
        }
    }
}

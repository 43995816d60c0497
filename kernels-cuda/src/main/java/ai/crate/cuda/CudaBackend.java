package ai.crate.cuda;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.CounterRandom;
import ai.crate.engine.Layout;
import ai.crate.engine.OpChecks;
import ai.crate.engine.ReduceOp;
import ai.crate.engine.Shapes;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The CUDA backend: tensors live in device memory and every op is a kernel from {@code src/main/cuda} (GEMM, the
 * elementwise and row ops, fused MSSA, ISTA as two GEMMs plus elementwise passes, fused optimizer steps), so a
 * training step moves nothing to the host but what the caller reads back. Ops are queued on the calling thread's
 * queue (a CUDA stream per thread) and run asynchronously; {@link #toArray} waits for them.
 *
 * <p>Memory: released tensors go to a caching pool keyed by length, so a training loop in steady state asks the
 * driver for nothing; when the driver runs out, the pool is emptied and the allocation retried once.
 */
public final class CudaBackend implements Backend, AutoCloseable {
    private static final System.Logger LOG = System.getLogger("ai.crate.cuda.CudaBackend");
    private static final int THREADS = 256;
    private static final int ROWS_PER_BLOCK = 8;          // rows.cu: one warp per row, 8 warps per block
    private static final int MSSA_WARPS = 8, MSSA_ROWS = 4;   // mssa.cu: warps per block, rows per warp
    private static final int MAX_GRID_Z = 65535;
    private static final int MAX_RANK = 6;                // crate_cuda.cuh: CRATE_MAX_RANK
    /** 128×128 GEMM tiles only when they still give this many blocks; below it 64×64 tiles keep more SMs busy. */
    private static final long LARGE_TILE_MIN_BLOCKS = 264;

    /** One daemon thread for every backend: it only moves unreachable allocations onto a queue. */
    private static final Cleaner CLEANER = Cleaner.create();

    private final Device device;
    private final Map<Long, ArrayDeque<Pooled>> pool = new HashMap<>();
    /** Allocations whose tensors the collector found unreachable without a {@link #release}. */
    private final ConcurrentLinkedQueue<Storage.Handle> unreachable = new ConcurrentLinkedQueue<>();
    private final AtomicLong reclaimed = new AtomicLong(), fromDevice = new AtomicLong();
    private volatile boolean closed;

    private record Pooled(DeviceMemory memory, Object queue) {}

    /**
     * Storage of a CUDA tensor: one device allocation of {@code floats} elements, shared by all views of it. The
     * memory comes back to the pool by {@link #release}, or, when every view became unreachable without one, by the
     * garbage collector (device memory is not Java heap: nothing else would ever free it).
     */
    public static final class Storage {
        private final DeviceMemory memory;
        private final long floats;
        private final Handle handle;

        /** The memory and whether it went back already (release and the collector race for it; one wins). */
        record Handle(DeviceMemory memory, long floats, AtomicBoolean returned) {}

        private Storage(CudaBackend backend, DeviceMemory memory, long floats) {
            this.memory = memory;
            this.floats = floats;
            Handle h = new Handle(memory, floats, new AtomicBoolean());
            this.handle = h;
            ConcurrentLinkedQueue<Handle> queue = backend.unreachable;   // the action must not reach this Storage
            CLEANER.register(this, () -> { if (h.returned().compareAndSet(false, true)) queue.add(h); });
        }

        public DeviceMemory memory() { return memory; }

        public long floats() { return floats; }
    }

    public CudaBackend(Device device) {
        this.device = device;
        LOG.log(Level.INFO, "CUDA backend on {0}; MSSA {1}", device.description(),
                mssaByGemm ? "as batched GEMMs (-D" + MSSA_PROPERTY + "=gemm)" : "fused where a head fits in shared memory");
    }

    @Override
    public String name() { return "cuda"; }

    /** The device this backend runs on. */
    public Device device() { return device; }

    @Override
    public void synchronize() { device.synchronize(); }

    @Override
    public String toString() { return "cuda (" + device.description() + ")"; }

    /** Frees the pooled memory and closes the device (its context, streams and modules); tensors die with it. */
    @Override
    public void close() {
        closed = true;
        emptyPool();
        device.close();
    }

    // ---- memory ----------------------------------------------------------------------------------------------------

    @Override
    public Tensor empty(int... shape) {
        Tensor t = allocate(shape);
        if (t.size() > 0) launchElementwise("fill_f32", t.size(), new KernelArgs().ptr(mem(t), 0).struct(CONTIGUOUS)
                .f32(0f).i64(t.size()));
        return t;
    }

    /**
     * -Dcrate.cuda.poisonReused=true fills every buffer handed out again by the pool with NaN, as new memory is on
     * the emulator: a kernel that reads what it was meant to write first then fails even when the stale contents
     * happened to be right (tests set it; one extra launch per reuse).
     */
    public static final String POISON_PROPERTY = "crate.cuda.poisonReused";
    private final boolean poisonReused = Boolean.getBoolean(POISON_PROPERTY);

    @Override
    public Tensor allocate(int... shape) {
        int[] s = shape.clone();
        long n = Shapes.numel(s);
        long floats = Math.max(n, 1);   // the driver refuses empty allocations
        Tensor t = new Tensor(this, new Storage(this, take(floats), floats), s, Shapes.contiguousStrides(s), 0);
        if (poisonReused) {
            launchElementwise("fill_f32", floats, new KernelArgs().ptr(mem(t), 0).struct(CONTIGUOUS).f32(Float.NaN)
                    .i64(floats));
        }
        return t;
    }

    private DeviceMemory take(long floats) {
        reclaimUnreachable();
        synchronized (pool) {
            ArrayDeque<Pooled> q = pool.get(floats);
            Pooled p = q == null ? null : q.pollLast();
            if (p != null) {
                // Released on another thread's queue: that queue may still be using it.
                if (p.queue() != device.currentQueue()) device.synchronize(p.queue());
                return p.memory();
            }
        }
        long bytes = floats * Float.BYTES;
        fromDevice.incrementAndGet();
        try {
            return device.allocate(bytes);
        } catch (CudaOutOfMemoryException outOfMemory) {
            // Tensors dropped without release hold device memory until the collector finds them: ask for a
            // collection, give the cleaner a moment, then empty the pool and try once more.
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            reclaimUnreachable();
            long freed = emptyPool();
            LOG.log(Level.INFO, "device allocation of {0} bytes failed; freed {1} bytes of pooled and unreachable "
                    + "tensors, retrying once", bytes, freed);
            return device.allocate(bytes);
        }
    }

    /**
     * Pools the allocations the collector found unreachable. Their last use may be queued on any thread's stream,
     * so one device-wide synchronisation comes first (collections are rare: one wait per batch of them).
     */
    private void reclaimUnreachable() {
        if (unreachable.isEmpty() || closed) return;
        device.synchronizeAll();
        Object queue = device.currentQueue();
        int n = 0;
        synchronized (pool) {
            for (Storage.Handle h; (h = unreachable.poll()) != null; n++) {
                pool.computeIfAbsent(h.floats(), k -> new ArrayDeque<>()).addLast(new Pooled(h.memory(), queue));
            }
        }
        reclaimed.addAndGet(n);
        LOG.log(Level.DEBUG, "{0} device allocations of unreachable tensors back in the pool", n);
    }

    /** How many allocations went to the device rather than the pool (flat in a training loop's steady state). */
    public long allocationsFromDevice() { return fromDevice.get(); }

    /** How many allocations came back through the collector rather than {@link #release} (a leak indicator). */
    public long reclaimedByCollector() { return reclaimed.get(); }

    /** Frees every pooled allocation; returns how many bytes went back to the driver. */
    public long emptyPool() {
        long bytes = 0;
        synchronized (pool) {
            for (ArrayDeque<Pooled> q : pool.values()) {
                for (Pooled p : q) {
                    bytes += p.memory().bytes();
                    device.free(p.memory());
                }
            }
            pool.clear();
        }
        return bytes;
    }

    /** Keeps the storage of {@code t} for a later allocation of the same length; releasing twice is refused. */
    @Override
    public void release(Tensor t) {
        Storage s = storage("release", t);
        if (!s.handle.returned().compareAndSet(false, true)) {
            throw new IllegalStateException("release: the storage of " + t + " was already released");
        }
        synchronized (pool) {
            pool.computeIfAbsent(s.floats(), k -> new ArrayDeque<>()).addLast(new Pooled(s.memory(), device.currentQueue()));
        }
    }

    @Override
    public Tensor fromArray(float[] data, int... shape) {
        long n = OpChecks.fromArray(data, shape);
        Tensor t = allocate(shape);
        if (n > 0) device.upload(data, 0, mem(t), 0, data.length);
        return t;
    }

    @Override
    public float[] toArray(Tensor t) {
        storage("toArray", t);
        int n = Math.toIntExact(t.size());
        float[] out = new float[n];
        if (n == 0) return out;
        if (t.isContiguous()) {
            device.download(mem(t), t.offset() * Float.BYTES, out, 0, n);
        } else {
            Tensor c = contiguousCopy(t);
            device.download(mem(c), 0, out, 0, n);
            release(c);
        }
        return out;
    }

    // ---- fill, copy, random ----------------------------------------------------------------------------------------

    @Override
    public void fill(Tensor out, float value) {
        storage("fill", out);
        OpChecks.contiguous("fill", "output", out);
        if (out.size() == 0) return;
        launchElementwise("fill_f32", out.size(), new KernelArgs().ptr(mem(out), bytes(out)).struct(view(out, "fill"))
                .f32(value).i64(out.size()));
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        OpChecks.sameBackend("copy", this, src, dst);
        Shapes.requireSameShape("copy", src, "src", dst, "dst");
        if (src.size() == 0) return;
        launchElementwise("copy_f32", src.size(), new KernelArgs().ptr(mem(src), bytes(src))
                .struct(view(src, "copy")).ptr(mem(dst), bytes(dst)).struct(view(dst, "copy")).i64(src.size()));
    }

    /** Initialisation only: generated on the host by {@link CounterRandom} (the same numbers as every backend). */
    @Override
    public void randomUniform(Tensor out, long seed, float low, float high) {
        storage("randomUniform", out);
        OpChecks.contiguous("randomUniform", "output", out);
        float[] v = new float[Math.toIntExact(out.size())];
        for (int i = 0; i < v.length; i++) v[i] = CounterRandom.uniform(seed, i, low, high);
        store(v, out);
    }

    @Override
    public void randomNormal(Tensor out, long seed, float mean, float std) {
        storage("randomNormal", out);
        OpChecks.contiguous("randomNormal", "output", out);
        float[] v = new float[Math.toIntExact(out.size())];
        for (int i = 0; i < v.length; i++) v[i] = mean + std * CounterRandom.normal(seed, i);
        store(v, out);
    }

    private void store(float[] values, Tensor out) {
        if (values.length > 0) device.upload(values, 0, mem(out), bytes(out), values.length);
    }

    // ---- GEMM ------------------------------------------------------------------------------------------------------

    @Override
    public void gemm(float alpha, Tensor a, boolean transA, Tensor b, boolean transB, float beta, Tensor c) {
        OpChecks.sameBackend("gemm", this, a, b, c);
        Layout.Gemm g = Layout.gemm(a, transA, b, transB, c);
        if (g.m() == 0 || g.n() == 0 || g.batch() == 0) return;
        boolean large = g.m() >= 128 && g.n() >= 128
                && (long) ceil(g.m(), 128) * ceil(g.n(), 128) * g.batch() >= LARGE_TILE_MIN_BLOCKS;
        int tile = large ? 128 : 64;
        String kernel = large ? "sgemm_128x128" : "sgemm_64x64";
        long tiles = (long) ceil(g.m(), 64) * ceil(g.n(), 64) * g.batch();
        if (g.batch() == 1 && tiles < SPLIT_K_BELOW_TILES && g.k() >= SPLIT_K_MIN_K) {
            gemmSplitK(alpha, a, b, beta, c, g, tiles);
            return;
        }
        BatchOffsets ao = new BatchOffsets(g.aOffsets()), bo = new BatchOffsets(g.bOffsets());
        int vecA = vectorizable(g.aRowStride(), g.aColStride(), g.aOffsets()) ? 1 : 0;
        int vecB = vectorizable(g.bRowStride(), g.bColStride(), g.bOffsets()) ? 1 : 0;
        try {
            for (int z0 = 0; z0 < g.batch(); z0 += MAX_GRID_Z) {
                int zs = Math.min(MAX_GRID_Z, g.batch() - z0);
                KernelArgs args = new KernelArgs().i32(g.m()).i32(g.n()).i32(g.k()).f32(alpha);
                ao.append(args, mem(a), z0).i32(g.aRowStride()).i32(g.aColStride());
                ao.appendBatch(args, z0);
                bo.append(args, mem(b), z0).i32(g.bRowStride()).i32(g.bColStride());
                bo.appendBatch(args, z0);
                args.f32(beta).ptr(mem(c), g.cOffset(c.offset(), z0) * Float.BYTES).i32(vecA).i32(vecB);
                device.launch(kernel, Device.Dim3.of(ceil(g.n(), tile), ceil(g.m(), tile), zs), Device.Dim3.of(THREADS),
                        0, args);
            }
        } finally {
            ao.close();
            bo.close();
        }
    }

    /**
     * Whether every line of an operand along its unit stride starts 16-byte aligned (the other stride and every
     * batch offset a multiple of 4 floats; allocations are 256-byte aligned), so the GEMM may load it as float4s.
     */
    private static boolean vectorizable(int rowStride, int colStride, long... offsets) {
        int other = colStride == 1 ? rowStride : rowStride == 1 ? colStride : -1;
        if (other < 0 || other % 4 != 0) return false;
        for (long o : offsets) if (o % 4 != 0) return false;
        return true;
    }

    /** Output tiles below which a long K is split: fewer blocks than this leave most of a large GPU idle. */
    private static final long SPLIT_K_BELOW_TILES = 128;
    private static final int SPLIT_K_MIN_K = 1024;
    /** Blocks a split GEMM aims for (several per SM of a 132-SM H100). */
    private static final long SPLIT_K_TARGET_BLOCKS = 512;

    /**
     * A GEMM with few output tiles and a long K (a weight gradient, Xᵀ·dY over every token of the batch: 384×384 from
     * K = 8320 for cifar-tiny) as S independent K-slices batched into one launch, each writing its own [M, N] partial,
     * then one pass summing the partials into C (with α and β). The slices' order of summation is fixed, so the
     * result does not depend on scheduling.
     */
    private void gemmSplitK(float alpha, Tensor a, Tensor b, float beta, Tensor c, Layout.Gemm g, long tiles) {
        int m = g.m(), n = g.n(), k = g.k();
        int slices = (int) Math.max(2, Math.min(SPLIT_K_TARGET_BLOCKS / Math.max(tiles, 1), k / 256));
        // Slices of equal length, a multiple of the 64×64 kernel's K step, where K allows (one launch); else the
        // target count with a shorter last slice in a second launch.
        int chunk = ceil(ceil(k, slices), 16) * 16;
        for (int s = slices; s >= 2; s--) {
            if (k % s == 0 && (k / s) % 16 == 0) {
                chunk = k / s;
                break;
            }
        }
        int full = k / chunk, rest = k - full * chunk, parts = full + (rest > 0 ? 1 : 0);
        Tensor partial = allocate(parts, m, n);
        long aOff = g.aOffsets()[0], bOff = g.bOffsets()[0];
        long aStep = (long) chunk * g.aColStride(), bStep = (long) chunk * g.bRowStride();
        // slices start a multiple of 16 elements along K apart, so alignment of the first settles it for all
        int vecA = vectorizable(g.aRowStride(), g.aColStride(), aOff) ? 1 : 0;
        int vecB = vectorizable(g.bRowStride(), g.bColStride(), bOff) ? 1 : 0;
        if (full > 0) {
            device.launch("sgemm_64x64", Device.Dim3.of(ceil(n, 64), ceil(m, 64), full), Device.Dim3.of(THREADS), 0,
                    new KernelArgs().i32(m).i32(n).i32(chunk).f32(1f)
                            .ptr(mem(a), aOff * Float.BYTES).i32(g.aRowStride()).i32(g.aColStride()).i64(aStep).ptr(null, 0)
                            .ptr(mem(b), bOff * Float.BYTES).i32(g.bRowStride()).i32(g.bColStride()).i64(bStep).ptr(null, 0)
                            .f32(0f).ptr(mem(partial), 0).i32(vecA).i32(vecB));
        }
        if (rest > 0) {
            device.launch("sgemm_64x64", Device.Dim3.of(ceil(n, 64), ceil(m, 64), 1), Device.Dim3.of(THREADS), 0,
                    new KernelArgs().i32(m).i32(n).i32(rest).f32(1f)
                            .ptr(mem(a), (aOff + full * aStep) * Float.BYTES).i32(g.aRowStride()).i32(g.aColStride())
                            .i64(0).ptr(null, 0)
                            .ptr(mem(b), (bOff + full * bStep) * Float.BYTES).i32(g.bRowStride()).i32(g.bColStride())
                            .i64(0).ptr(null, 0)
                            .f32(0f).ptr(mem(partial), (long) full * m * n * Float.BYTES).i32(vecA).i32(vecB));
        }
        long mn = (long) m * n;
        launchElementwise("gemm_sum_slices_f32", mn, new KernelArgs().ptr(mem(partial), 0).i32(parts).i64(mn)
                .f32(alpha).f32(beta).ptr(mem(c), bytes(c)));
        release(partial);
    }

    /**
     * Where each batch's matrix starts: b·stride from the first when the offsets are evenly spaced (the usual case,
     * including broadcast with stride 0), else a table uploaded for the kernel.
     */
    private final class BatchOffsets implements AutoCloseable {
        private final long[] offsets;
        private final long stride;
        private final Tensor table;

        BatchOffsets(long[] offsets) {
            this.offsets = offsets;
            long s = offsets.length > 1 ? offsets[1] - offsets[0] : 0;
            boolean even = true;
            for (int i = 2; i < offsets.length && even; i++) even = offsets[i] - offsets[i - 1] == s;
            this.stride = s;
            if (even) {
                table = null;
            } else {
                table = allocate(2 * offsets.length);   // longs in a float buffer of the same byte size
                device.upload(offsets, 0, mem(table), 0, offsets.length);
            }
        }

        /** The matrix pointer for a launch starting at batch z0. */
        KernelArgs append(KernelArgs args, DeviceMemory m, int z0) {
            return table == null ? args.ptr(m, (offsets[0] + z0 * stride) * Float.BYTES) : args.ptr(m, 0);
        }

        /** The batch stride and offset table (null in the even case) for a launch starting at batch z0. */
        void appendBatch(KernelArgs args, int z0) {
            args.i64(stride);
            if (table == null) args.ptr(null, 0);
            else args.ptr(mem(table), (long) z0 * Long.BYTES);
        }

        @Override
        public void close() { if (table != null) release(table); }
    }

    // ---- elementwise -----------------------------------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        OpChecks.sameBackend("unary", this, x, out);
        OpChecks.elementwise("unary " + op, x, out);
        if (out.size() == 0) return;
        launchElementwise("unary_f32", out.size(), new KernelArgs().i32(op.ordinal()).ptr(mem(x), bytes(x))
                .struct(view(x, "unary")).ptr(mem(out), bytes(out)).i64(out.size()));
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) {
        OpChecks.sameBackend("unaryBackward", this, x, dy, dx);
        OpChecks.elementwise("unaryBackward " + op, x, dx);
        Shapes.requireSameShape("unaryBackward " + op, x, "x", dy, "dy");
        if (dx.size() == 0) return;
        launchElementwise("unary_backward_f32", dx.size(), new KernelArgs().i32(op.ordinal()).ptr(mem(x), bytes(x))
                .struct(view(x, "unaryBackward")).ptr(mem(dy), bytes(dy)).struct(view(dy, "unaryBackward"))
                .ptr(mem(dx), bytes(dx)).i64(dx.size()));
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        OpChecks.sameBackend("binary", this, a, b, out);
        int[] shape = OpChecks.binary("binary " + op, a, b, out);
        if (out.size() == 0) return;
        int[] as = Shapes.broadcastStrides(a, shape, "binary " + op), bs = Shapes.broadcastStrides(b, shape, "binary " + op);
        launchElementwise("binary_f32", out.size(), new KernelArgs().i32(op.ordinal()).ptr(mem(a), bytes(a))
                .struct(view(shape, as, "binary")).ptr(mem(b), bytes(b)).struct(view(shape, bs, "binary"))
                .ptr(mem(out), bytes(out)).i64(out.size()));
    }

    @Override
    public void affine(Tensor x, float scale, float shift, Tensor out) {
        OpChecks.sameBackend("affine", this, x, out);
        OpChecks.elementwise("affine", x, out);
        if (out.size() == 0) return;
        launchElementwise("affine_f32", out.size(), new KernelArgs().ptr(mem(x), bytes(x)).struct(view(x, "affine"))
                .f32(scale).f32(shift).ptr(mem(out), bytes(out)).i64(out.size()));
    }

    // ---- reductions ------------------------------------------------------------------------------------------------

    @Override
    public void reduce(ReduceOp op, Tensor x, int axis, Tensor out) {
        OpChecks.sameBackend("reduce", this, x, out);
        int ax = OpChecks.reduce("reduce " + op, x, axis, out);
        if (out.size() == 0) return;
        int[] shape = x.shape();
        int outer = Layout.outer(shape, ax), len = shape[ax], inner = Layout.inner(shape, ax);
        Tensor xc = contiguousInput(x);
        if (inner == 1) {
            device.launch("reduce_rows_f32", Device.Dim3.of(ceil(outer, ROWS_PER_BLOCK)), Device.Dim3.of(THREADS), 0,
                    new KernelArgs().i32(op.ordinal()).ptr(mem(xc), bytes(xc)).ptr(mem(out), bytes(out)).i32(outer)
                            .i32(len));
        } else {
            launchElementwise("reduce_cols_f32", (long) outer * inner, new KernelArgs().i32(op.ordinal())
                    .ptr(mem(xc), bytes(xc)).ptr(mem(out), bytes(out)).i32(outer).i32(len).i32(inner));
        }
        if (xc != x) release(xc);
    }

    // ---- softmax family --------------------------------------------------------------------------------------------

    @Override
    public void softmax(Tensor x, Tensor out) { softmax("softmax", x, out, false); }

    @Override
    public void logSoftmax(Tensor x, Tensor out) { softmax("logSoftmax", x, out, true); }

    private void softmax(String op, Tensor x, Tensor out, boolean log) {
        OpChecks.sameBackend(op, this, x, out);
        int c = OpChecks.rows(op, x, out);
        int rows = rows(x, c);
        if (rows == 0 || c == 0) return;
        Tensor xc = contiguousInput(x);
        launchRows("softmax_f32", rows, new KernelArgs().ptr(mem(xc), bytes(xc)).ptr(mem(out), bytes(out)).i32(rows)
                .i32(c).i32(log ? 1 : 0));
        if (xc != x) release(xc);
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) { softmaxBackward("softmaxBackward", y, dy, dx, false); }

    @Override
    public void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        softmaxBackward("logSoftmaxBackward", y, dy, dx, true);
    }

    private void softmaxBackward(String op, Tensor y, Tensor dy, Tensor dx, boolean log) {
        OpChecks.sameBackend(op, this, y, dy, dx);
        int c = OpChecks.rowsBackward(op, y, dy, dx);
        int rows = rows(y, c);
        if (rows == 0 || c == 0) return;
        Tensor yc = contiguousInput(y), dyc = contiguousInput(dy);
        launchRows("softmax_backward_f32", rows, new KernelArgs().ptr(mem(yc), bytes(yc)).ptr(mem(dyc), bytes(dyc))
                .ptr(mem(dx), bytes(dx)).i32(rows).i32(c).i32(log ? 1 : 0));
        releaseIfCopy(yc, y);
        releaseIfCopy(dyc, dy);
    }

    // ---- normalisation ---------------------------------------------------------------------------------------------

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out, Tensor mean, Tensor rstd) {
        OpChecks.sameBackend("layerNorm", this, x, gamma, beta, out, mean, rstd);
        OpChecks.layerNorm("layerNorm", x, gamma, beta, out, mean, rstd);
        int c = x.dim(-1), rows = rows(x, c);
        if (rows == 0 || c == 0) return;
        Tensor xc = contiguousInput(x), gc = contiguousInput(gamma), bc = contiguousInput(beta);
        launchRows("layer_norm_f32", rows, new KernelArgs().ptr(mem(xc), bytes(xc)).ptr(mem(gc), bytes(gc))
                .ptr(mem(bc), bytes(bc)).f32(eps).ptr(mem(out), bytes(out)).ptr(mem(mean), bytes(mean))
                .ptr(mem(rstd), bytes(rstd)).i32(rows).i32(c));
        releaseIfCopy(xc, x);
        releaseIfCopy(gc, gamma);
        releaseIfCopy(bc, beta);
    }

    /** Rows of dγ/dβ partial sums per block: enough blocks to fill the device, few enough partials to finish. */
    private static final int LN_ROWS_PER_CHUNK = 32;

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx,
                                  Tensor dgamma, Tensor dbeta) {
        OpChecks.sameBackend("layerNormBackward", this, dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
        OpChecks.layerNormBackward("layerNormBackward", dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
        int c = x.dim(-1), rows = rows(x, c);
        if (c == 0) return;
        if (rows == 0) {
            fill(dgamma, 0f);
            fill(dbeta, 0f);
            return;
        }
        Tensor dyc = contiguousInput(dy), xc = contiguousInput(x), gc = contiguousInput(gamma);
        Tensor mc = contiguousInput(mean), rc = contiguousInput(rstd);
        int chunks = ceil(rows, LN_ROWS_PER_CHUNK);
        Tensor partials = allocate(chunks, 2 * c);
        device.launch("layer_norm_backward_f32", Device.Dim3.of(chunks), Device.Dim3.of(THREADS), 0, new KernelArgs()
                .ptr(mem(dyc), bytes(dyc)).ptr(mem(xc), bytes(xc)).ptr(mem(gc), bytes(gc)).ptr(mem(mc), bytes(mc))
                .ptr(mem(rc), bytes(rc)).ptr(mem(dx), bytes(dx)).ptr(mem(partials), 0).i32(rows).i32(c)
                .i32(LN_ROWS_PER_CHUNK));
        device.launch("layer_norm_backward_params_finish_f32", Device.Dim3.of(ceil(c, THREADS)), Device.Dim3.of(THREADS),
                0, new KernelArgs().ptr(mem(partials), 0).i32(chunks).i32(c).ptr(mem(dgamma), bytes(dgamma))
                        .ptr(mem(dbeta), bytes(dbeta)));
        release(partials);
        releaseIfCopy(dyc, dy);
        releaseIfCopy(xc, x);
        releaseIfCopy(gc, gamma);
        releaseIfCopy(mc, mean);
        releaseIfCopy(rc, rstd);
    }

    // ---- loss ------------------------------------------------------------------------------------------------------

    @Override
    public void crossEntropy(Tensor logits, int[] labels, float smoothing, Tensor losses) {
        OpChecks.sameBackend("crossEntropy", this, logits, losses);
        OpChecks.crossEntropy("crossEntropy", logits, labels, smoothing, losses);
        OpChecks.contiguous("crossEntropy", "losses", losses);
        int rows = logits.dim(0), c = logits.dim(1);
        if (rows == 0) return;
        Tensor lc = contiguousInput(logits), lab = uploadInts(labels);
        launchRows("cross_entropy_f32", rows, new KernelArgs().ptr(mem(lc), bytes(lc)).ptr(mem(lab), 0).f32(smoothing)
                .ptr(mem(losses), bytes(losses)).i32(rows).i32(c));
        release(lab);
        releaseIfCopy(lc, logits);
    }

    @Override
    public void crossEntropyBackward(Tensor logits, int[] labels, float smoothing, Tensor dlosses, Tensor dlogits) {
        OpChecks.sameBackend("crossEntropyBackward", this, logits, dlosses, dlogits);
        OpChecks.crossEntropy("crossEntropyBackward", logits, labels, smoothing, dlosses);
        OpChecks.elementwise("crossEntropyBackward", logits, dlogits);
        int rows = logits.dim(0), c = logits.dim(1);
        if (rows == 0) return;
        Tensor lc = contiguousInput(logits), dc = contiguousInput(dlosses), lab = uploadInts(labels);
        launchRows("cross_entropy_backward_f32", rows, new KernelArgs().ptr(mem(lc), bytes(lc)).ptr(mem(lab), 0)
                .f32(smoothing).ptr(mem(dc), bytes(dc)).ptr(mem(dlogits), bytes(dlogits)).i32(rows).i32(c));
        release(lab);
        releaseIfCopy(lc, logits);
        releaseIfCopy(dc, dlosses);
    }

    // ---- indexing --------------------------------------------------------------------------------------------------

    @Override
    public void gather(Tensor x, int axis, int[] index, Tensor out) {
        OpChecks.sameBackend("gather", this, x, out);
        int ax = OpChecks.gather("gather", x, axis, index, out);
        OpChecks.contiguous("gather", "output", out);
        if (out.size() == 0) return;
        int[] xs = x.shape();
        int outer = Layout.outer(xs, ax), inner = Layout.inner(xs, ax);
        Tensor xc = contiguousInput(x), idx = uploadInts(index);
        launchElementwise("gather_f32", out.size(), new KernelArgs().ptr(mem(xc), bytes(xc)).ptr(mem(idx), 0)
                .ptr(mem(out), bytes(out)).i32(outer).i32(xs[ax]).i32(out.dim(ax)).i32(inner));
        release(idx);
        releaseIfCopy(xc, x);
    }

    @Override
    public void scatterAdd(Tensor src, int axis, int[] index, Tensor out) {
        OpChecks.sameBackend("scatterAdd", this, src, out);
        int ax = OpChecks.gather("scatterAdd", out, axis, index, src);
        OpChecks.contiguous("scatterAdd", "output", out);
        if (src.size() == 0) return;
        int[] os = out.shape();
        int outer = Layout.outer(os, ax), inner = Layout.inner(os, ax);
        Tensor sc = contiguousInput(src), idx = uploadInts(index);
        launchElementwise("scatter_add_f32", src.size(), new KernelArgs().ptr(mem(sc), bytes(sc)).ptr(mem(idx), 0)
                .ptr(mem(out), bytes(out)).i32(outer).i32(src.dim(ax)).i32(os[ax]).i32(inner));
        release(idx);
        releaseIfCopy(sc, src);
    }

    // ---- fused CRATE layers ----------------------------------------------------------------------------------------

    /** -Dcrate.cuda.mssa=gemm runs MSSA as batched GEMMs and a softmax even where the fused kernels fit. */
    public static final String MSSA_PROPERTY = "crate.cuda.mssa";

    private final boolean mssaByGemm = mssaMode();

    private static boolean mssaMode() {
        String mode = System.getProperty(MSSA_PROPERTY, "fused");
        return switch (mode) {
            case "fused" -> false;
            case "gemm" -> true;
            default -> throw new IllegalArgumentException("-D" + MSSA_PROPERTY + "=" + mode + ": expected fused or gemm");
        };
    }

    /**
     * Whether MSSA runs fused (a head's W in shared memory, no N×N matrix in global memory but scalar dot products
     * from shared memory) or as batched GEMMs (register-tiled, with A in global memory): fused where it fits unless
     * -Dcrate.cuda.mssa=gemm; which is faster at which N has not been measured on a GPU yet.
     */
    private boolean fusedMssa(int sharedBytes) {
        return !mssaByGemm && sharedBytes <= device.maxSharedBytesPerBlock();
    }

    private int mssaForwardShared(int n, int p) { return (n * (p + 1) + MSSA_WARPS * MSSA_ROWS * n) * Float.BYTES; }

    private int mssaBackwardShared(int n, int p) {
        return (2 * n * (p + 1) + MSSA_WARPS * MSSA_ROWS * n) * Float.BYTES;
    }

    @Override
    public void mssaForward(Tensor w, int heads, float scale, Tensor out, Tensor attn) {
        OpChecks.sameBackend("mssaForward", this, w, out);
        if (attn != null) OpChecks.sameBackend("mssaForward", this, attn);
        int p = OpChecks.mssa("mssaForward", w, heads, scale, null, out, attn);
        int batch = w.dim(0), n = w.dim(1);
        if (batch == 0 || n == 0 || p == 0) return;
        Tensor wc = contiguousInput(w);
        int shared = mssaForwardShared(n, p);
        if (fusedMssa(shared)) {
            device.launch("mssa_forward_f32", Device.Dim3.of(heads, batch), Device.Dim3.of(THREADS), shared,
                    new KernelArgs().ptr(mem(wc), bytes(wc)).i32(n).i32(heads).i32(p).f32(scale)
                            .ptr(mem(out), bytes(out)).ptr(attn == null ? null : mem(attn), attn == null ? 0 : bytes(attn)));
        } else {
            mssaForwardByGemm(wc, heads, p, scale, out, attn);
        }
        releaseIfCopy(wc, w);
    }

    /** Heads of a contiguous [B, N, H·p] tensor as a [B, H, N, p] view. */
    private static Tensor headsView(Tensor t, int heads, int p) {
        return t.reshape(t.dim(0), t.dim(1), heads, p).permute(0, 2, 1, 3);
    }

    /** MSSA forward from batched GEMMs and a softmax, for heads too large to keep on chip. */
    private void mssaForwardByGemm(Tensor w, int heads, int p, float scale, Tensor out, Tensor attn) {
        int batch = w.dim(0), n = w.dim(1);
        Tensor wh = headsView(w, heads, p);
        Tensor a = attn != null ? attn : allocate(batch, heads, n, n);
        gemm(scale, wh, false, wh, true, 0f, a);
        softmax(a, a);
        if (out != null) {
            Tensor o = allocate(batch, heads, n, p);
            gemm(1f, a, false, wh, false, 0f, o);
            copy(o, headsView(out, heads, p));
            release(o);
        }
        if (a != attn) release(a);
    }

    @Override
    public void mssaBackward(Tensor w, Tensor attn, Tensor dout, int heads, float scale, Tensor dw) {
        OpChecks.sameBackend("mssaBackward", this, w, dout, dw);
        if (attn != null) OpChecks.sameBackend("mssaBackward", this, attn);
        int p = OpChecks.mssa("mssaBackward", w, heads, scale, dout, dw, attn);
        int batch = w.dim(0), n = w.dim(1);
        if (batch == 0 || n == 0 || p == 0) return;
        Tensor wc = contiguousInput(w), dc = contiguousInput(dout);
        Tensor a = attn == null ? null : contiguousInput(attn);
        if (a == null) {   // recompute A: less memory held between forward and backward
            a = allocate(batch, heads, n, n);
            int shared = mssaForwardShared(n, p);
            if (fusedMssa(shared)) {
                device.launch("mssa_forward_f32", Device.Dim3.of(heads, batch), Device.Dim3.of(THREADS), shared,
                        new KernelArgs().ptr(mem(wc), bytes(wc)).i32(n).i32(heads).i32(p).f32(scale).ptr(null, 0)
                                .ptr(mem(a), 0));
            } else {
                mssaForwardByGemm(wc, heads, p, scale, null, a);
            }
        }
        int shared = mssaBackwardShared(n, p);
        Tensor ds = allocate(batch, heads, n, n);
        if (fusedMssa(shared)) {
            device.launch("mssa_backward_f32", Device.Dim3.of(heads, batch), Device.Dim3.of(THREADS), shared,
                    new KernelArgs().ptr(mem(wc), bytes(wc)).ptr(mem(a), bytes(a)).ptr(mem(dc), bytes(dc)).i32(n)
                            .i32(heads).i32(p).f32(scale).ptr(mem(ds), 0).ptr(mem(dw), bytes(dw)));
        } else {
            // dS = softmaxBackward(A, dO·Wᵀ); dW = Aᵀ·dO + scale·(dS·W + dSᵀ·W), per (batch, head) by batched GEMMs.
            Tensor wh = headsView(wc, heads, p), doh = headsView(dc, heads, p);
            gemm(1f, doh, false, wh, true, 0f, ds);
            softmaxBackward(a, ds, ds);
            Tensor t = allocate(batch, heads, n, p);
            gemm(1f, a, true, doh, false, 0f, t);
            gemm(scale, ds, false, wh, false, 1f, t);
            gemm(scale, ds, true, wh, false, 1f, t);
            copy(t, headsView(dw, heads, p));
            release(t);
        }
        release(ds);
        if (a != attn) release(a);
        releaseIfCopy(wc, w);
        releaseIfCopy(dc, dout);
    }

    @Override
    public void istaForward(Tensor x, Tensor dict, float eta, float lambda, Tensor out, Tensor residual) {
        OpChecks.sameBackend("istaForward", this, x, dict, out);
        if (residual != null) OpChecks.sameBackend("istaForward", this, residual);
        OpChecks.istaForward(this, x, dict, eta, lambda, out, residual);
        if (x.size() == 0) return;
        Tensor r = residual != null ? residual : allocate(x.shape());
        residual(x, dict, r);
        copy(x, out);                                  // out = x + η·R·D, then the shrinkage ReLU(· − ηλ)
        gemm(eta, r, false, dict, false, 1f, out);
        launchElementwise("shrink_relu_f32", out.size(), new KernelArgs().ptr(mem(out), bytes(out)).f32(eta * lambda)
                .i64(out.size()));
        if (r != residual) release(r);
    }

    /** R = x − x·Dᵀ into the contiguous r. */
    private void residual(Tensor x, Tensor dict, Tensor r) {
        copy(x, r);
        gemm(-1f, x, false, dict, true, 1f, r);
    }

    @Override
    public void istaBackward(Tensor x, Tensor dict, Tensor out, Tensor residual, Tensor dout, float eta, Tensor dx,
                             Tensor dDict) {
        OpChecks.sameBackend("istaBackward", this, x, dict, out, dout, dx, dDict);
        if (residual != null) OpChecks.sameBackend("istaBackward", this, residual);
        OpChecks.istaBackward(this, x, dict, out, residual, dout, eta, dx, dDict);
        int d = dict.dim(0);
        if (x.size() == 0) {
            fill(dDict, 0f);
            return;
        }
        int rows = Math.toIntExact(x.size() / d);
        Tensor r = residual != null ? contiguousInput(residual) : allocate(x.shape());
        if (residual == null) residual(x, dict, r);
        Tensor oc = contiguousInput(out), xc = contiguousInput(x);
        Tensor g = allocate(x.shape()), dr = allocate(x.shape());
        launchElementwise("relu_gate_f32", g.size(), new KernelArgs().ptr(mem(oc), bytes(oc)).ptr(mem(dout), bytes(dout))
                .struct(view(dout, "istaBackward")).ptr(mem(g), 0).i64(g.size()));
        gemm(1f, g, false, dict, true, 0f, dr);         // dR = G·Dᵀ
        copy(g, dx);                                    // dx = G + η·dR − η·dR·D
        launchElementwise("axpy_f32", dx.size(), new KernelArgs().f32(eta).ptr(mem(dr), 0).ptr(mem(dx), bytes(dx))
                .i64(dx.size()));
        gemm(-eta, dr, false, dict, false, 1f, dx);
        Tensor r2 = r.reshape(rows, d), g2 = g.reshape(rows, d), dr2 = dr.reshape(rows, d), x2 = xc.reshape(rows, d);
        gemm(eta, r2, true, g2, false, 0f, dDict);      // dD = η·(Rᵀ·G − dRᵀ·x)
        gemm(-eta, dr2, true, x2, false, 1f, dDict);
        release(g);
        release(dr);
        if (residual == null) release(r);
        else releaseIfCopy(r, residual);
        releaseIfCopy(oc, out);
        releaseIfCopy(xc, x);
    }

    // ---- norms -----------------------------------------------------------------------------------------------------

    private static final int SUM_SQUARES_MAX_BLOCKS = 256;

    /** Per thread (its own stream): the partial sums and the ticket counter (kept at 0 between calls). */
    private final ThreadLocal<Tensor[]> sumSquaresScratch = ThreadLocal.withInitial(() -> {
        Tensor partials = allocate(SUM_SQUARES_MAX_BLOCKS), counter = empty(1);   // 0.0f has the bits of int 0
        return new Tensor[] {partials, counter};
    });

    @Override
    public void sumOfSquaresInto(Tensor x, Tensor accumulator) {
        OpChecks.sameBackend("sumOfSquaresInto", this, x);
        OpChecks.oneElement("sumOfSquaresInto", "accumulator", this, accumulator);
        if (x.size() == 0) return;
        Tensor[] scratch = sumSquaresScratch.get();
        int blocks = (int) Math.min(ceil(x.size(), THREADS), SUM_SQUARES_MAX_BLOCKS);
        device.launch("sum_squares_f32", Device.Dim3.of(blocks), Device.Dim3.of(THREADS), 0, new KernelArgs()
                .ptr(mem(x), bytes(x)).struct(view(x, "sumOfSquaresInto")).i64(x.size()).ptr(mem(scratch[0]), 0)
                .ptr(mem(scratch[1]), 0).ptr(mem(accumulator), bytes(accumulator)));
    }

    // ---- one launch over many tensors -------------------------------------------------------------------------------
    // The kernels read a table of {addresses, lengths} uploaded per call (a few KB, asynchronous): every parameter
    // of a model in one launch instead of one each. Grid: (chunks, tensors); at most 65535 tensors per launch.

    private static final int MULTI_MAX_CHUNKS = 64;
    private static final int MAX_GRID_Y = 65535;

    /** Blocks per tensor: enough for the largest one (grid-stride beyond MULTI_MAX_CHUNKS). */
    private static int chunks(List<Tensor> xs) {
        long max = 1;
        for (Tensor x : xs) max = Math.max(max, x.size());
        return (int) Math.min(ceil(max, THREADS), MULTI_MAX_CHUNKS);
    }

    /** Uploads 64-bit words for a kernel's table; release it after the launch (the pool keeps stream order). */
    private Tensor table(long[] words) {
        Tensor t = allocate(2 * words.length);   // longs in a float buffer of the same byte size
        device.upload(words, 0, mem(t), 0, words.length);
        return t;
    }

    private long address(Tensor t) { return device.address(mem(t), bytes(t)); }

    /** Whole contiguous tensors of this backend, as the table kernels address them. */
    private void requireWholeContiguous(String op, List<Tensor> xs) {
        for (Tensor x : xs) {
            OpChecks.sameBackend(op, this, x);
            OpChecks.contiguous(op, "every tensor", x);
        }
    }

    /** A table of {address, length} per tensor, for the kernels reading TensorEntry / SquaresEntry. */
    private Tensor tensorTable(List<Tensor> group) {
        long[] words = new long[2 * group.size()];
        for (int i = 0; i < group.size(); i++) {
            words[2 * i] = address(group.get(i));
            words[2 * i + 1] = group.get(i).size();
        }
        return table(words);
    }

    /** The tensors in launches of at most MAX_GRID_Y (a grid's y extent). */
    private static List<List<Tensor>> launchGroups(List<Tensor> xs) {
        List<List<Tensor>> groups = new java.util.ArrayList<>();
        for (int from = 0; from < xs.size(); from += MAX_GRID_Y) {
            groups.add(xs.subList(from, Math.min(xs.size(), from + MAX_GRID_Y)));
        }
        return groups;
    }

    @Override
    public void sumOfSquaresInto(List<Tensor> xs, Tensor accumulator) {
        OpChecks.oneElement("sumOfSquaresInto", "accumulator", this, accumulator);
        requireWholeContiguous("sumOfSquaresInto", xs);
        for (List<Tensor> group : launchGroups(xs)) {
            int chunks = chunks(group);
            Tensor table = tensorTable(group), partials = allocate(chunks * group.size());
            device.launch("sum_squares_multi_f32", Device.Dim3.of(chunks, group.size()), Device.Dim3.of(THREADS), 0,
                    new KernelArgs().ptr(mem(table), 0).ptr(mem(partials), 0).ptr(mem(sumSquaresScratch.get()[1]), 0)
                            .ptr(mem(accumulator), bytes(accumulator)));
            release(table);
            release(partials);
        }
    }

    @Override
    public void scaleAll(List<Tensor> xs, Tensor factor) {
        OpChecks.oneElement("scaleAll", "factor", this, factor);
        requireWholeContiguous("scaleAll", xs);
        for (List<Tensor> group : launchGroups(xs)) {
            Tensor table = tensorTable(group);
            device.launch("scale_multi_f32", Device.Dim3.of(chunks(group), group.size()), Device.Dim3.of(THREADS), 0,
                    new KernelArgs().ptr(mem(table), 0).ptr(mem(factor), bytes(factor)));
            release(table);
        }
    }

    @Override
    public void adamWSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, List<Tensor> vs, float[] decays,
                           float lr, float beta1, float beta2, float eps, long step) {
        OpChecks.parallelLists("adamWSteps", ws.size(), gs.size(), ms.size(), vs.size(), decays.length);
        for (int i = 0; i < ws.size(); i++) optimizerChecks("adamWSteps", ws.get(i), gs.get(i), ms.get(i), vs.get(i));
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        launchStepTable("adamw_multi_f32", List.of(ws, gs, ms, vs), decays, args -> args.f32(beta1).f32(beta2).f32(eps)
                .f32((float) (1 / Math.sqrt(bc2))).f32((float) (-lr / bc1)));
    }

    @Override
    public void lionSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, float[] decays, float lr, float beta1,
                          float beta2) {
        OpChecks.parallelLists("lionSteps", ws.size(), gs.size(), ms.size(), decays.length);
        for (int i = 0; i < ws.size(); i++) optimizerChecks("lionSteps", ws.get(i), gs.get(i), ms.get(i));
        launchStepTable("lion_multi_f32", List.of(ws, gs, ms), decays, args -> args.f32(lr).f32(beta1).f32(beta2));
    }

    @Override
    public void sgdSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> buffers, float[] decays, float lr,
                         float momentum, boolean nesterov) {
        OpChecks.parallelLists("sgdSteps", ws.size(), gs.size(), buffers == null ? ws.size() : buffers.size(),
                decays.length);
        for (int i = 0; i < ws.size(); i++) {
            if (buffers == null) optimizerChecks("sgdSteps", ws.get(i), gs.get(i));
            else optimizerChecks("sgdSteps", ws.get(i), gs.get(i), buffers.get(i));
        }
        launchStepTable("sgd_multi_f32", Arrays.asList(ws, gs, buffers), decays,   // buffers null: no momentum
                args -> args.f32(lr).f32(momentum).i32(nesterov ? 1 : 0));
    }

    /**
     * One launch of an optimizer's table kernel per MAX_GRID_Y parameters. Entry p of the table: the address of
     * parameter p in each column list (0 for a null list: no such state), its length, and decays[p]'s float bits in
     * the low half of the last word (little-endian) — the layout of the kernel's entry struct. {@code scalars} adds
     * the kernel's arguments after the table pointer.
     */
    private void launchStepTable(String kernel, List<List<Tensor>> columns, float[] decays,
                                 Consumer<KernelArgs> scalars) {
        List<Tensor> ws = columns.getFirst();
        int perEntry = columns.size() + 2;
        for (int from = 0; from < ws.size(); from += MAX_GRID_Y) {
            int count = Math.min(ws.size() - from, MAX_GRID_Y);
            long[] words = new long[perEntry * count];
            for (int i = 0; i < count; i++) {
                int p = from + i, at = perEntry * i;
                for (int col = 0; col < columns.size(); col++) {
                    words[at + col] = columns.get(col) == null ? 0 : address(columns.get(col).get(p));
                }
                words[at + columns.size()] = ws.get(p).size();
                words[at + columns.size() + 1] = Float.floatToRawIntBits(decays[p]) & 0xFFFFFFFFL;
            }
            Tensor table = table(words);
            KernelArgs args = new KernelArgs().ptr(mem(table), 0);
            scalars.accept(args);
            device.launch(kernel, Device.Dim3.of(chunks(ws.subList(from, from + count)), count),
                    Device.Dim3.of(THREADS), 0, args);
            release(table);
        }
    }

    // ---- fused optimizer steps -------------------------------------------------------------------------------------

    @Override
    public void adamWStep(Tensor w, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                          float decay, long step) {
        adamWSteps(List.of(w), List.of(g), List.of(m), List.of(v), new float[] {decay}, lr, beta1, beta2, eps, step);
    }

    // One parameter is a table of one: the same kernel as the whole model's step.
    @Override
    public void lionStep(Tensor w, Tensor g, Tensor m, float lr, float beta1, float beta2, float decay) {
        lionSteps(List.of(w), List.of(g), List.of(m), new float[] {decay}, lr, beta1, beta2);
    }

    @Override
    public void sgdStep(Tensor w, Tensor g, Tensor momentumBuffer, float lr, float momentum, boolean nesterov,
                        float decay) {
        sgdSteps(List.of(w), List.of(g), momentumBuffer == null ? null : List.of(momentumBuffer), new float[] {decay},
                lr, momentum, nesterov);
    }

    /** Parameter, gradient and state: same shape, all contiguous (they are whole tensors, never views). */
    private void optimizerChecks(String op, Tensor w, Tensor... others) {
        OpChecks.sameBackend(op, this, w);
        OpChecks.sameBackend(op, this, others);
        OpChecks.contiguous(op, "parameter", w);
        for (Tensor t : others) {
            Shapes.requireSameShape(op, w, "parameter", t, "gradient/state");
            OpChecks.contiguous(op, "gradient/state", t);
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    /** A rank-0 view: the kernels read it as "contiguous, same shape as the output". */
    private static final int[] CONTIGUOUS = new int[1 + 2 * MAX_RANK];

    private Storage storage(String op, Tensor t) {
        OpChecks.sameBackend(op, this, t);
        return (Storage) t.storage();
    }

    private static DeviceMemory mem(Tensor t) { return ((Storage) t.storage()).memory(); }

    private static long bytes(Tensor t) { return t.offset() * Float.BYTES; }

    private static int ceil(long a, int b) { return Math.toIntExact((a + b - 1) / b); }

    private static int rows(Tensor x, int c) { return c == 0 ? 0 : Math.toIntExact(x.size() / c); }

    private static int[] view(Tensor t, String op) { return view(t.shape(), t.strides(), op); }

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

    private Tensor contiguousInput(Tensor t) { return t.isContiguous() ? t : contiguousCopy(t); }

    private Tensor contiguousCopy(Tensor t) {
        Tensor c = allocate(t.shape());
        copy(t, c);
        return c;
    }

    private void releaseIfCopy(Tensor maybeCopy, Tensor original) { if (maybeCopy != original) release(maybeCopy); }

    private Tensor uploadInts(int[] values) {
        Tensor t = allocate(Math.max(values.length, 1));   // ints in a float buffer of the same byte size
        if (values.length > 0) device.upload(values, 0, mem(t), 0, values.length);
        return t;
    }

    private void launchElementwise(String kernel, long n, KernelArgs args) {
        int blocks = (int) Math.min((n + THREADS - 1) / THREADS, 1 << 20);   // grid-stride loops cover the rest
        device.launch(kernel, Device.Dim3.of(Math.max(blocks, 1)), Device.Dim3.of(THREADS), 0, args);
    }

    private void launchRows(String kernel, int rows, KernelArgs args) {
        device.launch(kernel, Device.Dim3.of(ceil(rows, ROWS_PER_BLOCK)), Device.Dim3.of(THREADS), 0, args);
    }
}

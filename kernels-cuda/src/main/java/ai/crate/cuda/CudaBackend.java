package ai.crate.cuda;

import static ai.crate.cuda.CudaLaunch.CONTIGUOUS;
import static ai.crate.cuda.CudaLaunch.ROWS_PER_BLOCK;
import static ai.crate.cuda.CudaLaunch.THREADS;
import static ai.crate.cuda.CudaLaunch.bytes;
import static ai.crate.cuda.CudaLaunch.ceil;
import static ai.crate.cuda.CudaLaunch.mem;
import static ai.crate.cuda.CudaLaunch.view;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.CounterRandom;
import ai.crate.engine.FusedOps;
import ai.crate.engine.Layout;
import ai.crate.engine.OpChecks;
import ai.crate.engine.ReduceOp;
import ai.crate.engine.Shapes;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The CUDA backend: tensors live in device memory and the ops run as kernels from {@code src/main/cuda} (GEMM in
 * {@link CudaGemm}; MSSA, ISTA, norms and optimizer steps in {@link CudaFusedOps}, from {@link #fused}), so a
 * training step moves nothing to the host but what the caller reads back. {@link #randomUniform} and
 * {@link #randomNormal} are generated on the host and uploaded; {@link #gather}, {@link #scatterAdd} and the
 * cross-entropy ops upload their host {@code int[]} with each call. Ops are queued on the calling thread's stream and
 * run asynchronously; {@link #toArray} waits for them.
 *
 * <p>Memory: released tensors go to a caching pool ({@link CudaMemoryPool}), so a training loop in steady state asks
 * the driver for nothing.
 */
public final class CudaBackend implements Backend, AutoCloseable {
    private static final System.Logger LOG = System.getLogger("ai.crate.cuda.CudaBackend");

    /** -Dcrate.cuda.mssa=gemm runs MSSA as batched GEMMs and a softmax even where the fused kernels fit. */
    public static final String MSSA_PROPERTY = "crate.cuda.mssa";

    /**
     * -Dcrate.cuda.poisonReused=true fills every buffer handed out again by the pool with NaN, as new memory is on
     * the emulator: a kernel that reads what it was meant to write first then fails even when the stale contents
     * happened to be right (tests set it; one extra launch per reuse).
     */
    public static final String POISON_PROPERTY = "crate.cuda.poisonReused";

    private final boolean poisonReused = Boolean.getBoolean(POISON_PROPERTY);
    private final Device device;
    private final CudaMemoryPool pool;
    private final CudaLaunch launch;
    private final CudaGemm gemm;
    private final CudaFusedOps fused;

    /**
     * Storage of a CUDA tensor: one device allocation of {@code floats} elements, shared by all views of it. The
     * memory comes back to the pool by {@link CudaBackend#release}, or, when every view became unreachable without
     * one, by the garbage collector (device memory is not Java heap: nothing else would ever free it).
     */
    public static final class Storage {
        private final DeviceMemory memory;
        private final long floats;
        private final Handle handle;

        /** The memory and whether it went back already (release and the collector race for it; one wins). */
        record Handle(DeviceMemory memory, long floats, AtomicBoolean returned) {}

        Storage(DeviceMemory memory, long floats) {
            this.memory = memory;
            this.floats = floats;
            this.handle = new Handle(memory, floats, new AtomicBoolean());
        }

        public DeviceMemory memory() { return memory; }

        public long floats() { return floats; }

        Handle handle() { return handle; }
    }

    public CudaBackend(Device device) {
        this.device = device;
        this.pool = new CudaMemoryPool(device);
        this.launch = new CudaLaunch(this, device);
        this.gemm = new CudaGemm(this, device, launch);
        this.fused = new CudaFusedOps(this, device, launch);
        LOG.log(Level.INFO, "CUDA backend on {0}; MSSA {1}", device.description(), fused.mssaByGemm()
                ? "as batched GEMMs (-D" + MSSA_PROPERTY + "=gemm)" : "fused where a head fits in shared memory");
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
        pool.close();
        device.close();
    }

    /** MSSA, ISTA, the norms over many tensors and the optimizer steps, on this backend's fused kernels. */
    @Override
    public FusedOps fused() { return fused; }

    // ---- memory ----------------------------------------------------------------------------------------------------

    @Override
    public Tensor empty(int... shape) {
        Tensor t = allocate(shape);
        if (t.size() > 0) launch.elementwise("fill_f32", t.size(), new KernelArgs().ptr(mem(t), 0).struct(CONTIGUOUS)
                .f32(0f).i64(t.size()));
        return t;
    }

    @Override
    public Tensor allocate(int... shape) {
        int[] s = shape.clone();
        long n = Shapes.numel(s);
        long floats = Math.max(n, 1);   // the driver refuses empty allocations
        Tensor t = new Tensor(this, pool.allocate(floats), s, Shapes.contiguousStrides(s), 0);
        if (poisonReused) {
            launch.elementwise("fill_f32", floats, new KernelArgs().ptr(mem(t), 0).struct(CONTIGUOUS).f32(Float.NaN)
                    .i64(floats));
        }
        return t;
    }

    /** Keeps the storage of {@code t} for a later allocation of the same length; releasing twice is refused. */
    @Override
    public void release(Tensor t) {
        if (!pool.release(storage("release", t))) {
            throw new IllegalStateException("release: the storage of " + t + " was already released");
        }
    }

    /** How many allocations went to the device rather than the pool (flat in a training loop's steady state). */
    public long allocationsFromDevice() { return pool.allocationsFromDevice(); }

    /** How many allocations came back through the collector rather than {@link #release} (a leak indicator). */
    public long reclaimedByCollector() { return pool.reclaimedByCollector(); }

    /** Frees every pooled allocation; returns how many bytes went back to the driver. */
    public long emptyPool() { return pool.emptyPool(); }

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
            Tensor c = launch.contiguousCopy(t);
            device.download(mem(c), 0, out, 0, n);
            release(c);
        }
        return out;
    }

    private Storage storage(String op, Tensor t) {
        OpChecks.sameBackend(op, this, t);
        return (Storage) t.storage();
    }

    // ---- fill, copy, random ----------------------------------------------------------------------------------------

    @Override
    public void fill(Tensor out, float value) {
        storage("fill", out);
        OpChecks.contiguous("fill", "output", out);
        if (out.size() == 0) return;
        launch.elementwise("fill_f32", out.size(), new KernelArgs().ptr(mem(out), bytes(out)).struct(view(out, "fill"))
                .f32(value).i64(out.size()));
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        OpChecks.sameBackend("copy", this, src, dst);
        Shapes.requireSameShape("copy", src, "src", dst, "dst");
        if (src.size() == 0) return;
        launch.elementwise("copy_f32", src.size(), new KernelArgs().ptr(mem(src), bytes(src))
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

    /** Initialisation only: generated on the host, as {@link #randomUniform}. */
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
        gemm.run(alpha, a, b, beta, c, g);
    }

    // ---- elementwise -----------------------------------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        OpChecks.sameBackend("unary", this, x, out);
        OpChecks.elementwise("unary " + op, x, out);
        if (out.size() == 0) return;
        launch.elementwise("unary_f32", out.size(), new KernelArgs().i32(op.ordinal()).ptr(mem(x), bytes(x))
                .struct(view(x, "unary")).ptr(mem(out), bytes(out)).i64(out.size()));
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) {
        OpChecks.sameBackend("unaryBackward", this, x, dy, dx);
        OpChecks.elementwise("unaryBackward " + op, x, dx);
        Shapes.requireSameShape("unaryBackward " + op, x, "x", dy, "dy");
        if (dx.size() == 0) return;
        launch.elementwise("unary_backward_f32", dx.size(), new KernelArgs().i32(op.ordinal()).ptr(mem(x), bytes(x))
                .struct(view(x, "unaryBackward")).ptr(mem(dy), bytes(dy)).struct(view(dy, "unaryBackward"))
                .ptr(mem(dx), bytes(dx)).i64(dx.size()));
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        OpChecks.sameBackend("binary", this, a, b, out);
        int[] shape = OpChecks.binary("binary " + op, a, b, out);
        if (out.size() == 0) return;
        int[] as = Shapes.broadcastStrides(a, shape, "binary " + op), bs = Shapes.broadcastStrides(b, shape, "binary " + op);
        launch.elementwise("binary_f32", out.size(), new KernelArgs().i32(op.ordinal()).ptr(mem(a), bytes(a))
                .struct(view(shape, as, "binary")).ptr(mem(b), bytes(b)).struct(view(shape, bs, "binary"))
                .ptr(mem(out), bytes(out)).i64(out.size()));
    }

    @Override
    public void affine(Tensor x, float scale, float shift, Tensor out) {
        OpChecks.sameBackend("affine", this, x, out);
        OpChecks.elementwise("affine", x, out);
        if (out.size() == 0) return;
        launch.elementwise("affine_f32", out.size(), new KernelArgs().ptr(mem(x), bytes(x)).struct(view(x, "affine"))
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
        Tensor xc = launch.contiguousInput(x);
        if (inner == 1) {
            device.launch("reduce_rows_f32", Device.Dim3.of(ceil(outer, ROWS_PER_BLOCK)), Device.Dim3.of(THREADS), 0,
                    new KernelArgs().i32(op.ordinal()).ptr(mem(xc), bytes(xc)).ptr(mem(out), bytes(out)).i32(outer)
                            .i32(len));
        } else {
            launch.elementwise("reduce_cols_f32", (long) outer * inner, new KernelArgs().i32(op.ordinal())
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
        Tensor xc = launch.contiguousInput(x);
        launch.rows("softmax_f32", rows, new KernelArgs().ptr(mem(xc), bytes(xc)).ptr(mem(out), bytes(out)).i32(rows)
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
        Tensor yc = launch.contiguousInput(y), dyc = launch.contiguousInput(dy);
        launch.rows("softmax_backward_f32", rows, new KernelArgs().ptr(mem(yc), bytes(yc)).ptr(mem(dyc), bytes(dyc))
                .ptr(mem(dx), bytes(dx)).i32(rows).i32(c).i32(log ? 1 : 0));
        launch.releaseIfCopy(yc, y);
        launch.releaseIfCopy(dyc, dy);
    }

    // ---- normalisation ---------------------------------------------------------------------------------------------

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out, Tensor mean, Tensor rstd) {
        OpChecks.sameBackend("layerNorm", this, x, gamma, beta, out, mean, rstd);
        OpChecks.layerNorm("layerNorm", x, gamma, beta, out, mean, rstd);
        int c = x.dim(-1), rows = rows(x, c);
        if (rows == 0 || c == 0) return;
        Tensor xc = launch.contiguousInput(x), gc = launch.contiguousInput(gamma), bc = launch.contiguousInput(beta);
        launch.rows("layer_norm_f32", rows, new KernelArgs().ptr(mem(xc), bytes(xc)).ptr(mem(gc), bytes(gc))
                .ptr(mem(bc), bytes(bc)).f32(eps).ptr(mem(out), bytes(out)).ptr(mem(mean), bytes(mean))
                .ptr(mem(rstd), bytes(rstd)).i32(rows).i32(c));
        launch.releaseIfCopy(xc, x);
        launch.releaseIfCopy(gc, gamma);
        launch.releaseIfCopy(bc, beta);
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
        Tensor dyc = launch.contiguousInput(dy), xc = launch.contiguousInput(x), gc = launch.contiguousInput(gamma);
        Tensor mc = launch.contiguousInput(mean), rc = launch.contiguousInput(rstd);
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
        launch.releaseIfCopy(dyc, dy);
        launch.releaseIfCopy(xc, x);
        launch.releaseIfCopy(gc, gamma);
        launch.releaseIfCopy(mc, mean);
        launch.releaseIfCopy(rc, rstd);
    }

    // ---- loss ------------------------------------------------------------------------------------------------------

    @Override
    public void crossEntropy(Tensor logits, int[] labels, float smoothing, Tensor losses) {
        OpChecks.sameBackend("crossEntropy", this, logits, losses);
        OpChecks.crossEntropy("crossEntropy", logits, labels, smoothing, losses);
        OpChecks.contiguous("crossEntropy", "losses", losses);
        int rows = logits.dim(0), c = logits.dim(1);
        if (rows == 0) return;
        Tensor lc = launch.contiguousInput(logits), lab = launch.uploadInts(labels);
        launch.rows("cross_entropy_f32", rows, new KernelArgs().ptr(mem(lc), bytes(lc)).ptr(mem(lab), 0).f32(smoothing)
                .ptr(mem(losses), bytes(losses)).i32(rows).i32(c));
        release(lab);
        launch.releaseIfCopy(lc, logits);
    }

    @Override
    public void crossEntropyBackward(Tensor logits, int[] labels, float smoothing, Tensor dlosses, Tensor dlogits) {
        OpChecks.sameBackend("crossEntropyBackward", this, logits, dlosses, dlogits);
        OpChecks.crossEntropy("crossEntropyBackward", logits, labels, smoothing, dlosses);
        OpChecks.elementwise("crossEntropyBackward", logits, dlogits);
        int rows = logits.dim(0), c = logits.dim(1);
        if (rows == 0) return;
        Tensor lc = launch.contiguousInput(logits), dc = launch.contiguousInput(dlosses);
        Tensor lab = launch.uploadInts(labels);
        launch.rows("cross_entropy_backward_f32", rows, new KernelArgs().ptr(mem(lc), bytes(lc)).ptr(mem(lab), 0)
                .f32(smoothing).ptr(mem(dc), bytes(dc)).ptr(mem(dlogits), bytes(dlogits)).i32(rows).i32(c));
        release(lab);
        launch.releaseIfCopy(lc, logits);
        launch.releaseIfCopy(dc, dlosses);
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
        Tensor xc = launch.contiguousInput(x), idx = launch.uploadInts(index);
        launch.elementwise("gather_f32", out.size(), new KernelArgs().ptr(mem(xc), bytes(xc)).ptr(mem(idx), 0)
                .ptr(mem(out), bytes(out)).i32(outer).i32(xs[ax]).i32(out.dim(ax)).i32(inner));
        release(idx);
        launch.releaseIfCopy(xc, x);
    }

    @Override
    public void scatterAdd(Tensor src, int axis, int[] index, Tensor out) {
        OpChecks.sameBackend("scatterAdd", this, src, out);
        int ax = OpChecks.gather("scatterAdd", out, axis, index, src);
        OpChecks.contiguous("scatterAdd", "output", out);
        if (src.size() == 0) return;
        int[] os = out.shape();
        int outer = Layout.outer(os, ax), inner = Layout.inner(os, ax);
        Tensor sc = launch.contiguousInput(src), idx = launch.uploadInts(index);
        launch.elementwise("scatter_add_f32", src.size(), new KernelArgs().ptr(mem(sc), bytes(sc)).ptr(mem(idx), 0)
                .ptr(mem(out), bytes(out)).i32(outer).i32(src.dim(ax)).i32(os[ax]).i32(inner));
        release(idx);
        launch.releaseIfCopy(sc, src);
    }

    /** Rows of width c in x (none when c is 0). */
    private static int rows(Tensor x, int c) { return c == 0 ? 0 : Math.toIntExact(x.size() / c); }
}

package ai.crate.cuda;

import static ai.crate.cuda.CudaLaunch.THREADS;
import static ai.crate.cuda.CudaLaunch.bytes;
import static ai.crate.cuda.CudaLaunch.ceil;
import static ai.crate.cuda.CudaLaunch.mem;
import static ai.crate.cuda.CudaLaunch.view;

import ai.crate.engine.FusedOps;
import ai.crate.engine.OpChecks;
import ai.crate.engine.Shapes;
import ai.crate.engine.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * The CUDA backend's fused ops: MSSA by the kernels of mssa.cu where a head fits in shared memory (else, or with
 * -Dcrate.cuda.mssa=gemm, by {@link FusedOps}'s batched GEMMs), ISTA as two GEMMs plus gating passes, the squared
 * norms and the clipping rescale in one pass each, and every optimizer step one launch over all parameters.
 */
final class CudaFusedOps extends FusedOps {
    private static final int MSSA_WARPS = 8, MSSA_ROWS = 4;   // mssa.cu: warps per block, rows per warp
    private static final int SUM_SQUARES_MAX_BLOCKS = 256;

    private final CudaBackend cuda;
    private final Device device;
    private final CudaLaunch launch;
    private final CudaTensorTables tables;
    private final boolean mssaByGemm;

    /** Per thread (its own stream): the partial sums and the ticket counter (kept at 0 between calls). */
    private final ThreadLocal<Tensor[]> sumSquaresScratch;

    /** Refuses a {@link CudaBackend#MSSA_PROPERTY} other than fused or gemm, naming it. */
    CudaFusedOps(CudaBackend backend, Device device, CudaLaunch launch) {
        super(backend);
        this.cuda = backend;
        this.device = device;
        this.launch = launch;
        this.tables = new CudaTensorTables(backend, device);
        this.mssaByGemm = mssaByGemmProperty();
        this.sumSquaresScratch = ThreadLocal.withInitial(() -> new Tensor[] {
            backend.allocate(SUM_SQUARES_MAX_BLOCKS), backend.empty(1)});   // 0.0f has the bits of int 0
    }

    private static boolean mssaByGemmProperty() {
        String mode = System.getProperty(CudaBackend.MSSA_PROPERTY, "fused");
        return switch (mode) {
            case "fused" -> false;
            case "gemm" -> true;
            default -> throw new IllegalArgumentException("-D" + CudaBackend.MSSA_PROPERTY + "=" + mode
                    + ": expected fused or gemm");
        };
    }

    /** Whether -Dcrate.cuda.mssa=gemm runs MSSA as batched GEMMs even where the fused kernels fit. */
    boolean mssaByGemm() { return mssaByGemm; }

    // ---- MSSA ------------------------------------------------------------------------------------------------------

    /**
     * Whether MSSA runs fused (a head's W in shared memory, no N×N matrix in global memory but scalar dot products
     * from shared memory) or as batched GEMMs (register-tiled, with A in global memory): fused where it fits unless
     * -Dcrate.cuda.mssa=gemm; which is faster at which N has not been measured on a GPU yet.
     */
    private boolean fits(int sharedBytes) { return !mssaByGemm && sharedBytes <= device.maxSharedBytesPerBlock(); }

    private static int forwardShared(int n, int p) { return (n * (p + 1) + MSSA_WARPS * MSSA_ROWS * n) * Float.BYTES; }

    /** Always more than {@link #forwardShared}: where the backward kernel fits, so does the forward. */
    private static int backwardShared(int n, int p) {
        return (2 * n * (p + 1) + MSSA_WARPS * MSSA_ROWS * n) * Float.BYTES;
    }

    @Override
    public void mssaForward(Tensor w, int heads, float scale, Tensor out, Tensor attn) {
        int p = OpChecks.mssa(cuda, "mssaForward", w, heads, scale, null, out, attn);
        if (w.size() == 0) return;
        int batch = w.dim(0), n = w.dim(1);
        Tensor wc = launch.contiguousInput(w);
        int shared = forwardShared(n, p);
        if (fits(shared)) {
            device.launch("mssa_forward_f32", Device.Dim3.of(heads, batch), Device.Dim3.of(THREADS), shared,
                    new KernelArgs().ptr(mem(wc), bytes(wc)).i32(n).i32(heads).i32(p).f32(scale)
                            .ptr(mem(out), bytes(out)).ptr(attn == null ? null : mem(attn), attn == null ? 0 : bytes(attn)));
        } else {
            super.mssaForward(wc, heads, scale, out, attn);   // contiguous already: the GEMMs take it as it is
        }
        launch.releaseIfCopy(wc, w);
    }

    /**
     * The fused backward kernel where it fits. Where it does not, the GEMMs of {@link FusedOps#mssaBackward}; a
     * recomputed A still comes from the fused forward kernel when that one fits.
     */
    @Override
    public void mssaBackward(Tensor w, Tensor attn, Tensor dout, int heads, float scale, Tensor dw) {
        int p = OpChecks.mssa(cuda, "mssaBackward", w, heads, scale, dout, dw, attn);
        if (w.size() == 0) return;
        int batch = w.dim(0), n = w.dim(1);
        Tensor wc = launch.contiguousInput(w), dc = launch.contiguousInput(dout);
        // recompute A when not kept (less memory held between forward and backward); null: by GEMMs in super
        Tensor a = attn != null || !fits(forwardShared(n, p)) ? attn : attention(wc, heads, p, scale);
        int shared = backwardShared(n, p);
        if (fits(shared)) {
            Tensor ds = cuda.allocate(batch, heads, n, n);
            device.launch("mssa_backward_f32", Device.Dim3.of(heads, batch), Device.Dim3.of(THREADS), shared,
                    new KernelArgs().ptr(mem(wc), bytes(wc)).ptr(mem(a), bytes(a)).ptr(mem(dc), bytes(dc)).i32(n)
                            .i32(heads).i32(p).f32(scale).ptr(mem(ds), 0).ptr(mem(dw), bytes(dw)));
            cuda.release(ds);
        } else {
            super.mssaBackward(wc, a, dc, heads, scale, dw);
        }
        if (a != attn) cuda.release(a);
        launch.releaseIfCopy(wc, w);
        launch.releaseIfCopy(dc, dout);
    }

    /** A = softmax(scale · W_h W_hᵀ) [B, H, N, N] by the fused forward kernel, without the output. */
    private Tensor attention(Tensor w, int heads, int p, float scale) {
        int batch = w.dim(0), n = w.dim(1), shared = forwardShared(n, p);
        Tensor a = cuda.allocate(batch, heads, n, n);
        device.launch("mssa_forward_f32", Device.Dim3.of(heads, batch), Device.Dim3.of(THREADS), shared,
                new KernelArgs().ptr(mem(w), bytes(w)).i32(n).i32(heads).i32(p).f32(scale).ptr(null, 0)
                        .ptr(mem(a), 0));
        return a;
    }

    // ---- ISTA ------------------------------------------------------------------------------------------------------

    /** The base composition's GEMM against M, then the shrinkage and ReLU in one kernel. */
    @Override
    public void istaForward(Tensor x, Tensor dict, float eta, float lambda, Tensor out) {
        OpChecks.istaForward(cuda, x, dict, eta, lambda, out);
        if (x.size() == 0) return;
        Tensor m = istaMatrix(dict, eta);
        cuda.gemm(1f, x, false, m, false, 0f, out);
        launch.elementwise("shrink_relu_f32", out.size(), new KernelArgs().ptr(mem(out), bytes(out))
                .f32(eta * lambda).i64(out.size()));
        cuda.release(m);
    }

    /** The base composition, with G = dout ⊙ [out > 0] in one kernel: dx = G Mᵀ, dM = xᵀG. */
    @Override
    public void istaBackward(Tensor x, Tensor dict, Tensor out, Tensor dout, float eta, Tensor dx, Tensor dDict) {
        int d = OpChecks.istaBackward(cuda, x, dict, out, dout, eta, dx, dDict);
        if (x.size() == 0) {
            if (dDict != null) cuda.fill(dDict, 0f);
            return;
        }
        int rows = Math.toIntExact(x.size() / d);
        Tensor oc = launch.contiguousInput(out), xc = launch.contiguousInput(x);
        Tensor g = cuda.allocate(rows, d);
        launch.elementwise("relu_gate_f32", g.size(), new KernelArgs().ptr(mem(oc), bytes(oc))
                .ptr(mem(dout), bytes(dout)).struct(view(dout, "istaBackward")).ptr(mem(g), 0).i64(g.size()));
        if (dDict != null) {
            Tensor dm = cuda.allocate(d, d);
            cuda.gemm(1f, xc.reshape(rows, d), true, g, false, 0f, dm);
            istaDictionaryGradient(dict, dm, eta, dDict);
            cuda.release(dm);
        }
        if (dx != null) {
            Tensor m = istaMatrix(dict, eta);
            cuda.gemm(1f, g, false, m, true, 0f, dx.reshape(rows, d));
            cuda.release(m);
        }
        cuda.release(g);
        launch.releaseIfCopy(oc, out);
        launch.releaseIfCopy(xc, x);
    }

    // ---- norms over many tensors -----------------------------------------------------------------------------------

    @Override
    public void sumOfSquaresInto(Tensor x, Tensor accumulator) {
        OpChecks.sameBackend("sumOfSquaresInto", cuda, x);
        OpChecks.oneElement("sumOfSquaresInto", "accumulator", cuda, accumulator);
        if (x.size() == 0) return;
        Tensor[] scratch = sumSquaresScratch.get();
        int blocks = (int) Math.min(ceil(x.size(), THREADS), SUM_SQUARES_MAX_BLOCKS);
        device.launch("sum_squares_f32", Device.Dim3.of(blocks), Device.Dim3.of(THREADS), 0, new KernelArgs()
                .ptr(mem(x), bytes(x)).struct(view(x, "sumOfSquaresInto")).i64(x.size()).ptr(mem(scratch[0]), 0)
                .ptr(mem(scratch[1]), 0).ptr(mem(accumulator), bytes(accumulator)));
    }

    @Override
    public void sumOfSquaresInto(List<Tensor> xs, Tensor accumulator) {
        OpChecks.oneElement("sumOfSquaresInto", "accumulator", cuda, accumulator);
        tables.requireWholeContiguous("sumOfSquaresInto", xs);
        for (List<Tensor> group : CudaTensorTables.launchGroups(xs)) {
            int chunks = CudaTensorTables.chunks(group);
            Tensor table = tables.tensorTable(group), partials = cuda.allocate(chunks * group.size());
            device.launch("sum_squares_multi_f32", Device.Dim3.of(chunks, group.size()), Device.Dim3.of(THREADS), 0,
                    new KernelArgs().ptr(mem(table), 0).ptr(mem(partials), 0).ptr(mem(sumSquaresScratch.get()[1]), 0)
                            .ptr(mem(accumulator), bytes(accumulator)));
            cuda.release(table);
            cuda.release(partials);
        }
    }

    @Override
    public void scaleAll(List<Tensor> xs, Tensor factor) {
        OpChecks.oneElement("scaleAll", "factor", cuda, factor);
        tables.requireWholeContiguous("scaleAll", xs);
        for (List<Tensor> group : CudaTensorTables.launchGroups(xs)) {
            Tensor table = tables.tensorTable(group);
            device.launch("scale_multi_f32", Device.Dim3.of(CudaTensorTables.chunks(group), group.size()),
                    Device.Dim3.of(THREADS), 0, new KernelArgs().ptr(mem(table), 0).ptr(mem(factor), bytes(factor)));
            cuda.release(table);
        }
    }

    // ---- optimizer steps: one launch for every parameter; one parameter is a table of one ------------------------

    @Override
    public void adamWSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, List<Tensor> vs, float[] decays,
                           float lr, float beta1, float beta2, float eps, long step) {
        OpChecks.parallelLists("adamWSteps", ws.size(), gs.size(), ms.size(), vs.size(), decays.length);
        for (int i = 0; i < ws.size(); i++) optimizerChecks("adamWSteps", ws.get(i), gs.get(i), ms.get(i), vs.get(i));
        double bc1 = 1 - StrictMath.pow(beta1, step), bc2 = 1 - StrictMath.pow(beta2, step);
        tables.launchStepTable("adamw_multi_f32", List.of(ws, gs, ms, vs), decays, args -> args.f32(beta1).f32(beta2)
                .f32(eps).f32((float) (1 / Math.sqrt(bc2))).f32((float) (-lr / bc1)));
    }

    @Override
    public void lionSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, float[] decays, float lr, float beta1,
                          float beta2) {
        OpChecks.parallelLists("lionSteps", ws.size(), gs.size(), ms.size(), decays.length);
        for (int i = 0; i < ws.size(); i++) optimizerChecks("lionSteps", ws.get(i), gs.get(i), ms.get(i));
        tables.launchStepTable("lion_multi_f32", List.of(ws, gs, ms), decays,
                args -> args.f32(lr).f32(beta1).f32(beta2));
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
        tables.launchStepTable("sgd_multi_f32", Arrays.asList(ws, gs, buffers), decays,   // buffers null: no momentum
                args -> args.f32(lr).f32(momentum).i32(nesterov ? 1 : 0));
    }

    @Override
    public void adamWStep(Tensor w, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                          float decay, long step) {
        adamWSteps(List.of(w), List.of(g), List.of(m), List.of(v), new float[] {decay}, lr, beta1, beta2, eps, step);
    }

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
        OpChecks.sameBackend(op, cuda, w);
        OpChecks.sameBackend(op, cuda, others);
        OpChecks.contiguous(op, "parameter", w);
        for (Tensor t : others) {
            Shapes.requireSameShape(op, w, "parameter", t, "gradient/state");
            OpChecks.contiguous(op, "gradient/state", t);
        }
    }
}

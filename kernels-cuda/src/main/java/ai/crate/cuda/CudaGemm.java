package ai.crate.cuda;

import static ai.crate.cuda.CudaLaunch.THREADS;
import static ai.crate.cuda.CudaLaunch.bytes;
import static ai.crate.cuda.CudaLaunch.ceil;
import static ai.crate.cuda.CudaLaunch.mem;

import ai.crate.engine.Layout;
import ai.crate.engine.Tensor;

/**
 * The CUDA backend's batched SGEMM (gemm.cu): 128×128 or 64×64 register-blocked tiles, float4 loads where an operand
 * is aligned for them, batches beyond a grid's z extent in several launches, uneven batch offsets through an uploaded
 * table, and split K where few output tiles meet a long K.
 */
final class CudaGemm {
    private static final int MAX_GRID_Z = 65535;
    /** 128×128 GEMM tiles only when they still give this many blocks; below it 64×64 tiles keep more SMs busy. */
    private static final long LARGE_TILE_MIN_BLOCKS = 264;
    /** Output tiles below which a long K is split: fewer blocks than this leave most of a large GPU idle. */
    private static final long SPLIT_K_BELOW_TILES = 128;
    private static final int SPLIT_K_MIN_K = 1024;
    /** Blocks a split GEMM aims for (several per SM of a 132-SM H100). */
    private static final long SPLIT_K_TARGET_BLOCKS = 512;

    private final CudaBackend be;
    private final Device device;
    private final CudaLaunch launch;

    CudaGemm(CudaBackend backend, Device device, CudaLaunch launch) {
        this.be = backend;
        this.device = device;
        this.launch = launch;
    }

    /** C = α·op(A)·op(B) + β·C for operands checked into {@code g} by {@link Layout#gemm}, none of it empty. */
    void run(float alpha, Tensor a, Tensor b, float beta, Tensor c, Layout.Gemm g) {
        boolean large = g.m() >= 128 && g.n() >= 128
                && (long) ceil(g.m(), 128) * ceil(g.n(), 128) * g.batch() >= LARGE_TILE_MIN_BLOCKS;
        int tile = large ? 128 : 64;
        String kernel = large ? "sgemm_128x128" : "sgemm_64x64";
        long tiles = (long) ceil(g.m(), 64) * ceil(g.n(), 64) * g.batch();
        if (g.batch() == 1 && tiles < SPLIT_K_BELOW_TILES && g.k() >= SPLIT_K_MIN_K) {
            splitK(alpha, a, b, beta, c, g, tiles);
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

    /**
     * A GEMM with few output tiles and a long K (a weight gradient, Xᵀ·dY over every token of the batch: 384×384 from
     * K = 8320 for cifar-tiny) as S independent K-slices batched into one launch, each writing its own [M, N] partial,
     * then one pass summing the partials into C (with α and β). The slices' order of summation is fixed, so the
     * result does not depend on scheduling.
     */
    private void splitK(float alpha, Tensor a, Tensor b, float beta, Tensor c, Layout.Gemm g, long tiles) {
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
        Tensor partial = be.allocate(parts, m, n);
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
        launch.elementwise("gemm_sum_slices_f32", mn, new KernelArgs().ptr(mem(partial), 0).i32(parts).i64(mn)
                .f32(alpha).f32(beta).ptr(mem(c), bytes(c)));
        be.release(partial);
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
                table = be.allocate(2 * offsets.length);   // longs in a float buffer of the same byte size
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
        public void close() { if (table != null) be.release(table); }
    }
}

package ai.crate.simd;

/**
 * Multi-head attention, forward and backward, one task per (batch, head) on the backend's pool: CRATE's MSSA (Q = K
 * = V tied, one [B, N, H·p] array) and ViT's self-attention (untied, one [B, N, 3·H·p] array of queries | keys |
 * values). Each task runs its small GEMMs on its own thread ({@link SimdGemm#serial}) straight on the heads' strided
 * columns, so nothing is split into heads or merged back, and the tasks write disjoint columns of the output: no
 * atomics, no reduction.
 *
 * <p>Forward: S = scale·Q Kᵀ, softmax by rows in place, O = A V. Backward: dA = dO Vᵀ; dS = A ⊙ (dA − rowsum(dA ⊙ A));
 * untied, dQ = scale·dS K, dK = scale·dSᵀ Q, dV = Aᵀ dO; tied, dW = Aᵀ dO + scale·(dS + dSᵀ) W — three GEMMs, the
 * query and key terms folded into one by symmetrising dS first; tied, the symmetric scores W Wᵀ are multiplied only
 * on and below the diagonal, and when A is not kept (inference) they are normalised down their columns — the rows,
 * by symmetry — into Aᵀ, which O = A V then reads transposed.
 */
final class SimdAttention {
    private final Parallel parallel;
    private final SimdGemm gemm;
    /** Per-thread N×N buffers (attention when not saved, and dS), grown on demand and reused across calls. */
    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[2][0]);

    SimdAttention(Parallel parallel, SimdGemm gemm) {
        this.parallel = parallel;
        this.gemm = gemm;
    }

    /**
     * The forward of either form. {@code src} holds rows of {@code stride} floats from {@code so}; head h's queries
     * start at column h·p, its keys {@code keys} columns further and its values {@code values} further (0 and 0 for
     * MSSA; H·p and 2·H·p for untied attention). {@code attn} may be null (then A lives in scratch); otherwise A for
     * task t is written at ao + t·N·N. {@code out} is [B, N, H·p].
     */
    void forward(float[] src, int so, int stride, int keys, int values, float[] out, int oo, float[] attn, int ao,
                 int batch, int n, int heads, int p, float scale) {
        int width = heads * p;
        parallel.forEach(batch * heads, t -> {
            int b = t / heads, h = t % heads;
            int q = so + b * n * stride + h * p;
            if (attn == null && keys == 0) {   // tied, A not kept: the symmetric scores' softmax down the columns
                float[] at = buffer(0, n * n);
                gemm.syrk(scale, src, q, stride, n, p, at, 0, n);
                SimdRows.softmaxColumnsOfSymmetric(at, 0, n);
                gemm.serial(1f, at, 0, 1, n, src, q + values, stride, 1, 0f, out, oo + b * n * width + h * p, width,
                        n, p, n);   // O = A V with A read from Aᵀ
                return;
            }
            float[] a = attn != null ? attn : buffer(0, n * n);
            int aBase = attn != null ? ao + t * n * n : 0;
            attention(src, q, q + keys, stride, a, aBase, n, p, scale);
            gemm.serial(1f, a, aBase, n, 1, src, q + values, stride, 1, 0f, out, oo + b * n * width + h * p, width, n,
                    p, n);
        });
    }

    /** MSSA's backward: w and dw [B, N, H·p], the tied projection's three terms summed into dw. */
    void backwardTied(float[] w, int wo, float[] attn, int ao, float[] dout, int dgo, float[] dw, int dwo, int batch,
                      int n, int heads, int p, float scale) {
        int width = heads * p;
        parallel.forEach(batch * heads, t -> {
            int b = t / heads, h = t % heads;
            int head = b * n * width + h * p;
            int wBase = wo + head, dBase = dgo + head, gBase = dwo + head;
            float[] a = attn != null ? attn : buffer(0, n * n);
            int aBase = attn != null ? ao + t * n * n : 0;
            if (attn == null) attention(w, wBase, wBase, width, a, aBase, n, p, scale);
            float[] ds = scoreGradient(a, aBase, dout, dBase, width, w, wBase, width, n, p);
            symmetrise(ds, n, scale);
            gemm.serial(1f, a, aBase, 1, n, dout, dBase, width, 1, 0f, dw, gBase, width, n, p, n);  // Aᵀ dO
            gemm.serial(1f, ds, 0, n, 1, w, wBase, width, 1, 1f, dw, gBase, width, n, p, n);       // + M W
        });
    }

    /** Untied attention's backward: qkv and dqkv [B, N, 3·H·p], dout [B, N, H·p]. */
    void backwardUntied(float[] qkv, int xo, float[] attn, int ao, float[] dout, int dgo, float[] dqkv, int go,
                        int batch, int n, int heads, int p, float scale) {
        int width = heads * p, stride = 3 * width;
        parallel.forEach(batch * heads, t -> {
            int b = t / heads, h = t % heads;
            int head = b * n * stride + h * p;
            int q = xo + head, k = q + width, v = k + width, dq = go + head, dk = dq + width, dv = dk + width;
            int dBase = dgo + b * n * width + h * p;
            float[] a = attn != null ? attn : buffer(0, n * n);
            int aBase = attn != null ? ao + t * n * n : 0;
            if (attn == null) attention(qkv, q, k, stride, a, aBase, n, p, scale);
            float[] ds = scoreGradient(a, aBase, dout, dBase, width, qkv, v, stride, n, p);
            gemm.serial(scale, ds, 0, n, 1, qkv, k, stride, 1, 0f, dqkv, dq, stride, n, p, n);       // dS K
            gemm.serial(scale, ds, 0, 1, n, qkv, q, stride, 1, 0f, dqkv, dk, stride, n, p, n);       // dSᵀ Q
            gemm.serial(1f, a, aBase, 1, n, dout, dBase, width, 1, 0f, dqkv, dv, stride, n, p, n);  // Aᵀ dO
        });
    }

    /**
     * a[aBase..] = softmax(scale · Q Kᵀ) by rows, Q and K one head's [n, p] columns at q and k, row stride {@code
     * stride}. Tied (q = k, MSSA) the scores are symmetric: only the panels on and below the diagonal are multiplied.
     */
    private void attention(float[] x, int q, int k, int stride, float[] a, int aBase, int n, int p, float scale) {
        if (q == k) gemm.syrk(scale, x, q, stride, n, p, a, aBase, n);
        else gemm.serial(scale, x, q, stride, 1, x, k, 1, stride, 0f, a, aBase, n, n, n, p);
        for (int i = 0; i < n; i++) {
            int r = aBase + i * n;
            float sum = SimdRows.expShiftSum(a, r, a, r, n, SimdRows.rowMax(a, r, n));
            SimdRows.affineRow(a, r, a, r, n, 1f / sum, 0f);
        }
    }

    /** dS = A ⊙ (dO Vᵀ − rowsum) into this thread's scratch, V one head's [n, p] columns at v with row stride vStride. */
    private float[] scoreGradient(float[] a, int aBase, float[] dout, int dBase, int dStride, float[] x, int v,
                                  int vStride, int n, int p) {
        float[] ds = buffer(1, n * n);
        gemm.serial(1f, dout, dBase, dStride, 1, x, v, 1, vStride, 0f, ds, 0, n, n, n, p);   // dA = dO Vᵀ
        for (int i = 0; i < n; i++) {
            int ar = aBase + i * n, r = i * n;
            SimdRows.softmaxBackwardRow(a, ar, ds, r, ds, r, n, SimdRows.rowDot(ds, r, a, ar, n));
        }
        return ds;
    }

    /** m ← scale·(m + mᵀ), in place: the query and key gradients share one GEMM through it. */
    private static void symmetrise(float[] m, int n, float scale) {
        for (int i = 0; i < n; i++) {
            m[i * n + i] *= 2f * scale;
            for (int j = i + 1; j < n; j++) {
                float s = scale * (m[i * n + j] + m[j * n + i]);
                m[i * n + j] = s;
                m[j * n + i] = s;
            }
        }
    }

    private float[] buffer(int which, int size) {
        float[][] s = scratch.get();
        if (s[which].length < size) s[which] = new float[size];
        return s[which];
    }
}

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
 * on and below the diagonal and normalised down their columns — the rows, by symmetry, to the same bits — into Aᵀ,
 * which O = A V reads transposed when A is not kept (inference) and which is transposed back when it is.
 */
final class SimdAttention {
    private final Parallel parallel;
    private final SimdGemm gemm;
    /** Per-thread buffers (N×N: attention when not saved, and dS; the column softmax's partial sums), grown on demand. */
    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[3][0]);

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
            boolean transposed = keys == 0 && attn == null;   // tied and not kept: A is left as Aᵀ
            int ld = transposed ? SimdRows.wholeVectors(n) : n;   // Aᵀ in scratch: rows padded to whole vectors
            float[] a = attn != null ? attn : buffer(0, n * ld);
            int aBase = attn != null ? ao + t * n * n : 0;
            if (keys == 0) tiedAttention(src, q, stride, a, aBase, ld, n, p, scale, !transposed);
            else attention(src, q, q + keys, stride, a, aBase, n, p, scale);
            gemm.serial(1f, a, aBase, transposed ? 1 : n, transposed ? ld : 1, src, q + values, stride, 1, 0f, out,
                    oo + b * n * width + h * p, width, n, p, n);
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
        if (q == k) {
            tiedAttention(x, q, stride, a, aBase, n, n, p, scale, true);
            return;
        }
        gemm.serial(scale, x, q, stride, 1, x, k, 1, stride, 0f, a, aBase, n, n, n, p);
        rowSoftmax(a, aBase, n);
    }

    private static void rowSoftmax(float[] a, int aBase, int n) {
        for (int i = 0; i < n; i++) SimdRows.softmaxRow(a, aBase + i * n, a, aBase + i * n, n);
    }

    /** Up to this many tokens the column softmax and a transpose beat the row softmax (measured, one thread: 4.8 against
     * 6.5 µs at 50 tokens, 62 against 51 at 197). */
    static final int TRANSPOSE_PAYS = 128;

    /**
     * Tied attention, A = softmax(scale · W Wᵀ) by rows: the symmetric scores on and below the diagonal, then their
     * softmax down the columns (the rows, by symmetry; the same bits as by rows) into Aᵀ — transposed back when
     * {@code rowMajor}, unless the tokens are too many for that to pay, when the softmax runs by rows instead. Rows of
     * a are ld floats apart; ld = n when {@code rowMajor}. Rows padded to whole vectors (the padding left as it was)
     * speed the column softmax by a quarter at 50 tokens.
     */
    private void tiedAttention(float[] x, int w, int stride, float[] a, int aBase, int ld, int n, int p, float scale,
                               boolean rowMajor) {
        gemm.syrk(scale, x, w, stride, n, p, a, aBase, ld);
        if (rowMajor && n > TRANSPOSE_PAYS) {
            rowSoftmax(a, aBase, n);
            return;
        }
        SimdRows.softmaxColumnsOfSymmetric(a, aBase, n, ld, buffer(2, SimdRows.COLUMN_PARTIALS));
        if (rowMajor) transposeInPlace(a, aBase, n);
    }

    /** The square n×n matrix at off, transposed in place in 16×16 tiles (both tiles of a pair stay in L1). */
    static void transposeInPlace(float[] m, int off, int n) {
        final int tile = 16;
        for (int i0 = 0; i0 < n; i0 += tile) {
            for (int j0 = i0; j0 < n; j0 += tile) {
                int i1 = Math.min(n, i0 + tile), j1 = Math.min(n, j0 + tile);
                for (int i = i0; i < i1; i++) {
                    for (int j = Math.max(j0, i + 1); j < j1; j++) {
                        int x = off + i * n + j, y = off + j * n + i;
                        float v = m[x];
                        m[x] = m[y];
                        m[y] = v;
                    }
                }
            }
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

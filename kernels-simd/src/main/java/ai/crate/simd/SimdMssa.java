package ai.crate.simd;

/**
 * CRATE's tied-projection attention, forward and backward, one task per (batch, head) on the backend's pool. Each
 * task runs its small GEMMs on its own thread ({@link SimdGemm#serial}) straight on the heads' strided columns of
 * the [B, N, H·p] arrays, so nothing is split into heads or merged back, and the tasks write disjoint columns of
 * the output: no atomics, no reduction.
 *
 * <p>Forward: S = scale·W Wᵀ, softmax by rows in place, O = A W. Backward, with the tied Q = K = V: dA = dO Wᵀ;
 * dS = A ⊙ (dA − rowsum(dA ⊙ A)); dW = Aᵀ dO + scale·(dS + dSᵀ) W — three GEMMs, the query and key terms folded
 * into one by symmetrising dS first.
 */
final class SimdMssa {
    private final Parallel parallel;
    private final SimdGemm gemm;
    /** Per-thread N×N buffers (attention when not saved, and dS), grown on demand and reused across calls. */
    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[2][0]);

    SimdMssa(Parallel parallel, SimdGemm gemm) {
        this.parallel = parallel;
        this.gemm = gemm;
    }

    /** attn may be null (then A lives in scratch); otherwise A for task t is written at ao + t·N·N. */
    void forward(float[] w, int wo, float[] out, int oo, float[] attn, int ao, int batch, int n, int heads, int p,
                 float scale) {
        int width = heads * p;
        parallel.forEach(batch * heads, t -> {
            int b = t / heads, h = t % heads;
            int wBase = wo + b * n * width + h * p;
            float[] a = attn != null ? attn : buffer(0, n * n);
            int aBase = attn != null ? ao + t * n * n : 0;
            attention(w, wBase, width, a, aBase, n, p, scale);
            gemm.serial(1f, a, aBase, n, 1, w, wBase, width, 1, 0f, out, oo + b * n * width + h * p, width, n, p, n);
        });
    }

    void backward(float[] w, int wo, float[] attn, int ao, float[] dout, int dgo, float[] dw, int dwo, int batch,
                  int n, int heads, int p, float scale) {
        int width = heads * p;
        parallel.forEach(batch * heads, t -> {
            int b = t / heads, h = t % heads;
            int head = b * n * width + h * p;
            int wBase = wo + head, dBase = dgo + head, gBase = dwo + head;
            float[] a;
            int aBase;
            if (attn != null) {
                a = attn;
                aBase = ao + t * n * n;
            } else {
                a = buffer(0, n * n);
                aBase = 0;
                attention(w, wBase, width, a, aBase, n, p, scale);
            }
            float[] ds = buffer(1, n * n);
            gemm.serial(1f, dout, dBase, width, 1, w, wBase, 1, width, 0f, ds, 0, n, n, n, p);   // dA = dO Wᵀ
            for (int i = 0; i < n; i++) {
                int ar = aBase + i * n, r = i * n;
                SimdRows.softmaxBackwardRow(a, ar, ds, r, ds, r, n, SimdRows.rowDot(ds, r, a, ar, n));
            }
            symmetrise(ds, n, scale);
            gemm.serial(1f, a, aBase, 1, n, dout, dBase, width, 1, 0f, dw, gBase, width, n, p, n);  // Aᵀ dO
            gemm.serial(1f, ds, 0, n, 1, w, wBase, width, 1, 1f, dw, gBase, width, n, p, n);       // + M W
        });
    }

    /** a[aBase..] = softmax(scale · W Wᵀ) by rows, W one head's [n, p] columns with row stride {@code width}. */
    private void attention(float[] w, int wBase, int width, float[] a, int aBase, int n, int p, float scale) {
        gemm.serial(scale, w, wBase, width, 1, w, wBase, 1, width, 0f, a, aBase, n, n, n, p);
        for (int i = 0; i < n; i++) {
            int r = aBase + i * n;
            float sum = SimdRows.expShiftSum(a, r, a, r, n, SimdRows.rowMax(a, r, n));
            SimdRows.affineRow(a, r, a, r, n, 1f / sum, 0f);
        }
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

package ai.crate.simd;

import ai.crate.engine.FusedOps;
import ai.crate.engine.OpChecks;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;

/**
 * The SIMD backend's fused MSSA and multi-head self-attention ({@link SimdAttention}: one task per batch × head) and ISTA (its two GEMMs with the small
 * matrix I − D folded in); the norms and optimizer steps stay composed from the SIMD primitives.
 */
final class SimdFusedOps extends FusedOps {
    private final SimdBackend simd;
    private final SimdAttention attention;

    SimdFusedOps(SimdBackend backend, SimdAttention attention) {
        super(backend);
        this.simd = backend;
        this.attention = attention;
    }

    @Override
    public void mssaForward(Tensor w, int heads, float scale, Tensor out, Tensor attn) {
        int p = OpChecks.mssa(simd, "mssaForward", w, heads, scale, null, out, attn);
        Tensor wc = w.contiguous();
        attention.forward(simd.array("mssaForward", wc), (int) wc.offset(), w.dim(2), 0, 0,
                simd.array("mssaForward", out), (int) out.offset(), attn == null ? null : simd.array("mssaForward", attn),
                attn == null ? 0 : (int) attn.offset(), w.dim(0), w.dim(1), heads, p, scale);
    }

    @Override
    public void mssaBackward(Tensor w, Tensor attn, Tensor dout, int heads, float scale, Tensor dw) {
        String op = "mssaBackward";
        int p = OpChecks.mssa(simd, op, w, heads, scale, dout, dw, attn);
        Tensor wc = w.contiguous(), dc = dout.contiguous();
        attention.backwardTied(simd.array(op, wc), (int) wc.offset(), attn == null ? null : simd.array(op, attn),
                attn == null ? 0 : (int) attn.offset(), simd.array(op, dc), (int) dc.offset(), simd.array(op, dw),
                (int) dw.offset(), w.dim(0), w.dim(1), heads, p, scale);
    }

    @Override
    public void mhsaForward(Tensor qkv, int heads, float scale, Tensor out, Tensor attn) {
        String op = "mhsaForward";
        int p = OpChecks.mhsa(simd, op, qkv, heads, scale, null, out, attn);
        Tensor c = qkv.contiguous();
        int width = heads * p;
        attention.forward(simd.array(op, c), (int) c.offset(), 3 * width, width, 2 * width, simd.array(op, out),
                (int) out.offset(), attn == null ? null : simd.array(op, attn), attn == null ? 0 : (int) attn.offset(),
                qkv.dim(0), qkv.dim(1), heads, p, scale);
    }

    @Override
    public void mhsaBackward(Tensor qkv, Tensor attn, Tensor dout, int heads, float scale, Tensor dqkv) {
        String op = "mhsaBackward";
        int p = OpChecks.mhsa(simd, op, qkv, heads, scale, dout, dqkv, attn);
        Tensor c = qkv.contiguous(), dc = dout.contiguous();
        attention.backwardUntied(simd.array(op, c), (int) c.offset(), attn == null ? null : simd.array(op, attn),
                attn == null ? 0 : (int) attn.offset(), simd.array(op, dc), (int) dc.offset(), simd.array(op, dqkv),
                (int) dqkv.offset(), qkv.dim(0), qkv.dim(1), heads, p, scale);
    }

    /**
     * ISTA as GEMMs on this backend's own kernels: R = x (I − D)ᵀ is one GEMM with the small matrix I − D instead of
     * a GEMM plus a subtraction pass; then out = ReLU(x − ηλ + η·R·D).
     */
    @Override
    public void istaForward(Tensor x, Tensor dict, float eta, float lambda, Tensor out, Tensor residual) {
        int d = OpChecks.istaForward(simd, x, dict, eta, lambda, out, residual);
        Tensor x2 = rowsOf(x, d), out2 = out.reshape(-1, d), e = identityMinus(dict);
        Tensor r = residual != null ? residual.reshape(-1, d) : simd.allocate(x2.shape());
        simd.gemm(1f, x2, false, e, true, 0f, r);
        simd.affine(x2, 1f, -eta * lambda, out2);
        simd.gemm(eta, r, false, dict, false, 1f, out2);
        simd.unary(UnaryOp.RELU, out2, out2);
        simd.release(e);
        if (residual == null) simd.release(r);
    }

    /**
     * dx = G + η·dR·(I − D) and dD = η(Rᵀ G − dRᵀ x), with G = dout ⊙ [out > 0] and dR = G Dᵀ: four GEMMs, fewer
     * when one gradient is not asked for (null).
     */
    @Override
    public void istaBackward(Tensor x, Tensor dict, Tensor out, Tensor residual, Tensor dout, float eta,
                             Tensor dx, Tensor dDict) {
        int d = OpChecks.istaBackward(simd, x, dict, out, residual, dout, eta, dx, dDict);
        Tensor x2 = rowsOf(x, d), e = identityMinus(dict);
        Tensor g = dx != null ? dx.reshape(-1, d) : simd.allocate(x2.shape());     // dx holds G for now
        simd.unaryBackward(UnaryOp.RELU, rowsOf(out, d), rowsOf(dout, d), g);
        Tensor dr = simd.allocate(x2.shape());
        simd.gemm(1f, g, false, dict, true, 0f, dr);
        if (dDict != null) {
            Tensor r = residual != null ? residual.reshape(-1, d) : simd.allocate(x2.shape());
            if (residual == null) simd.gemm(1f, x2, false, e, true, 0f, r);
            simd.gemm(eta, r, true, g, false, 0f, dDict);
            simd.gemm(-eta, dr, true, x2, false, 1f, dDict);
            if (residual == null) simd.release(r);
        }
        if (dx != null) simd.gemm(eta, dr, false, e, false, 1f, g);
        else simd.release(g);
        simd.release(dr);
        simd.release(e);
    }

    /** x as a contiguous [rows, d] matrix (a view when x is already contiguous). */
    private static Tensor rowsOf(Tensor x, int d) { return x.contiguous().reshape(-1, d); }

    /** I − D as a new d×d tensor: tiny next to the GEMMs it saves a pass in. */
    private Tensor identityMinus(Tensor dict) {
        int d = dict.dim(0);
        Tensor e = simd.allocate(d, d);
        simd.affine(dict, -1f, 0f, e);
        float[] ed = simd.array("identityMinus", e);
        for (int i = 0; i < d; i++) ed[i * d + i] += 1f;
        return e;
    }
}

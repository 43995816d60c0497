package ai.crate.simd;

import ai.crate.engine.FusedOps;
import ai.crate.engine.OpChecks;
import ai.crate.engine.Tensor;

/**
 * The SIMD backend's fused MSSA and multi-head self-attention ({@link SimdAttention}: one task per batch × head). ISTA
 * (one GEMM against M = I + η(D − DᵀD) forward, two back), the norms and the optimizer steps are the base class's
 * compositions on the SIMD primitives.
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
}

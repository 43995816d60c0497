package ai.crate.model.mae;

import ai.crate.model.nn.Init;
import ai.crate.model.nn.Taps;
import ai.crate.autograd.F;
import ai.crate.autograd.GradCheck;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.simd.SimdBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Finite-difference check of the CRATE-MAE decoder layer, every weight and the input differentiated. */
class MaeDecoderGradientTest {

    /** Y = LN_a(Z)·Wᵀ; Z' = Y − (W_out·MSSA(LN_b(Y)·Uᵀ) + b_out), as {@link MaeDecoderBlock}. */
    static Variable decoderLayer(List<Variable> v, int heads) {
        Variable z = v.get(0), ga = v.get(1), ba = v.get(2), w = v.get(3), gb = v.get(4), bb = v.get(5), u = v.get(6),
                wOut = v.get(7), bOut = v.get(8);
        Variable y = F.linear(F.layerNorm(z, ga, ba, 1e-5f), w, null);
        float scale = (float) (1 / Math.sqrt(y.shape()[2] / heads));
        Variable attn = F.mssa(F.linear(F.layerNorm(y, gb, bb, 1e-5f), u, null), heads, scale, true);
        return F.sub(y, F.linear(attn, wOut, bOut));
    }

    private static void check(Backend be) {
        int b = 2, n = 5, d = 6;
        long seed = 1;
        Tensor[] in = new Tensor[9];
        int[][] shapes = {{b, n, d}, {d}, {d}, {d, d}, {d}, {d}, {d, d}, {d, d}, {d}};
        for (int i = 0; i < in.length; i++) {
            in[i] = be.empty(shapes[i]);
            be.randomNormal(in[i], seed++, i == 1 || i == 4 ? 1f : 0f, i == 0 ? 1f : 0.4f);
        }
        GradCheck.check(be, v -> decoderLayer(v, 2), in);
    }

    @Test
    void decoderLayerOnReference() { check(new ReferenceBackend()); }

    @Test
    void decoderLayerOnSimd() {
        try (SimdBackend be = new SimdBackend(2)) { check(be); }
    }

    @Test
    void blockComputesTheCheckedFormula() {
        Backend be = new ReferenceBackend();
        MaeDecoderBlock block = new MaeDecoderBlock(new Init(be, 3), 6, 2);
        var p = block.namedParameters();
        Tensor z = be.empty(2, 5, 6);
        be.randomNormal(z, 9, 0f, 1f);
        List<Variable> v = List.of(Variable.constant(z), p.get("layers.0.0.norm.weight"), p.get("layers.0.0.norm.bias"),
                p.get("layers.0.0.fn.weight"), p.get("layers.0.1.norm.weight"), p.get("layers.0.1.norm.bias"),
                p.get("layers.0.1.fn.qkv.weight"), p.get("layers.0.1.fn.to_out.0.weight"),
                p.get("layers.0.1.fn.to_out.0.bias"));
        org.junit.jupiter.api.Assertions.assertArrayEquals(decoderLayer(v, 2).value().toFloatArray(),
                block.forward(Variable.constant(z), Taps.training(true)).value().toFloatArray());
    }
}

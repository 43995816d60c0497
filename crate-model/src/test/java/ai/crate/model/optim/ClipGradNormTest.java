package ai.crate.model.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.model.TestBackends;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** clip_grad_norm_ as torch computes it, on every test backend: norm over all parameters, coefficient min(1, …). */
class ClipGradNormTest {
    private static final float[] G1 = {3f, -4f}, G2 = {12f};   // global norm √(9 + 16 + 144) = 13

    private static Variable withGrad(Backend be, float[] g) {
        Variable p = Variable.parameter(be.fromArray(new float[g.length], g.length));
        F.sum(F.mul(p, Variable.constant(be.fromArray(g, g.length)))).backward();   // d/dp Σ g·p = g
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"reference", "simd", "cuda-emulated"})
    void scalesEveryGradientByTheGlobalNormOnlyWhenAboveTheLimit(String backend) {
        Backend be = TestBackends.named(backend);
        for (float maxNorm : new float[] {6.5f, 13f, 20f}) {
            Variable a = withGrad(be, G1), b = withGrad(be, G2);
            Optimizer opt = new Sgd(List.of(new Param("a", a, false), new Param("b", b, false)), 0.1f, 0f, false, 0f);
            assertEquals(13.0, opt.clipGradNorm(maxNorm).item(), 1e-5, "the norm before clipping");
            double coef = Math.min(1, maxNorm / (13 + 1e-6));
            float[] ga = a.grad().toFloatArray(), gb = b.grad().toFloatArray();
            assertEquals(G1[0] * coef, ga[0], 1e-5, backend + " max " + maxNorm);
            assertEquals(G1[1] * coef, ga[1], 1e-5, backend + " max " + maxNorm);
            assertEquals(G2[0] * coef, gb[0], 1e-5, backend + " max " + maxNorm);
        }
        Variable none = Variable.parameter(be.fromArray(new float[] {1f}, 1));
        Optimizer empty = new Sgd(List.of(new Param("n", none, false)), 0.1f, 0f, false, 0f);
        assertNull(empty.clipGradNorm(1f), "no gradients: nothing to clip");
        assertThrows(IllegalArgumentException.class, () -> empty.clipGradNorm(0f));
    }
}

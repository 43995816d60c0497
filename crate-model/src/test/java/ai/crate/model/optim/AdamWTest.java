package ai.crate.model.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.ReferenceBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdamWTest {
    private final Backend be = new ReferenceBackend();

    /** Three steps with changing gradients against torch.optim.AdamW's update written out in double. */
    @Test
    void matchesTorchAdamWUpdate() {
        float[] w0 = {0.5f, -1.25f, 2f}, lrWd = {1e-2f, 0.05f};
        float[][] grads = {{0.3f, -0.7f, 1.1f}, {-0.2f, 0.4f, 0.9f}, {0.05f, -1.5f, -0.3f}};
        Variable p = Variable.parameter(be.fromArray(w0, 3));
        AdamW opt = new AdamW(List.of(new Param("p", p, true)), lrWd[0], lrWd[1]);
        double[] w = {w0[0], w0[1], w0[2]}, m = new double[3], v = new double[3];
        for (int t = 1; t <= 3; t++) {
            float[] g = grads[t - 1];
            p.zeroGrad();
            // gradient from d/dp Σ g·p
            ai.crate.autograd.F.sum(ai.crate.autograd.F.mul(p, Variable.constant(be.fromArray(g, 3)))).backward();
            opt.step();
            for (int i = 0; i < 3; i++) {
                w[i] *= 1 - lrWd[0] * lrWd[1];
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
                double bc1 = 1 - Math.pow(0.9, t), bc2 = 1 - Math.pow(0.999, t);
                w[i] -= lrWd[0] / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + 1e-8);
            }
            float[] got = p.value().toFloatArray();
            for (int i = 0; i < 3; i++) assertEquals(w[i], got[i], 1e-6, "step " + t + " element " + i);
        }
        assertEquals(3, opt.steps());
    }

    @Test
    void rejectsBadHyperparameters() {
        Variable p = Variable.parameter(be.fromArray(new float[] {1f}, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AdamW(List.of(new Param("p", p, true)), 1e-3f, 1.0f, 0.999f, 1e-8f, 0f));
        assertEquals(true, e.getMessage().contains("betas (1.0, 0.999)"), e.getMessage());
    }
}

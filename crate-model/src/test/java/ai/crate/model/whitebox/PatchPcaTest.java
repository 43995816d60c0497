package ai.crate.model.whitebox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PatchPcaTest {
    /** A planted direction dominates: the first component recovers its scores; components are orthonormal. */
    @Test
    void firstComponentRecoversAPlantedSignal() {
        int n = 20, d = 9, stride = 11;
        SplittableRandom r = new SplittableRandom(5);
        double[] u = new double[n], v = new double[d];
        for (int i = 0; i < n; i++) u[i] = r.nextGaussian();
        for (int j = 0; j < d; j++) v[j] = r.nextGaussian();
        float[] f = new float[2 + n * stride];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) f[2 + i * stride + j] = (float) (10 * u[i] * v[j] + 0.1 * r.nextGaussian());
        double[][] s = PatchPca.scores(f, 2, n, d, stride, 3);
        double mean = 0, norm = 0, dot = 0;
        for (double x : u) mean += x / n;
        for (int i = 0; i < n; i++) { norm += (u[i] - mean) * (u[i] - mean); dot += (u[i] - mean) * s[0][i]; }
        assertEquals(1.0, Math.abs(dot) / Math.sqrt(norm), 1e-3, "first component ∝ the centred planted scores");
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                double p = 0;
                for (int i = 0; i < n; i++) p += s[a][i] * s[b][i];
                assertEquals(a == b ? 1.0 : 0.0, p, 1e-6, "components " + a + ", " + b + " orthonormal");
            }
        }
        assertTrue(s.length == 3);
    }
}

package ai.crate.model.whitebox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateConfig;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LayerMeasuresTest {

    /** The coding rate against the formula as written: n×n matrices, log det by LU with partial pivoting. */
    @Test
    void codingRateMatchesTheDirectFormula() {
        SplittableRandom r = new SplittableRandom(3);
        for (int[] s : new int[][] {{1, 4, 1}, {7, 6, 2}, {17, 12, 3}, {5, 32, 4}}) {
            int n = s[0], width = s[1], heads = s[2], p = width / heads;
            float[] w = new float[3 + n * width];
            for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
            double direct = 0;
            for (int k = 0; k < heads; k++) {
                double[][] x = new double[n][p];
                for (int t = 0; t < n; t++) {
                    double norm = 0;
                    for (int j = 0; j < p; j++) norm += Math.pow(w[3 + t * width + k * p + j], 2);
                    for (int j = 0; j < p; j++) x[t][j] = w[3 + t * width + k * p + j] / Math.sqrt(norm);
                }
                double[][] m = new double[n][n];
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        double dot = 0;
                        for (int c = 0; c < p; c++) dot += x[i][c] * x[j][c];
                        m[i][j] = (i == j ? 1 : 0) + p / (n * LayerMeasures.EPS) * dot;
                    }
                }
                direct += 0.5 * logdetLu(m);
            }
            double ours = LayerMeasures.codingRate(w, 3, n, width, heads);
            assertEquals(direct, ours, 1e-9 * Math.abs(direct), "n=" + n + " width=" + width + " heads=" + heads);
        }
    }

    private static double logdetLu(double[][] a) {
        int n = a.length;
        double logdet = 0;
        for (int c = 0; c < n; c++) {
            int piv = c;
            for (int i = c + 1; i < n; i++) if (Math.abs(a[i][c]) > Math.abs(a[piv][c])) piv = i;
            double[] t = a[c]; a[c] = a[piv]; a[piv] = t;
            logdet += Math.log(Math.abs(a[c][c]));
            for (int i = c + 1; i < n; i++) {
                double f = a[i][c] / a[c][c];
                for (int j = c; j < n; j++) a[i][j] -= f * a[c][j];
            }
        }
        return logdet;
    }

    @Test
    void sparsityCountsExactZeros() {
        float[] v = {0f, 1e-30f, -0f, 2f, 0f, 3f};
        assertEquals(3.0 / 6, LayerMeasures.zeroFraction(v, 0, 6), 0);
        assertEquals(1.0 / 3, LayerMeasures.zeroFraction(v, 3, 3), 0);
    }

    @Test
    void measuresEveryLayerOfAModel() {
        Backend be = new ReferenceBackend();
        CrateConfig c = CrateConfig.of(8, 1, 4, 12, 3, 3, 4);
        Crate model = new Crate(c, be, 1);
        Tensor images = be.empty(5, 1, 8, 8);
        be.randomUniform(images, 2, -1f, 1f);
        LayerMeasures.PerImage m = LayerMeasures.of(model, images);
        assertEquals(3, m.codingRate().length);
        assertEquals(5, m.codingRate()[0].length);
        for (int l = 0; l < 3; l++) {
            for (int i = 0; i < 5; i++) {
                assertTrue(m.codingRate()[l][i] > 0, "coding rate of a non-degenerate layer is positive");
                assertTrue(m.sparsity()[l][i] > 0 && m.sparsity()[l][i] < 1, "ISTA's ReLU zeroes some entries, not all");
            }
        }
    }
}

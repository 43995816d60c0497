package ai.crate.model.whitebox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.nn.Pool;
import ai.crate.model.vit.Vit;
import ai.crate.model.vit.VitConfig;
import java.util.List;
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
        assertEquals(List.of("w"), m.parts());
        assertEquals(3, m.codingRate()[0].length);
        assertEquals(5, m.codingRate()[0][0].length);
        for (int l = 0; l < 3; l++) {
            for (int i = 0; i < 5; i++) {
                assertTrue(m.codingRate()[0][l][i] > 0, "coding rate of a non-degenerate layer is positive");
                assertTrue(m.sparsity()[l][i] > 0 && m.sparsity()[l][i] < 1, "ISTA's ReLU zeroes some entries, not all");
            }
        }
    }

    /**
     * A ViT's queries, keys and values are measured apart, each equal to the coding rate of its own third of the
     * qkv projection (recomputed here from the block's weights); no sparsity, since its MLP is no sparse code.
     */
    @Test
    void measuresAViTsQueriesKeysAndValuesApartAndNoSparsity() {
        Backend be = new ReferenceBackend();
        VitConfig c = new VitConfig(8, 1, 4, 12, 2, 3, 24, 4, Pool.CLS);
        Vit model = new Vit(c, be, 3);
        Tensor images = be.empty(2, 1, 8, 8);
        be.randomUniform(images, 4, -1f, 1f);
        LayerMeasures.PerImage m = LayerMeasures.of(model, images);
        assertEquals(List.of("q", "k", "v"), m.parts());
        assertNull(m.sparsity());
        float[][] qkv = new float[1][];
        model.inference().forward(images, false, (layer, w, z, code) -> { if (layer == 0) qkv[0] = w.toFloatArray(); });
        int n = c.tokens(), d = c.dim();
        for (int part = 0; part < 3; part++) {
            for (int i = 0; i < 2; i++) {
                float[] own = new float[n * d];
                for (int t = 0; t < n; t++) System.arraycopy(qkv[0], (i * n + t) * 3 * d + part * d, own, t * d, d);
                assertEquals(LayerMeasures.codingRate(own, 0, n, d, c.heads()), m.codingRate()[part][0][i], 1e-9,
                        "part " + part + " image " + i);
            }
        }
        assertTrue(m.codingRate()[0][0][0] != m.codingRate()[2][0][0], "queries and values differ");
    }
}

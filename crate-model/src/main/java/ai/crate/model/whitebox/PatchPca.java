package ai.crate.model.whitebox;

/**
 * Principal components of one image's patch features [n, d] (the segmentation paper's view): the leading
 * components of the centred features, from the n × n Gram matrix by power iteration with deflation, in double.
 */
public final class PatchPca {
    private PatchPca() {}

    /**
     * The scores of the first {@code k} components, [k][n] (each unit length; a component's sign is arbitrary).
     * {@code features} holds n rows of width d starting at {@code offset} with row stride {@code stride}.
     */
    public static double[][] scores(float[] features, int offset, int n, int d, int stride, int k) {
        double[][] f = new double[n][d];
        for (int j = 0; j < d; j++) {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += features[offset + i * stride + j];
            mean /= n;
            for (int i = 0; i < n; i++) f[i][j] = features[offset + i * stride + j] - mean;
        }
        double[][] g = new double[n][n];
        for (int a = 0; a < n; a++) {
            for (int b = 0; b <= a; b++) {
                double s = 0;
                for (int j = 0; j < d; j++) s += f[a][j] * f[b][j];
                g[a][b] = g[b][a] = s;
            }
        }
        double[][] out = new double[Math.min(k, n)][];
        for (int c = 0; c < out.length; c++) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) v[i] = 1 + 0.01 * i;            // not orthogonal to any component
            double lambda = 0;
            for (int iter = 0; iter < 500; iter++) {
                double[] w = new double[n];
                for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) w[a] += g[a][b] * v[b];
                double norm = Math.sqrt(dot(w, w));
                if (norm == 0) break;
                for (int a = 0; a < n; a++) w[a] /= norm;
                double change = 1 - Math.abs(dot(w, v));
                v = w;
                lambda = norm;
                if (change < 1e-13) break;
            }
            out[c] = v;
            for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) g[a][b] -= lambda * v[a] * v[b];
        }
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}

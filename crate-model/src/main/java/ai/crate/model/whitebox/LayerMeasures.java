package ai.crate.model.whitebox;

import ai.crate.engine.Tensor;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.nn.Block;
import java.util.List;

/**
 * The two layer-wise measures of the white-box claims, as the official vis_utils define them: the coding rate R^c of
 * each layer's head features (compression: it should fall with depth) and the share of exact zeros in each layer's
 * sparse code, CRATE's ISTA output or CRATE-α's a₂ (sparsification: it should rise). For a model whose attention has untied queries, keys and values (ViT)
 * the coding rate is measured on each of them; sparsity only where the block's feature map is a sparse code
 * ({@link ai.crate.model.nn.FeatureMap#isSparseCode}), since the share of zeros of an MLP's output means nothing.
 */
public final class LayerMeasures {
    /** ε of the coding rate, as the official code. */
    public static final double EPS = 0.01;

    private LayerMeasures() {}

    /**
     * Per part of the head features ({@code parts}: "w" for MSSA's W, or "q", "k", "v"), layer and image the coding
     * rate, [parts][layers][images]; per layer and image the sparsity, [layers][images], or null for a model without
     * an ISTA-type block.
     */
    public record PerImage(List<String> parts, double[][][] codingRate, double[][] sparsity) {}

    /** Runs {@code images} [B, C, H, W] through the model's inference path and measures every layer. */
    public static PerImage of(ImageClassifier model, Tensor images) {
        ClassifierConfig c = model.config();
        Block first = model.blocks().getFirst();
        List<String> parts = first.mixer().headFeatureParts();
        boolean sparse = first.featureMap().isSparseCode();
        int b = images.dim(0), n = c.tokens(), inner = c.heads() * c.headDim(), stride = parts.size() * inner;
        double[][][] rc = new double[parts.size()][c.depth()][b];
        double[][] sp = sparse ? new double[c.depth()][b] : null;
        model.inference().forward(images, false, (layer, w, z, code) -> {
            float[] wv = w.toFloatArray(), cv = sparse ? code.toFloatArray() : null;
            int width = sparse ? code.dim(-1) : 0;
            for (int i = 0; i < b; i++) {
                for (int part = 0; part < parts.size(); part++) {
                    rc[part][layer][i] = codingRate(wv, i * n * stride + part * inner, stride, n, inner, c.heads());
                }
                if (sparse) sp[layer][i] = zeroFraction(cv, i * n * width, n * width);
            }
        });
        return new PerImage(parts, rc, sp);
    }

    /** As {@link #codingRate(float[], int, int, int, int, int)} for rows of exactly {@code width} floats. */
    public static double codingRate(float[] w, int offset, int n, int width, int heads) {
        return codingRate(w, offset, width, n, width, heads);
    }

    /**
     * R^c = ½ Σ_k logdet(I_n + (p/(nε)) X_k X_kᵀ) for one image: the n token rows of its head features [n, K·p]
     * (row t at offset + t·rowStride) split into K heads X_k [n, p], each row scaled to unit length. Computed as
     * logdet(I_p + (p/(nε)) X_kᵀ X_k), equal by Sylvester's identity and p×p instead of n×n, with a Cholesky
     * factorisation in double.
     */
    public static double codingRate(float[] w, int offset, int rowStride, int n, int width, int heads) {
        int p = width / heads;
        double scale = p / (n * EPS), total = 0;
        double[] x = new double[n * p];
        for (int k = 0; k < heads; k++) {
            for (int t = 0; t < n; t++) {
                double norm = 0;
                for (int j = 0; j < p; j++) {
                    double v = w[offset + t * rowStride + k * p + j];
                    x[t * p + j] = v;
                    norm += v * v;
                }
                double inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
                for (int j = 0; j < p; j++) x[t * p + j] *= inv;
            }
            double[] m = new double[p * p];
            for (int i = 0; i < p; i++) {
                for (int j = 0; j <= i; j++) {
                    double s = 0;
                    for (int t = 0; t < n; t++) s += x[t * p + i] * x[t * p + j];
                    m[i * p + j] = m[j * p + i] = scale * s + (i == j ? 1 : 0);
                }
            }
            total += logdetCholesky(m, p);
        }
        return 0.5 * total;
    }

    /** log det of a symmetric positive-definite matrix (row-major, overwritten) as 2 Σ log Lᵢᵢ of its Cholesky L. */
    static double logdetCholesky(double[] a, int n) {
        double logdet = 0;
        for (int j = 0; j < n; j++) {
            double d = a[j * n + j];
            for (int k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
            if (!(d > 0)) throw new ArithmeticException("matrix is not positive definite at column " + j);
            double l = Math.sqrt(d);
            a[j * n + j] = l;
            logdet += 2 * StrictMath.log(l);
            for (int i = j + 1; i < n; i++) {
                double s = a[i * n + j];
                for (int k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
                a[i * n + j] = s / l;
            }
        }
        return logdet;
    }

    /** The share of exactly-zero entries in v[offset, offset + len). */
    public static double zeroFraction(float[] v, int offset, int len) {
        int zeros = 0;
        for (int i = offset; i < offset + len; i++) if (v[i] == 0f) zeros++;
        return (double) zeros / len;
    }

    public static double mean(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }

    /** Population standard deviation (numpy's default, as the official plots). */
    public static double std(double[] v) {
        double m = mean(v), s = 0;
        for (double x : v) s += (x - m) * (x - m);
        return Math.sqrt(s / v.length);
    }
}

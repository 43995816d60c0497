package ai.crate.engine;

/**
 * The reference backend's MSSA and ISTA: plain loops accumulating in double, written from the equations rather than
 * composed, so they are the oracle the compositions in {@link FusedOps} and every backend's kernels are held to.
 */
final class ReferenceFusedOps extends FusedOps {
    private final ReferenceBackend ref;

    ReferenceFusedOps(ReferenceBackend backend) {
        super(backend);
        this.ref = backend;
    }

    @Override
    public void mssaForward(Tensor w, int heads, float scale, Tensor out, Tensor attn) {
        int p = OpChecks.mssa(ref, "mssaForward", w, heads, scale, null, out, attn);
        int batch = w.dim(0), n = w.dim(1), width = w.dim(2);
        float[] ws = ref.toArray(w), o = ref.data("mssaForward", out);
        float[] at = attn == null ? null : ref.data("mssaForward", attn);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                double[][] a = attention(ws, b * n * width + h * p, b * n * width + h * p, width, n, p, scale);
                for (int i = 0; i < n; i++) {
                    for (int c = 0; c < p; c++) {
                        double sum = 0;
                        for (int j = 0; j < n; j++) sum += a[i][j] * ws[(b * n + j) * width + h * p + c];
                        o[(int) out.offset() + (b * n + i) * width + h * p + c] = (float) sum;
                    }
                    if (at != null) {
                        int row = (int) attn.offset() + ((b * heads + h) * n + i) * n;
                        for (int j = 0; j < n; j++) at[row + j] = (float) a[i][j];
                    }
                }
            }
        }
    }

    /** The oracle always recomputes A in double: a saved A would only save time. */
    @Override
    public void mssaBackward(Tensor w, Tensor attn, Tensor dout, int heads, float scale, Tensor dw) {
        int p = OpChecks.mssa(ref, "mssaBackward", w, heads, scale, dout, dw, attn);
        int batch = w.dim(0), n = w.dim(1), width = w.dim(2);
        float[] ws = ref.toArray(w), dos = ref.toArray(dout), g = ref.data("mssaBackward", dw);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                double[][] a = attention(ws, b * n * width + h * p, b * n * width + h * p, width, n, p, scale);
                int base = b * n * width + h * p;
                double[][] ds = new double[n][n];
                for (int i = 0; i < n; i++) {
                    double[] da = new double[n];
                    double dot = 0;
                    for (int j = 0; j < n; j++) {
                        for (int c = 0; c < p; c++) da[j] += (double) dos[base + i * width + c] * ws[base + j * width + c];
                        dot += da[j] * a[i][j];
                    }
                    for (int j = 0; j < n; j++) ds[i][j] = a[i][j] * (da[j] - dot);
                }
                for (int k = 0; k < n; k++) {
                    for (int c = 0; c < p; c++) {
                        double sum = 0;
                        for (int i = 0; i < n; i++) sum += a[i][k] * dos[base + i * width + c];
                        for (int j = 0; j < n; j++) sum += scale * (ds[k][j] + ds[j][k]) * ws[base + j * width + c];
                        g[(int) dw.offset() + base + k * width + c] = (float) sum;
                    }
                }
            }
        }
    }

    @Override
    public void mhsaForward(Tensor qkv, int heads, float scale, Tensor out, Tensor attn) {
        int p = OpChecks.mhsa(ref, "mhsaForward", qkv, heads, scale, null, out, attn);
        int batch = qkv.dim(0), n = qkv.dim(1), width = heads * p, stride = 3 * width;
        float[] x = ref.toArray(qkv), o = ref.data("mhsaForward", out);
        float[] at = attn == null ? null : ref.data("mhsaForward", attn);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int q = b * n * stride + h * p, v = q + 2 * width;
                double[][] a = attention(x, q, q + width, stride, n, p, scale);
                for (int i = 0; i < n; i++) {
                    for (int c = 0; c < p; c++) {
                        double sum = 0;
                        for (int j = 0; j < n; j++) sum += a[i][j] * x[v + j * stride + c];
                        o[(int) out.offset() + (b * n + i) * width + h * p + c] = (float) sum;
                    }
                    if (at != null) {
                        int row = (int) attn.offset() + ((b * heads + h) * n + i) * n;
                        for (int j = 0; j < n; j++) at[row + j] = (float) a[i][j];
                    }
                }
            }
        }
    }

    /** The oracle always recomputes A in double. */
    @Override
    public void mhsaBackward(Tensor qkv, Tensor attn, Tensor dout, int heads, float scale, Tensor dqkv) {
        int p = OpChecks.mhsa(ref, "mhsaBackward", qkv, heads, scale, dout, dqkv, attn);
        int batch = qkv.dim(0), n = qkv.dim(1), width = heads * p, stride = 3 * width;
        float[] x = ref.toArray(qkv), dos = ref.toArray(dout), g = ref.data("mhsaBackward", dqkv);
        int go = (int) dqkv.offset();
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int q = b * n * stride + h * p, k = q + width, v = q + 2 * width, d = b * n * width + h * p;
                double[][] a = attention(x, q, k, stride, n, p, scale);
                double[][] ds = new double[n][n];
                for (int i = 0; i < n; i++) {
                    double[] da = new double[n];
                    double dot = 0;
                    for (int j = 0; j < n; j++) {
                        for (int c = 0; c < p; c++) da[j] += (double) dos[d + i * width + c] * x[v + j * stride + c];
                        dot += da[j] * a[i][j];
                    }
                    for (int j = 0; j < n; j++) ds[i][j] = a[i][j] * (da[j] - dot);
                }
                for (int i = 0; i < n; i++) {
                    for (int c = 0; c < p; c++) {
                        double dq = 0, dk = 0, dv = 0;
                        for (int j = 0; j < n; j++) {
                            dq += ds[i][j] * x[k + j * stride + c];
                            dk += ds[j][i] * x[q + j * stride + c];
                            dv += a[j][i] * dos[d + j * width + c];
                        }
                        g[go + q + i * stride + c] = (float) (scale * dq);
                        g[go + k + i * stride + c] = (float) (scale * dk);
                        g[go + v + i * stride + c] = (float) dv;
                    }
                }
            }
        }
    }

    /** softmax(scale · Q Kᵀ) of one (batch, head) in double, Q and K [n, p] at q and k with row stride {@code stride}. */
    private static double[][] attention(float[] x, int q, int k, int stride, int n, int p, float scale) {
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int c = 0; c < p; c++) dot += (double) x[q + i * stride + c] * x[k + j * stride + c];
                a[i][j] = scale * dot;
                max = Math.max(max, a[i][j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) sum += a[i][j] = StrictMath.exp(a[i][j] - max);
            for (int j = 0; j < n; j++) a[i][j] /= sum;
        }
        return a;
    }

    @Override
    public void istaForward(Tensor x, Tensor dict, float eta, float lambda, Tensor out) {
        int d = OpChecks.istaForward(ref, x, dict, eta, lambda, out);
        int rows = (int) (x.size() / Math.max(d, 1));
        float[] xs = ref.toArray(x), ds = ref.toArray(dict), o = ref.data("istaForward", out);
        double[][] r = istaResidual(xs, ds, rows, d);
        for (int m = 0; m < rows; m++) {
            for (int i = 0; i < d; i++) {
                double sum = 0;
                for (int j = 0; j < d; j++) sum += r[m][j] * ds[j * d + i];
                double pre = xs[m * d + i] + eta * sum - (double) eta * lambda;
                o[(int) out.offset() + m * d + i] = (float) Math.max(pre, 0.0);
            }
        }
    }

    /** The oracle works in the official two-GEMM form, R = x − x Dᵀ and dR = G Dᵀ, in double. */
    @Override
    public void istaBackward(Tensor x, Tensor dict, Tensor out, Tensor dout, float eta, Tensor dx, Tensor dDict) {
        int d = OpChecks.istaBackward(ref, x, dict, out, dout, eta, dx, dDict);
        int rows = (int) (x.size() / Math.max(d, 1));
        float[] xs = ref.toArray(x), ds = ref.toArray(dict), os = ref.toArray(out), dos = ref.toArray(dout);
        float[] gx = dx == null ? null : ref.data("istaBackward", dx);
        float[] gd = dDict == null ? null : ref.data("istaBackward", dDict);
        double[][] r = istaResidual(xs, ds, rows, d);
        double[][] g = new double[rows][d], dr = new double[rows][d];
        for (int m = 0; m < rows; m++) {
            for (int i = 0; i < d; i++) g[m][i] = os[m * d + i] > 0 ? dos[m * d + i] : 0.0;
            for (int j = 0; j < d; j++) {
                double sum = 0;
                for (int i = 0; i < d; i++) sum += g[m][i] * ds[j * d + i];
                dr[m][j] = sum;
            }
            for (int i = 0; gx != null && i < d; i++) {
                double drD = 0;
                for (int j = 0; j < d; j++) drD += dr[m][j] * ds[j * d + i];
                gx[(int) dx.offset() + m * d + i] = (float) (g[m][i] + eta * (dr[m][i] - drD));
            }
        }
        for (int j = 0; gd != null && j < d; j++) {
            for (int i = 0; i < d; i++) {
                double sum = 0;
                for (int m = 0; m < rows; m++) sum += r[m][j] * g[m][i] - dr[m][j] * xs[m * d + i];
                gd[(int) dDict.offset() + j * d + i] = (float) (eta * sum);
            }
        }
    }

    @Override
    public void overcompleteIstaForward(Tensor x, Tensor dict, Tensor dict1, float eta, float lambda, Tensor out,
                                        Tensor code1, Tensor code2, Tensor residual) {
        String op = "overcompleteIstaForward";
        int p = OpChecks.overcompleteIsta(ref, op, x, dict, dict1, eta, lambda, null, out, code1, code2, residual);
        int d = x.dim(-1), rows = p == 0 ? 0 : (int) (x.size() / Math.max(d, 1));
        OvercompleteCodes c = new OvercompleteCodes(ref.toArray(x), ref.toArray(dict), rows, d, p, eta, lambda);
        float[] d1 = ref.toArray(dict1), o = ref.data(op, out);
        for (int m = 0; m < rows; m++) {
            for (int i = 0; i < d; i++) {
                double sum = 0;
                for (int k = 0; k < p; k++) sum += c.a2[m][k] * d1[i * p + k];
                o[(int) out.offset() + m * d + i] = (float) sum;
            }
        }
        if (p == 0) ref.fill(out, 0f);
        store(op, code1, c.a1);
        store(op, code2, c.a2);
        store(op, residual, c.r);
    }

    /** The oracle recomputes a1, r and a2 in double from x; the saved ones are only checked for shape. */
    @Override
    public void overcompleteIstaBackward(Tensor x, Tensor dict, Tensor dict1, Tensor code1, Tensor code2,
                                         Tensor residual, Tensor dout, float eta, float lambda, Tensor dx,
                                         Tensor dDict, Tensor dDict1) {
        String op = "overcompleteIstaBackward";
        int p = OpChecks.overcompleteIsta(ref, op, x, dict, dict1, eta, lambda, dout, null, code1, code2, residual);
        OpChecks.overcompleteIstaGradients(ref, op, x, dict, code1, code2, residual, dx, dDict, dDict1);
        int d = x.dim(-1), rows = (int) (x.size() / Math.max(d, 1));
        float[] xs = ref.toArray(x), ds = ref.toArray(dict), d1 = ref.toArray(dict1), dy = ref.toArray(dout);
        OvercompleteCodes c = new OvercompleteCodes(xs, ds, rows, d, p, eta, lambda);
        double[][] g2 = new double[rows][p], dr = new double[rows][d], g1 = new double[rows][p];
        for (int m = 0; m < rows; m++) {
            for (int k = 0; k < p; k++) {
                double sum = 0;
                for (int i = 0; i < d; i++) sum += dy[m * d + i] * (double) d1[i * p + k];
                g2[m][k] = c.a2[m][k] > 0 ? sum : 0;
            }
            for (int i = 0; i < d; i++) {
                double sum = 0;
                for (int k = 0; k < p; k++) sum += g2[m][k] * ds[i * p + k];
                dr[m][i] = -eta * sum;
            }
            for (int k = 0; k < p; k++) {
                double sum = g2[m][k];
                for (int i = 0; i < d; i++) sum += dr[m][i] * ds[i * p + k];
                g1[m][k] = c.a1[m][k] > 0 ? sum : 0;
            }
        }
        double[][] gx = new double[rows][d], gd = new double[d][p], gd1 = new double[d][p];
        for (int m = 0; m < rows; m++) {
            for (int i = 0; i < d; i++) {
                double sum = 0;
                for (int k = 0; k < p; k++) sum += g1[m][k] * ds[i * p + k];
                gx[m][i] = -dr[m][i] + eta * sum;
                for (int k = 0; k < p; k++) {
                    gd[i][k] += -eta * c.r[m][i] * g2[m][k] + dr[m][i] * c.a1[m][k] + eta * xs[m * d + i] * g1[m][k];
                    gd1[i][k] += dy[m * d + i] * c.a2[m][k];
                }
            }
        }
        store(op, dx, gx);
        store(op, dDict, gd);
        store(op, dDict1, gd1);
    }

    /** a1, r = a1 Dᵀ − x and a2 of CRATE-α's block, in double. */
    private static final class OvercompleteCodes {
        final double[][] a1, a2, r;

        OvercompleteCodes(float[] x, float[] dict, int rows, int d, int p, float eta, float lambda) {
            a1 = new double[rows][p];
            a2 = new double[rows][p];
            r = new double[rows][d];
            double shift = (double) eta * lambda;
            for (int m = 0; m < rows; m++) {
                for (int k = 0; k < p; k++) {
                    double u = 0;
                    for (int i = 0; i < d; i++) u += (double) x[m * d + i] * dict[i * p + k];
                    a1[m][k] = Math.max(eta * u - shift, 0);
                }
                for (int i = 0; i < d; i++) {
                    double sum = -x[m * d + i];
                    for (int k = 0; k < p; k++) sum += a1[m][k] * dict[i * p + k];
                    r[m][i] = sum;
                }
                for (int k = 0; k < p; k++) {
                    double g = 0;
                    for (int i = 0; i < d; i++) g += r[m][i] * dict[i * p + k];
                    a2[m][k] = Math.max(a1[m][k] - eta * g - shift, 0);
                }
            }
        }
    }

    /** Writes {@code values} (rows × width) into the contiguous {@code t}, if t is not null. */
    private void store(String op, Tensor t, double[][] values) {
        if (t == null) return;
        float[] o = ref.data(op, t);
        int at = (int) t.offset();
        for (double[] row : values) for (double v : row) o[at++] = (float) v;
    }

    /** R = x − x Dᵀ in double. */
    private static double[][] istaResidual(float[] x, float[] dict, int rows, int d) {
        double[][] r = new double[rows][d];
        for (int m = 0; m < rows; m++) {
            for (int i = 0; i < d; i++) {
                double sum = 0;
                for (int j = 0; j < d; j++) sum += (double) x[m * d + j] * dict[i * d + j];
                r[m][i] = x[m * d + i] - sum;
            }
        }
        return r;
    }
}

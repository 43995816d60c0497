package ai.crate.engine;

/**
 * Plain Java loops, one element at a time, sums in double: simple enough to be obviously right, and the oracle
 * every other backend is tested against. Not fast, by design.
 */
public class ReferenceBackend extends CpuBackend {

    @Override
    public String name() { return "reference"; }

    // ---- fill, copy, random ------------------------------------------------------------------------------------

    @Override
    public void fill(Tensor out, float value) {
        float[] o = data("fill", out);
        OpChecks.contiguous("fill", "output", out);
        for (int i = 0; i < out.size(); i++) o[(int) out.offset() + i] = value;
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        float[] s = data("copy", src), d = data("copy", dst);
        Shapes.requireSameShape("copy", src, "source", dst, "destination");
        int[] shape = src.shape(), ss = src.strides(), ds = dst.strides();
        for (long i = 0; i < src.size(); i++) {
            d[(int) (dst.offset() + Layout.offsetOf(i, shape, ds))] =
                    s[(int) (src.offset() + Layout.offsetOf(i, shape, ss))];
        }
    }

    @Override
    public void randomUniform(Tensor out, long seed, float low, float high) {
        float[] o = data("randomUniform", out);
        OpChecks.contiguous("randomUniform", "output", out);
        for (int i = 0; i < out.size(); i++) o[(int) out.offset() + i] = CounterRandom.uniform(seed, i, low, high);
    }

    @Override
    public void randomNormal(Tensor out, long seed, float mean, float std) {
        float[] o = data("randomNormal", out);
        OpChecks.contiguous("randomNormal", "output", out);
        for (int i = 0; i < out.size(); i++) {
            o[(int) out.offset() + i] = mean + std * CounterRandom.normal(seed, i);
        }
    }

    // ---- matrix products ---------------------------------------------------------------------------------------

    @Override
    public void gemm(float alpha, Tensor a, boolean transA, Tensor b, boolean transB, float beta, Tensor c) {
        float[] ad = data("gemm", a), bd = data("gemm", b), cd = data("gemm", c);
        Layout.Gemm g = Layout.gemm(a, transA, b, transB, c);
        for (int p = 0; p < g.batch(); p++) {
            long ao = g.aOffsets()[p], bo = g.bOffsets()[p], co = g.cOffset(c.offset(), p);
            for (int i = 0; i < g.m(); i++) {
                for (int j = 0; j < g.n(); j++) {
                    double sum = 0;
                    for (int k = 0; k < g.k(); k++) {
                        sum += (double) ad[(int) (ao + (long) i * g.aRowStride() + (long) k * g.aColStride())]
                                * bd[(int) (bo + (long) k * g.bRowStride() + (long) j * g.bColStride())];
                    }
                    int ci = (int) (co + (long) i * g.n() + j);
                    cd[ci] = (float) (alpha * sum + (beta == 0f ? 0.0 : (double) beta * cd[ci]));
                }
            }
        }
    }

    // ---- elementwise -------------------------------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        OpChecks.sameBackend("unary " + op, this, x, out);
        OpChecks.elementwise("unary " + op, x, out);
        float[] xs = toArray(x), o = data("unary", out);
        for (int i = 0; i < xs.length; i++) o[(int) out.offset() + i] = (float) ScalarMath.apply(op, xs[i]);
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) {
        OpChecks.sameBackend("unaryBackward " + op, this, x, dy, dx);
        OpChecks.elementwise("unaryBackward " + op, x, dx);
        Shapes.requireSameShape("unaryBackward " + op, x, "x", dy, "dy");
        float[] xs = toArray(x), dys = toArray(dy), o = data("unaryBackward", dx);
        for (int i = 0; i < xs.length; i++) {
            o[(int) dx.offset() + i] = (float) (dys[i] * ScalarMath.derivative(op, xs[i]));
        }
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        int[] shape = OpChecks.binary("binary " + op, a, b, out);
        float[] ad = data("binary", a), bd = data("binary", b), o = data("binary", out);
        int[] as = Shapes.broadcastStrides(a, shape, "binary " + op);
        int[] bs = Shapes.broadcastStrides(b, shape, "binary " + op);
        for (long i = 0; i < out.size(); i++) {
            double av = ad[(int) (a.offset() + Layout.offsetOf(i, shape, as))];
            double bv = bd[(int) (b.offset() + Layout.offsetOf(i, shape, bs))];
            o[(int) (out.offset() + i)] = (float) ScalarMath.apply(op, av, bv);
        }
    }

    @Override
    public void affine(Tensor x, float scale, float shift, Tensor out) {
        OpChecks.sameBackend("affine", this, x, out);
        OpChecks.elementwise("affine", x, out);
        float[] xs = toArray(x), o = data("affine", out);
        for (int i = 0; i < xs.length; i++) o[(int) out.offset() + i] = (float) ((double) xs[i] * scale + shift);
    }

    // ---- reductions --------------------------------------------------------------------------------------------

    @Override
    public void reduce(ReduceOp op, Tensor x, int axis, Tensor out) {
        OpChecks.sameBackend("reduce " + op, this, x, out);
        int ax = OpChecks.reduce("reduce " + op, x, axis, out);
        float[] xs = toArray(x), o = data("reduce", out);
        int[] shape = x.shape();
        int outer = Layout.outer(shape, ax), len = shape[ax], inner = Layout.inner(shape, ax);
        for (int p = 0; p < outer; p++) {
            for (int q = 0; q < inner; q++) {
                double acc = op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : 0.0;
                for (int j = 0; j < len; j++) {
                    double v = xs[(p * len + j) * inner + q];
                    acc = op == ReduceOp.MAX ? Math.max(acc, v) : acc + v;
                }
                if (op == ReduceOp.MEAN) acc /= len;
                o[(int) out.offset() + p * inner + q] = (float) acc;
            }
        }
    }

    // ---- softmax family ----------------------------------------------------------------------------------------

    @Override
    public void softmax(Tensor x, Tensor out) { softmaxRows("softmax", x, out, false); }

    @Override
    public void logSoftmax(Tensor x, Tensor out) { softmaxRows("logSoftmax", x, out, true); }

    private void softmaxRows(String op, Tensor x, Tensor out, boolean log) {
        OpChecks.sameBackend(op, this, x, out);
        int c = OpChecks.rows(op, x, out);
        float[] xs = toArray(x), o = data(op, out);
        int base = (int) out.offset();
        for (int r = 0; r * c < xs.length; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) max = Math.max(max, xs[r * c + j]);
            double sum = 0;
            for (int j = 0; j < c; j++) sum += StrictMath.exp(xs[r * c + j] - max);
            for (int j = 0; j < c; j++) {
                double z = xs[r * c + j] - max;
                o[base + r * c + j] = (float) (log ? z - StrictMath.log(sum) : StrictMath.exp(z) / sum);
            }
        }
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        OpChecks.sameBackend("softmaxBackward", this, y, dy, dx);
        int c = OpChecks.rows("softmaxBackward", y, dx);
        Shapes.requireSameShape("softmaxBackward", y, "y", dy, "dy");
        float[] ys = toArray(y), dys = toArray(dy), o = data("softmaxBackward", dx);
        for (int r = 0; r * c < ys.length; r++) {
            double dot = 0;
            for (int j = 0; j < c; j++) dot += (double) dys[r * c + j] * ys[r * c + j];
            for (int j = 0; j < c; j++) {
                o[(int) dx.offset() + r * c + j] = (float) (ys[r * c + j] * (dys[r * c + j] - dot));
            }
        }
    }

    @Override
    public void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        OpChecks.sameBackend("logSoftmaxBackward", this, y, dy, dx);
        int c = OpChecks.rows("logSoftmaxBackward", y, dx);
        Shapes.requireSameShape("logSoftmaxBackward", y, "y", dy, "dy");
        float[] ys = toArray(y), dys = toArray(dy), o = data("logSoftmaxBackward", dx);
        for (int r = 0; r * c < ys.length; r++) {
            double sum = 0;
            for (int j = 0; j < c; j++) sum += dys[r * c + j];
            for (int j = 0; j < c; j++) {
                o[(int) dx.offset() + r * c + j] = (float) (dys[r * c + j] - StrictMath.exp(ys[r * c + j]) * sum);
            }
        }
    }

    // ---- normalisation -----------------------------------------------------------------------------------------

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out, Tensor mean, Tensor rstd) {
        OpChecks.sameBackend("layerNorm", this, x, gamma, beta, out, mean, rstd);
        OpChecks.layerNorm("layerNorm", x, gamma, beta, out, mean, rstd);
        float[] xs = toArray(x), g = toArray(gamma), bt = toArray(beta);
        float[] o = data("layerNorm", out), mu = data("layerNorm", mean), rs = data("layerNorm", rstd);
        int c = x.dim(-1);
        for (int r = 0; r * c < xs.length; r++) {
            double m = 0;
            for (int j = 0; j < c; j++) m += xs[r * c + j];
            m /= c;
            double v = 0;
            for (int j = 0; j < c; j++) { double d = xs[r * c + j] - m; v += d * d; }
            v /= c;
            double inv = 1.0 / Math.sqrt(v + eps);
            for (int j = 0; j < c; j++) {
                o[(int) out.offset() + r * c + j] = (float) ((xs[r * c + j] - m) * inv * g[j] + bt[j]);
            }
            mu[(int) mean.offset() + r] = (float) m;
            rs[(int) rstd.offset() + r] = (float) inv;
        }
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dx, Tensor dgamma, Tensor dbeta) {
        OpChecks.sameBackend("layerNormBackward", this, dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
        OpChecks.layerNormBackward("layerNormBackward", dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
        float[] xs = toArray(x), dys = toArray(dy), g = toArray(gamma), mu = toArray(mean), rs = toArray(rstd);
        float[] o = data("layerNormBackward", dx);
        int c = x.dim(-1);
        double[] dg = new double[c], db = new double[c];
        for (int r = 0; r * c < xs.length; r++) {
            // dx = rstd · (dŷ − mean(dŷ) − x̂ · mean(dŷ ⊙ x̂)) with dŷ = dy ⊙ γ and x̂ the normalised input.
            double sumD = 0, sumDX = 0;
            for (int j = 0; j < c; j++) {
                double xhat = (xs[r * c + j] - mu[r]) * (double) rs[r];
                double dhat = (double) dys[r * c + j] * g[j];
                sumD += dhat;
                sumDX += dhat * xhat;
                dg[j] += dys[r * c + j] * xhat;
                db[j] += dys[r * c + j];
            }
            for (int j = 0; j < c; j++) {
                double xhat = (xs[r * c + j] - mu[r]) * (double) rs[r];
                double dhat = (double) dys[r * c + j] * g[j];
                o[(int) dx.offset() + r * c + j] = (float) (rs[r] * (dhat - sumD / c - xhat * sumDX / c));
            }
        }
        float[] dgo = data("layerNormBackward", dgamma), dbo = data("layerNormBackward", dbeta);
        for (int j = 0; j < c; j++) {
            dgo[(int) dgamma.offset() + j] = (float) dg[j];
            dbo[(int) dbeta.offset() + j] = (float) db[j];
        }
    }

    // ---- loss --------------------------------------------------------------------------------------------------

    @Override
    public void crossEntropy(Tensor logits, int[] labels, float smoothing, Tensor losses) {
        OpChecks.sameBackend("crossEntropy", this, logits, losses);
        OpChecks.crossEntropy("crossEntropy", logits, labels, smoothing, losses);
        OpChecks.contiguous("crossEntropy", "losses", losses);
        float[] z = toArray(logits), o = data("crossEntropy", losses);
        int n = logits.dim(0), c = logits.dim(1);
        for (int r = 0; r < n; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) max = Math.max(max, z[r * c + j]);
            double sum = 0, sumLogits = 0;
            for (int j = 0; j < c; j++) { sum += StrictMath.exp(z[r * c + j] - max); sumLogits += z[r * c + j]; }
            double logSumExp = max + StrictMath.log(sum);
            // −Σ target·logp = (1−ε)(lse − z_y) + (ε/C)·Σ_j (lse − z_j)
            double nll = logSumExp - z[r * c + labels[r]];
            double smooth = logSumExp - sumLogits / c;
            o[(int) losses.offset() + r] = (float) ((1.0 - smoothing) * nll + smoothing * smooth);
        }
    }

    @Override
    public void crossEntropyBackward(Tensor logits, int[] labels, float smoothing, Tensor dlosses, Tensor dlogits) {
        OpChecks.sameBackend("crossEntropyBackward", this, logits, dlosses, dlogits);
        OpChecks.crossEntropy("crossEntropyBackward", logits, labels, smoothing, dlosses);
        OpChecks.elementwise("crossEntropyBackward", logits, dlogits);
        float[] z = toArray(logits), dl = toArray(dlosses), o = data("crossEntropyBackward", dlogits);
        int n = logits.dim(0), c = logits.dim(1);
        for (int r = 0; r < n; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) max = Math.max(max, z[r * c + j]);
            double sum = 0;
            for (int j = 0; j < c; j++) sum += StrictMath.exp(z[r * c + j] - max);
            for (int j = 0; j < c; j++) {
                double target = smoothing / c + (j == labels[r] ? 1.0 - smoothing : 0.0);
                double p = StrictMath.exp(z[r * c + j] - max) / sum;
                o[(int) dlogits.offset() + r * c + j] = (float) ((p - target) * dl[r]);
            }
        }
    }

    // ---- indexing ----------------------------------------------------------------------------------------------

    @Override
    public void gather(Tensor x, int axis, int[] index, Tensor out) {
        OpChecks.sameBackend("gather", this, x, out);
        int ax = OpChecks.gather("gather", x, axis, index, out);
        OpChecks.contiguous("gather", "output", out);
        float[] xs = toArray(x), o = data("gather", out);
        int[] xShape = x.shape();
        int outer = Layout.outer(xShape, ax), inner = Layout.inner(xShape, ax);
        int srcLen = xShape[ax], dstLen = out.dim(ax);
        for (int p = 0; p < outer; p++) {
            for (int j = 0; j < dstLen; j++) {
                int from = index[p * dstLen + j];
                for (int q = 0; q < inner; q++) {
                    o[(int) out.offset() + (p * dstLen + j) * inner + q] = xs[(p * srcLen + from) * inner + q];
                }
            }
        }
    }

    @Override
    public void scatterAdd(Tensor src, int axis, int[] index, Tensor out) {
        OpChecks.sameBackend("scatterAdd", this, src, out);
        int ax = OpChecks.gather("scatterAdd", out, axis, index, src);
        OpChecks.contiguous("scatterAdd", "output", out);
        float[] s = toArray(src), o = data("scatterAdd", out);
        int[] oShape = out.shape();
        int outer = Layout.outer(oShape, ax), inner = Layout.inner(oShape, ax);
        int dstLen = oShape[ax], srcLen = src.dim(ax);
        for (int p = 0; p < outer; p++) {
            for (int j = 0; j < srcLen; j++) {
                int to = index[p * srcLen + j];
                for (int q = 0; q < inner; q++) {
                    o[(int) out.offset() + (p * dstLen + to) * inner + q] += s[(p * srcLen + j) * inner + q];
                }
            }
        }
    }

    // ---- fused ops ---------------------------------------------------------------------------------------------

    private final FusedOps fused = new ReferenceFusedOps(this);

    /** MSSA and ISTA as direct loops in double (the oracle); the norms and optimizer steps as composed. */
    @Override
    public FusedOps fused() { return fused; }
}

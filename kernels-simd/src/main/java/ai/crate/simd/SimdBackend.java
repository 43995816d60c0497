package ai.crate.simd;

import ai.crate.engine.BinaryOp;
import ai.crate.engine.CpuBackend;
import ai.crate.engine.Layout;
import ai.crate.engine.OpChecks;
import ai.crate.engine.ReduceOp;
import ai.crate.engine.Shapes;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;

/**
 * Every op with the Java Vector API on {@code FloatVector.SPECIES_PREFERRED}, threaded on the backend's own pool.
 * Kernels live one family per file ({@link SimdGemm}, {@link SimdElementwise}, {@link SimdRows}, {@link
 * SimdIndexing}, {@link SimdRandom}); this class validates arguments and hands each kernel plain arrays and offsets.
 */
public final class SimdBackend extends CpuBackend implements AutoCloseable {
    private final Parallel parallel;
    private final SimdGemm gemm;
    private final SimdElementwise elementwise;
    private final SimdRows rows;
    private final SimdFusedOps fused;

    /** Threads from {@code -Dcrate.threads}, else one per available processor. */
    public SimdBackend() { this(Parallel.defaultThreads()); }

    public SimdBackend(int threads) {
        this.parallel = new Parallel(threads);
        this.gemm = new SimdGemm(parallel);
        this.elementwise = new SimdElementwise(parallel);
        this.rows = new SimdRows(parallel);
        this.fused = new SimdFusedOps(this, new SimdAttention(parallel, gemm));
    }

    @Override
    public String name() { return "simd"; }

    public int threads() { return parallel.threads(); }

    /** Lanes per vector in this JVM's preferred species (16 for 512-bit AVX-512). */
    public static int lanes() { return VectorMath.S.length(); }

    @Override
    public void close() { parallel.close(); }

    // ---- fill, copy, random ------------------------------------------------------------------------------------

    @Override
    public void fill(Tensor out, float value) {
        OpChecks.sameBackend("fill", this, out);
        OpChecks.contiguous("fill", "output", out);
        elementwise.fill(data("fill", out), (int) out.offset(), (int) out.size(), value);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        OpChecks.sameBackend("copy", this, src, dst);
        Shapes.requireSameShape("copy", src, "source", dst, "destination");
        SimdIndexing.copy(parallel, data("copy", src), src, data("copy", dst), dst);
    }

    @Override
    public void randomUniform(Tensor out, long seed, float low, float high) {
        OpChecks.contiguous("randomUniform", "output", out);
        SimdRandom.uniform(parallel, data("randomUniform", out), (int) out.offset(), (int) out.size(), seed, low, high);
    }

    @Override
    public void randomNormal(Tensor out, long seed, float mean, float std) {
        OpChecks.contiguous("randomNormal", "output", out);
        SimdRandom.normal(parallel, data("randomNormal", out), (int) out.offset(), (int) out.size(), seed, mean, std);
    }

    // ---- matrix products ---------------------------------------------------------------------------------------

    @Override
    public void gemm(float alpha, Tensor a, boolean transA, Tensor b, boolean transB, float beta, Tensor c) {
        float[] ad = data("gemm", a), bd = data("gemm", b), cd = data("gemm", c);
        Layout.Gemm g = Layout.gemm(a, transA, b, transB, c);
        gemm.gemm(alpha, ad, bd, cd, (int) c.offset(), g, beta);
    }

    // ---- elementwise -------------------------------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        OpChecks.sameBackend("unary " + op, this, x, out);
        OpChecks.elementwise("unary " + op, x, out);
        Tensor xc = x.contiguous();
        elementwise.unary(op, data("unary", xc), (int) xc.offset(), data("unary", out), (int) out.offset(),
                (int) out.size());
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) {
        OpChecks.sameBackend("unaryBackward " + op, this, x, dy, dx);
        OpChecks.elementwise("unaryBackward " + op, x, dx);
        Shapes.requireSameShape("unaryBackward " + op, x, "x", dy, "dy");
        Tensor xc = x.contiguous(), dyc = dy.contiguous();
        elementwise.unaryBackward(op, data("unaryBackward", xc), (int) xc.offset(), data("unaryBackward", dyc),
                (int) dyc.offset(), data("unaryBackward", dx), (int) dx.offset(), (int) dx.size());
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        int[] shape = OpChecks.binary("binary " + op, a, b, out);
        OpChecks.sameBackend("binary " + op, this, a, b, out);
        elementwise.binary(op, a, b, out, shape);
    }

    @Override
    public void affine(Tensor x, float scale, float shift, Tensor out) {
        OpChecks.sameBackend("affine", this, x, out);
        OpChecks.elementwise("affine", x, out);
        Tensor xc = x.contiguous();
        elementwise.affine(data("affine", xc), (int) xc.offset(), data("affine", out), (int) out.offset(),
                (int) out.size(), scale, shift);
    }

    // ---- reductions, rows, losses ------------------------------------------------------------------------------

    @Override
    public void reduce(ReduceOp op, Tensor x, int axis, Tensor out) {
        OpChecks.sameBackend("reduce " + op, this, x, out);
        int ax = OpChecks.reduce("reduce " + op, x, axis, out);
        Tensor xc = x.contiguous();
        int[] s = x.shape();
        rows.reduce(op, data("reduce", xc), (int) xc.offset(), Layout.outer(s, ax), s[ax], Layout.inner(s, ax),
                data("reduce", out), (int) out.offset());
    }

    @Override
    public void softmax(Tensor x, Tensor out) {
        OpChecks.sameBackend("softmax", this, x, out);
        int c = OpChecks.rows("softmax", x, out);
        Tensor xc = x.contiguous();
        rows.softmax(data("softmax", xc), (int) xc.offset(), data("softmax", out), (int) out.offset(),
                rowCount(x, c), c, false);
    }

    @Override
    public void logSoftmax(Tensor x, Tensor out) {
        OpChecks.sameBackend("logSoftmax", this, x, out);
        int c = OpChecks.rows("logSoftmax", x, out);
        Tensor xc = x.contiguous();
        rows.softmax(data("logSoftmax", xc), (int) xc.offset(), data("logSoftmax", out), (int) out.offset(),
                rowCount(x, c), c, true);
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        softmaxBackward("softmaxBackward", y, dy, dx, false);
    }

    @Override
    public void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        softmaxBackward("logSoftmaxBackward", y, dy, dx, true);
    }

    private void softmaxBackward(String op, Tensor y, Tensor dy, Tensor dx, boolean log) {
        OpChecks.sameBackend(op, this, y, dy, dx);
        int c = OpChecks.rowsBackward(op, y, dy, dx);
        Tensor yc = y.contiguous(), dyc = dy.contiguous();
        rows.softmaxBackward(data(op, yc), (int) yc.offset(), data(op, dyc), (int) dyc.offset(), data(op, dx),
                (int) dx.offset(), rowCount(y, c), c, log);
    }

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out, Tensor mean, Tensor rstd) {
        OpChecks.sameBackend("layerNorm", this, x, gamma, beta, out, mean, rstd);
        OpChecks.layerNorm("layerNorm", x, gamma, beta, out, mean, rstd);
        Tensor xc = x.contiguous(), g = gamma.contiguous(), b = beta.contiguous();
        int c = x.dim(-1);
        rows.layerNorm(data("layerNorm", xc), (int) xc.offset(), data("layerNorm", g), (int) g.offset(),
                data("layerNorm", b), (int) b.offset(), eps, data("layerNorm", out), (int) out.offset(),
                data("layerNorm", mean), (int) mean.offset(), data("layerNorm", rstd), (int) rstd.offset(),
                rowCount(x, c), c);
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dx, Tensor dgamma, Tensor dbeta) {
        String op = "layerNormBackward";
        OpChecks.sameBackend(op, this, dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
        OpChecks.layerNormBackward(op, dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
        Tensor xc = x.contiguous(), dyc = dy.contiguous(), g = gamma.contiguous();
        Tensor mc = mean.contiguous(), rc = rstd.contiguous();
        int c = x.dim(-1);
        rows.layerNormBackward(data(op, dyc), (int) dyc.offset(), data(op, xc), (int) xc.offset(),
                data(op, g), (int) g.offset(), data(op, mc), (int) mc.offset(), data(op, rc), (int) rc.offset(),
                data(op, dx), (int) dx.offset(), data(op, dgamma), (int) dgamma.offset(),
                data(op, dbeta), (int) dbeta.offset(), rowCount(x, c), c);
    }

    @Override
    public void crossEntropy(Tensor logits, int[] labels, float smoothing, Tensor losses) {
        OpChecks.sameBackend("crossEntropy", this, logits, losses);
        OpChecks.crossEntropy("crossEntropy", logits, labels, smoothing, losses);
        OpChecks.contiguous("crossEntropy", "losses", losses);
        Tensor z = logits.contiguous();
        rows.crossEntropy(data("crossEntropy", z), (int) z.offset(), labels, smoothing,
                data("crossEntropy", losses), (int) losses.offset(), logits.dim(0), logits.dim(1));
    }

    @Override
    public void crossEntropyBackward(Tensor logits, int[] labels, float smoothing, Tensor dlosses, Tensor dlogits) {
        String op = "crossEntropyBackward";
        OpChecks.sameBackend(op, this, logits, dlosses, dlogits);
        OpChecks.crossEntropy(op, logits, labels, smoothing, dlosses);
        OpChecks.elementwise(op, logits, dlogits);
        Tensor z = logits.contiguous(), dl = dlosses.contiguous();
        rows.crossEntropyBackward(data(op, z), (int) z.offset(), labels, smoothing, data(op, dl), (int) dl.offset(),
                data(op, dlogits), (int) dlogits.offset(), logits.dim(0), logits.dim(1));
    }

    private static int rowCount(Tensor x, int c) { return c == 0 ? 0 : (int) (x.size() / c); }

    // ---- indexing ----------------------------------------------------------------------------------------------

    @Override
    public void gather(Tensor x, int axis, int[] index, Tensor out) {
        OpChecks.sameBackend("gather", this, x, out);
        int ax = OpChecks.gather("gather", x, axis, index, out);
        OpChecks.contiguous("gather", "output", out);
        Tensor xc = x.contiguous();
        int[] s = x.shape();
        SimdIndexing.gather(data("gather", xc), (int) xc.offset(), Layout.outer(s, ax), s[ax], Layout.inner(s, ax),
                index, data("gather", out), (int) out.offset(), out.dim(ax));
    }

    @Override
    public void scatterAdd(Tensor src, int axis, int[] index, Tensor out) {
        OpChecks.sameBackend("scatterAdd", this, src, out);
        int ax = OpChecks.gather("scatterAdd", out, axis, index, src);
        OpChecks.contiguous("scatterAdd", "output", out);
        Tensor sc = src.contiguous();
        int[] s = out.shape();
        SimdIndexing.scatterAdd(data("scatterAdd", sc), (int) sc.offset(), src.dim(ax), index,
                data("scatterAdd", out), (int) out.offset(), Layout.outer(s, ax), s[ax], Layout.inner(s, ax));
    }

    // ---- fused ops ---------------------------------------------------------------------------------------------

    @Override
    public SimdFusedOps fused() { return fused; }

    /** The array behind {@code t} for this package's kernels, after checking it belongs here. */
    float[] array(String op, Tensor t) { return data(op, t); }
}

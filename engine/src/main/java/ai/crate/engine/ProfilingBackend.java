package ai.crate.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A backend that runs every op on another and records, per op kind and shape, how many calls took how long: the
 * profile behind {@code crate bench --profile}. Its tensors are the inner backend's storage under this backend, so
 * a model built on it runs unchanged; the fused ops are the inner backend's own (its kernels, not the compositions),
 * each timed as one op. Results are the inner backend's, bit for bit. Single-threaded use, as a model's pass.
 */
public final class ProfilingBackend implements Backend {
    /** One row of the profile: what ran, how often, for how long, and its work (FLOPs for GEMMs, bytes otherwise). */
    public record Entry(String kind, String key, long calls, long nanos, double flops, double bytes) {}

    private final Backend inner;
    private final Map<String, long[]> counts = new LinkedHashMap<>();
    private final Map<String, double[]> work = new LinkedHashMap<>();
    private final FusedOps fused = new ProfilingFusedOps();
    /** The op being run: named when an argument belongs to another backend. */
    private String current = "?";

    public ProfilingBackend(Backend inner) { this.inner = inner; }

    public Backend inner() { return inner; }

    @Override
    public String name() { return inner.name(); }

    @Override
    public String toString() { return inner + " (profiled)"; }

    /** Forgets what was recorded so far. */
    public void reset() {
        counts.clear();
        work.clear();
    }

    /** The rows recorded since the last reset, longest first. */
    public List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        counts.forEach((k, c) -> {
            int bar = k.indexOf('|');
            double[] w = work.get(k);
            out.add(new Entry(k.substring(0, bar), k.substring(bar + 1), c[0], c[1], w[0], w[1]));
        });
        out.sort(Comparator.comparingLong(Entry::nanos).reversed());
        return out;
    }

    /**
     * The profile as a table over {@code steps} steps: per kind (and GEMM shape) milliseconds per step, share of the
     * recorded time, and GFLOP/s (GEMMs) or GB/s (memory-bound ops); {@code peakGflops} > 0 adds the share of peak.
     */
    public String table(int steps, double peakGflops, int rows) {
        List<Entry> all = entries();
        double total = 0;
        for (Entry e : all) total += e.nanos();
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "%-14s %-34s %8s %10s %7s %12s%n", "kind", "op",
                "calls", "ms/step", "share", "rate"));
        for (Entry e : all.subList(0, Math.min(rows, all.size()))) {
            double secs = e.nanos() / 1e9;
            String rate = e.flops() > 0 ? String.format(Locale.ROOT, "%.1f GFLOP/s%s", e.flops() / secs / 1e9,
                    peakGflops > 0 ? String.format(Locale.ROOT, " (%.0f %%)", 100 * e.flops() / secs / 1e9 / peakGflops) : "")
                    : e.bytes() > 0 ? String.format(Locale.ROOT, "%.1f GB/s", e.bytes() / secs / 1e9) : "";
            s.append(String.format(Locale.ROOT, "%-14s %-34s %8d %10.2f %6.1f%% %s%n", e.kind(), e.key(),
                    e.calls() / steps, e.nanos() / 1e6 / steps, 100 * e.nanos() / total, rate));
        }
        if (all.size() > rows) s.append(String.format(Locale.ROOT, "(%d more rows)%n", all.size() - rows));
        return s.toString();
    }

    private void record(String kind, String key, long nanos, double flops, double bytes) {
        String k = kind + "|" + key;
        long[] c = counts.computeIfAbsent(k, x -> new long[2]);
        c[0]++;
        c[1] += nanos;
        double[] w = work.computeIfAbsent(k, x -> new double[2]);
        w[0] += flops;
        w[1] += bytes;
    }

    private void timed(String kind, String key, double flops, double bytes, Runnable op) {
        long t0 = System.nanoTime();
        op.run();
        inner.synchronize();
        record(kind, key, System.nanoTime() - t0, flops, bytes);
    }

    /** The same view on the inner backend. */
    private Tensor in(Tensor t) {
        if (t == null) return null;
        OpChecks.sameBackend(current, this, t);
        return new Tensor(inner, t.storage(), t.shape(), t.strides(), t.offset());
    }

    private List<Tensor> in(List<Tensor> ts) { return ts == null ? null : ts.stream().map(this::in).toList(); }

    /** An inner backend's tensor as this backend's. */
    private Tensor out(Tensor t) { return new Tensor(this, t.storage(), t.shape(), t.strides(), t.offset()); }

    private static double bytes(Tensor... ts) {
        double b = 0;
        for (Tensor t : ts) if (t != null) b += 4.0 * t.size();
        return b;
    }

    // ---- memory, transfers -------------------------------------------------------------------------------------

    @Override
    public Tensor empty(int... shape) { return out(inner.empty(shape)); }

    @Override
    public Tensor allocate(int... shape) { return out(inner.allocate(shape)); }

    @Override
    public void release(Tensor t) { current = "release"; inner.release(in(t)); }

    @Override
    public void synchronize() { inner.synchronize(); }

    @Override
    public Tensor fromArray(float[] data, int... shape) { return out(inner.fromArray(data, shape)); }

    @Override
    public float[] toArray(Tensor t) {
        current = "toArray";
        long t0 = System.nanoTime();
        float[] a = inner.toArray(in(t));
        record("transfer", "toArray", System.nanoTime() - t0, 0, bytes(t));
        return a;
    }

    @Override
    public void copyToHost(Tensor src, float[] dst, int offset) {
        current = "copyToHost";
        timed("transfer", "copyToHost", 0, bytes(src), () -> inner.copyToHost(in(src), dst, offset));
    }

    @Override
    public void copyFromHost(float[] src, int offset, Tensor dst) {
        current = "copyFromHost";
        timed("transfer", "copyFromHost", 0, bytes(dst), () -> inner.copyFromHost(src, offset, in(dst)));
    }

    @Override
    public void fill(Tensor out, float value) { current = "fill"; timed("memory", "fill", 0, bytes(out), () -> inner.fill(in(out), value)); }

    @Override
    public void copy(Tensor src, Tensor dst) {
        current = "copy";
        String key = src.isContiguous() && dst.isContiguous() ? "copy" : "copy (strided: transpose/permute)";
        timed("memory", key, 0, bytes(src, dst), () -> inner.copy(in(src), in(dst)));
    }

    @Override
    public void randomUniform(Tensor out, long seed, float low, float high) {
        current = "randomUniform";
        timed("random", "uniform", 0, bytes(out), () -> inner.randomUniform(in(out), seed, low, high));
    }

    @Override
    public void randomNormal(Tensor out, long seed, float mean, float std) {
        current = "randomNormal";
        timed("random", "normal", 0, bytes(out), () -> inner.randomNormal(in(out), seed, mean, std));
    }

    // ---- compute -----------------------------------------------------------------------------------------------

    @Override
    public void gemm(float alpha, Tensor a, boolean transA, Tensor b, boolean transB, float beta, Tensor c) {
        current = "gemm";
        int m = c.dim(-2), n = c.dim(-1), k = transA ? a.dim(-2) : a.dim(-1);
        long batch = c.size() / Math.max(1L, (long) m * n);
        String key = String.format(Locale.ROOT, "%s[%d×%d]·%s[%d×%d]%s", transA ? "Aᵀ" : "A", m, k, transB ? "Bᵀ" : "B",
                k, n, batch > 1 ? " ×" + batch : "");
        timed("gemm", key, 2.0 * m * n * k * batch, 0, () -> inner.gemm(alpha, in(a), transA, in(b), transB, beta, in(c)));
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor o) {
        current = "unary";
        timed("elementwise", op.name().toLowerCase(Locale.ROOT), 0, bytes(x, o), () -> inner.unary(op, in(x), in(o)));
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) {
        current = "unaryBackward";
        timed("elementwise", op.name().toLowerCase(Locale.ROOT) + " backward", 0, bytes(x, dy, dx),
                () -> inner.unaryBackward(op, in(x), in(dy), in(dx)));
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor o) {
        current = "binary";
        timed("elementwise", op.name().toLowerCase(Locale.ROOT), 0, bytes(a, b, o), () -> inner.binary(op, in(a), in(b), in(o)));
    }

    @Override
    public void affine(Tensor x, float scale, float shift, Tensor o) {
        current = "affine";
        timed("elementwise", "affine", 0, bytes(x, o), () -> inner.affine(in(x), scale, shift, in(o)));
    }

    @Override
    public void reduce(ReduceOp op, Tensor x, int axis, Tensor o) {
        current = "reduce";
        timed("reduce", op.name().toLowerCase(Locale.ROOT), 0, bytes(x, o), () -> inner.reduce(op, in(x), axis, in(o)));
    }

    @Override
    public void softmax(Tensor x, Tensor o) { current = "softmax"; timed("softmax", "softmax", 0, bytes(x, o), () -> inner.softmax(in(x), in(o))); }

    @Override
    public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        current = "softmaxBackward";
        timed("softmax", "softmax backward", 0, bytes(y, dy, dx), () -> inner.softmaxBackward(in(y), in(dy), in(dx)));
    }

    @Override
    public void logSoftmax(Tensor x, Tensor o) {
        current = "logSoftmax";
        timed("softmax", "logSoftmax", 0, bytes(x, o), () -> inner.logSoftmax(in(x), in(o)));
    }

    @Override
    public void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        current = "logSoftmaxBackward";
        timed("softmax", "logSoftmax backward", 0, bytes(y, dy, dx), () -> inner.logSoftmaxBackward(in(y), in(dy), in(dx)));
    }

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor o, Tensor mean, Tensor rstd) {
        current = "layerNorm";
        timed("layerNorm", "layerNorm", 0, bytes(x, o),
                () -> inner.layerNorm(in(x), in(gamma), in(beta), eps, in(o), in(mean), in(rstd)));
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, Tensor dgamma,
                                  Tensor dbeta) {
        current = "layerNormBackward";
        timed("layerNorm", "layerNorm backward", 0, bytes(dy, x, dx), () -> inner.layerNormBackward(in(dy), in(x),
                in(gamma), in(mean), in(rstd), in(dx), in(dgamma), in(dbeta)));
    }

    @Override
    public void crossEntropy(Tensor logits, int[] labels, float smoothing, Tensor losses) {
        current = "crossEntropy";
        timed("loss", "crossEntropy", 0, bytes(logits), () -> inner.crossEntropy(in(logits), labels, smoothing, in(losses)));
    }

    @Override
    public void crossEntropyBackward(Tensor logits, int[] labels, float smoothing, Tensor dlosses, Tensor dlogits) {
        current = "crossEntropyBackward";
        timed("loss", "crossEntropy backward", 0, bytes(logits, dlogits),
                () -> inner.crossEntropyBackward(in(logits), labels, smoothing, in(dlosses), in(dlogits)));
    }

    @Override
    public void gather(Tensor x, int axis, int[] index, Tensor o) {
        current = "gather";
        timed("indexing", "gather", 0, bytes(o) * 2, () -> inner.gather(in(x), axis, index, in(o)));
    }

    @Override
    public void scatterAdd(Tensor src, int axis, int[] index, Tensor o) {
        current = "scatterAdd";
        timed("indexing", "scatterAdd", 0, bytes(src) * 2, () -> inner.scatterAdd(in(src), axis, index, in(o)));
    }

    @Override
    public void concat(List<Tensor> xs, int axis, Tensor o) {
        current = "concat";
        timed("memory", "concat", 0, bytes(o) * 2, () -> inner.concat(in(xs), axis, in(o)));
    }

    @Override
    public void slice(Tensor x, int axis, int start, Tensor o) {
        current = "slice";
        timed("memory", "slice", 0, bytes(o) * 2, () -> inner.slice(in(x), axis, start, in(o)));
    }

    @Override
    public FusedOps fused() { return fused; }

    /** The inner backend's fused ops, each timed as one op. */
    private final class ProfilingFusedOps extends FusedOps {
        ProfilingFusedOps() { super(ProfilingBackend.this); }

        private FusedOps f() { return inner.fused(); }

        @Override
        public void mssaForward(Tensor w, int heads, float scale, Tensor o, Tensor attn) {
            current = "mssaForward";
            timed("fused", "mssaForward", 0, 0, () -> f().mssaForward(in(w), heads, scale, in(o), in(attn)));
        }

        @Override
        public void mssaBackward(Tensor w, Tensor attn, Tensor dout, int heads, float scale, Tensor dw) {
            current = "mssaBackward";
            timed("fused", "mssaBackward", 0, 0, () -> f().mssaBackward(in(w), in(attn), in(dout), heads, scale, in(dw)));
        }

        @Override
        public void mhsaForward(Tensor qkv, int heads, float scale, Tensor o, Tensor attn) {
            current = "mhsaForward";
            timed("fused", "mhsaForward", 0, 0, () -> f().mhsaForward(in(qkv), heads, scale, in(o), in(attn)));
        }

        @Override
        public void mhsaBackward(Tensor qkv, Tensor attn, Tensor dout, int heads, float scale, Tensor dqkv) {
            current = "mhsaBackward";
            timed("fused", "mhsaBackward", 0, 0, () -> f().mhsaBackward(in(qkv), in(attn), in(dout), heads, scale, in(dqkv)));
        }

        @Override
        public void istaForward(Tensor x, Tensor dict, float eta, float lambda, Tensor o) {
            current = "istaForward";
            timed("fused", "istaForward", 0, 0, () -> f().istaForward(in(x), in(dict), eta, lambda, in(o)));
        }

        @Override
        public Tensor istaMatrix(Tensor dict, float eta) {
            current = "istaMatrix";
            Tensor[] m = new Tensor[1];
            timed("fused", "istaMatrix", 0, 0, () -> m[0] = f().istaMatrix(in(dict), eta));
            return out(m[0]);
        }

        @Override
        public void istaBackward(Tensor x, Tensor dict, Tensor o, Tensor dout, float eta, Tensor dx, Tensor dDict) {
            current = "istaBackward";
            timed("fused", "istaBackward", 0, 0,
                    () -> f().istaBackward(in(x), in(dict), in(o), in(dout), eta, in(dx), in(dDict)));
        }

        @Override
        public void overcompleteIstaForward(Tensor x, Tensor dict, Tensor dict1, float eta, float lambda, Tensor o,
                                            Tensor code1, Tensor code2, Tensor residual) {
            current = "overcompleteIstaForward";
            timed("fused", "overcompleteIstaForward", 0, 0, () -> f().overcompleteIstaForward(in(x), in(dict), in(dict1),
                    eta, lambda, in(o), in(code1), in(code2), in(residual)));
        }

        @Override
        public void overcompleteIstaBackward(Tensor x, Tensor dict, Tensor dict1, Tensor code1, Tensor code2,
                                             Tensor residual, Tensor dout, float eta, float lambda, Tensor dx,
                                             Tensor dDict, Tensor dDict1) {
            current = "overcompleteIstaBackward";
            timed("fused", "overcompleteIstaBackward", 0, 0, () -> f().overcompleteIstaBackward(in(x), in(dict),
                    in(dict1), in(code1), in(code2), in(residual), in(dout), eta, lambda, in(dx), in(dDict), in(dDict1)));
        }

        @Override
        public void sumOfSquaresInto(Tensor x, Tensor accumulator) {
            current = "sumOfSquaresInto";
            timed("optimizer", "sumOfSquares", 0, bytes(x), () -> f().sumOfSquaresInto(in(x), in(accumulator)));
        }

        @Override
        public void sumOfSquaresInto(List<Tensor> xs, Tensor accumulator) {
            current = "sumOfSquaresInto";
            timed("optimizer", "sumOfSquares", 0, 0, () -> f().sumOfSquaresInto(in(xs), in(accumulator)));
        }

        @Override
        public void scaleAll(List<Tensor> xs, Tensor factor) {
            current = "scaleAll";
            timed("optimizer", "scaleAll", 0, 0, () -> f().scaleAll(in(xs), in(factor)));
        }

        @Override
        public void adamWStep(Tensor w, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                              float decay, long step) {
            current = "adamWStep";
            timed("optimizer", "adamW", 0, bytes(w, g, m, v) * 2,
                    () -> f().adamWStep(in(w), in(g), in(m), in(v), lr, beta1, beta2, eps, decay, step));
        }

        @Override
        public void adamWSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, List<Tensor> vs, float[] decays,
                               float lr, float beta1, float beta2, float eps, long step) {
            current = "adamWSteps";
            timed("optimizer", "adamW", 0, 0,
                    () -> f().adamWSteps(in(ws), in(gs), in(ms), in(vs), decays, lr, beta1, beta2, eps, step));
        }

        @Override
        public void lionStep(Tensor w, Tensor g, Tensor m, float lr, float beta1, float beta2, float decay) {
            current = "lionStep";
            timed("optimizer", "lion", 0, 0, () -> f().lionStep(in(w), in(g), in(m), lr, beta1, beta2, decay));
        }

        @Override
        public void lionSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, float[] decays, float lr, float beta1,
                              float beta2) {
            current = "lionSteps";
            timed("optimizer", "lion", 0, 0, () -> f().lionSteps(in(ws), in(gs), in(ms), decays, lr, beta1, beta2));
        }

        @Override
        public void sgdSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> buffers, float[] decays, float lr,
                             float momentum, boolean nesterov) {
            current = "sgdSteps";
            timed("optimizer", "sgd", 0, 0, () -> f().sgdSteps(in(ws), in(gs), in(buffers), decays, lr, momentum, nesterov));
        }

        @Override
        public void sgdStep(Tensor w, Tensor g, Tensor momentumBuffer, float lr, float momentum, boolean nesterov,
                            float decay) {
            current = "sgdStep";
            timed("optimizer", "sgd", 0, 0,
                    () -> f().sgdStep(in(w), in(g), in(momentumBuffer), lr, momentum, nesterov, decay));
        }
    }
}

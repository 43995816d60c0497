package ai.crate.bench;

import ai.crate.engine.Backend;
import ai.crate.engine.FusedOps;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import ai.crate.simd.SimdBackend;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The fused CRATE ops at the token counts and widths of real configurations, one layer's worth per call:
 * fmnist-small (batch 128, 50 tokens, d 192, 6 heads), cifar-tiny (64, 65, 384, 6), crate-tiny (16, 197, 384, 6).
 *
 * <p>Read the secondary score {@code gflops} (GFLOP/s over the matrix products each op performs: MSSA forward
 * 4·B·N²·d, its backward 6·B·N²·d with the attention kept and 8·B·N²·d when recomputed; ISTA forward 4·B·N·d², its
 * backward 8·B·N·d², the inference form 2·B·N·d²). The {@code ...Keep}/{@code ...Recompute} pair is the measurement
 * behind keeping the attention matrix for the backward. The {@code mhsa...} methods are ViT's untied attention at the
 * same shapes (same GEMM FLOPs as MSSA's, the backward 8·B·N²·d with A kept), the backend's fused kernel against
 * {@code ...Composed}: {@link FusedOps}' batched GEMMs on the same backend's primitives.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
public class CrateOpsBenchmark {

    @Param({"fmnist-small", "cifar-tiny", "crate-tiny"})
    public String model;

    @Param({"simd"})
    public String backend;

    @Param({"2"})
    public int threads;

    private Backend be;
    private int heads;
    private float scale;
    private Tensor w, mssaOut, attn, mssaGrad, dw, qkv, dqkv;
    private FusedOps composed;
    private Tensor x, dict, m, istaOut, istaGrad, dx, dDict;
    private double batchTokens, n, d;

    @Setup(Level.Trial)
    public void setUp() {
        int[] shape = switch (model) {
            case "fmnist-small" -> new int[] {128, 50, 192, 6};
            case "cifar-tiny" -> new int[] {64, 65, 384, 6};
            case "crate-tiny" -> new int[] {16, 197, 384, 6};
            default -> throw new IllegalArgumentException("model '" + model + "': fmnist-small, cifar-tiny or crate-tiny");
        };
        be = switch (backend) {
            case "simd" -> new SimdBackend(threads);
            case "reference" -> new ReferenceBackend();
            default -> throw new IllegalArgumentException("backend '" + backend + "': simd or reference");
        };
        int b = shape[0], tokens = shape[1], width = shape[2];
        heads = shape[3];
        scale = (float) (1 / Math.sqrt(width / heads));
        batchTokens = (double) b * tokens;
        n = tokens;
        d = width;
        w = normal(1, 1f, b, tokens, width);
        mssaGrad = normal(2, 1f, b, tokens, width);
        mssaOut = be.empty(b, tokens, width);
        dw = be.empty(b, tokens, width);
        attn = be.empty(b, heads, tokens, tokens);
        qkv = normal(7, 1f, b, tokens, 3 * width);
        dqkv = be.empty(b, tokens, 3 * width);
        composed = new FusedOps(be);
        x = normal(3, 1f, b, tokens, width);
        dict = normal(4, (float) Math.sqrt(2.0 / width), width, width);
        m = normal(5, (float) Math.sqrt(2.0 / width), width, width);
        istaGrad = normal(6, 1f, b, tokens, width);
        istaOut = be.empty(b, tokens, width);
        dx = be.empty(b, tokens, width);
        dDict = be.empty(width, width);
    }

    private Tensor normal(long seed, float std, int... shape) {
        Tensor t = be.empty(shape);
        be.randomNormal(t, seed, 0f, std);
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (be instanceof AutoCloseable c) {
            try { c.close(); } catch (Exception e) { throw new IllegalStateException(e); }
        }
    }

    private double mssaFlops(int gemms) { return gemms * 2 * batchTokens * n * d / 1e9; }

    private double istaFlops(int gemms) { return gemms * 2 * batchTokens * d * d / 1e9; }

    @Benchmark
    public Tensor mssaForward(Flops f) {
        be.fused().mssaForward(w, heads, scale, mssaOut, null);
        f.gflops += mssaFlops(2);
        return mssaOut;
    }

    @Benchmark
    public Tensor mssaForwardBackwardKeep(Flops f) {
        be.fused().mssaForward(w, heads, scale, mssaOut, attn);
        be.fused().mssaBackward(w, attn, mssaGrad, heads, scale, dw);
        f.gflops += mssaFlops(5);
        return dw;
    }

    @Benchmark
    public Tensor mssaForwardBackwardRecompute(Flops f) {
        be.fused().mssaForward(w, heads, scale, mssaOut, null);
        be.fused().mssaBackward(w, null, mssaGrad, heads, scale, dw);
        f.gflops += mssaFlops(6);
        return dw;
    }

    @Benchmark
    public Tensor mhsaForward(Flops f) {
        be.fused().mhsaForward(qkv, heads, scale, mssaOut, null);
        f.gflops += mssaFlops(2);
        return mssaOut;
    }

    @Benchmark
    public Tensor mhsaForwardComposed(Flops f) {
        composed.mhsaForward(qkv, heads, scale, mssaOut, null);
        f.gflops += mssaFlops(2);
        return mssaOut;
    }

    @Benchmark
    public Tensor mhsaForwardBackwardKeep(Flops f) {
        be.fused().mhsaForward(qkv, heads, scale, mssaOut, attn);
        be.fused().mhsaBackward(qkv, attn, mssaGrad, heads, scale, dqkv);
        f.gflops += mssaFlops(6);
        return dqkv;
    }

    @Benchmark
    public Tensor mhsaForwardBackwardKeepComposed(Flops f) {
        composed.mhsaForward(qkv, heads, scale, mssaOut, attn);
        composed.mhsaBackward(qkv, attn, mssaGrad, heads, scale, dqkv);
        f.gflops += mssaFlops(6);
        return dqkv;
    }

    @Benchmark
    public Tensor istaForward(Flops f) {
        be.fused().istaForward(x, dict, 0.1f, 0.1f, istaOut);
        f.gflops += istaFlops(1);   // one GEMM against M (M's own d³ not counted)
        return istaOut;
    }

    @Benchmark
    public Tensor istaForwardBackward(Flops f) {
        be.fused().istaForward(x, dict, 0.1f, 0.1f, istaOut);
        be.fused().istaBackward(x, dict, istaOut, istaGrad, 0.1f, dx, dDict);
        f.gflops += istaFlops(3);   // x·M forward; G·Mᵀ and xᵀ·G backward
        return dx;
    }

    /** The inference form: one GEMM against the precomputed I + η(D − DᵀD), then the shift and the ReLU. */
    @Benchmark
    public Tensor istaInference(Flops f) {
        be.gemm(1f, x, false, m, false, 0f, istaOut);
        be.affine(istaOut, 1f, -0.01f, istaOut);
        be.unary(UnaryOp.RELU, istaOut, istaOut);
        f.gflops += istaFlops(1);
        return istaOut;
    }
}

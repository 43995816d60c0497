package ai.crate.bench;

import ai.crate.engine.Tensor;
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
 * SGEMM throughput of {@link SimdBackend}: C[B,M,N] = A[B,M,K]·op(B)[B,K,N] for any shape given on the command line
 * ({@code -p shape=1x3200x384x384 -p threads=2}; a three-number shape MxKxN means batch 1).
 *
 * <p>The score to read is the secondary result {@code gflops}: an operations counter advanced by 2·B·M·K·N / 1e9 on
 * every call, so JMH reports it per second, i.e. in GFLOP/s. The primary score is calls per second.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
public class GemmBenchmark {

    @Param({"256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048",
            "1x3200x384x384", "1x12800x384x384", "1x6400x768x768", "96x200x64x200", "96x200x200x64"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    /** Which operands are transposed: NN, NT (B transposed, as in A·Bᵀ attention scores), TN or TT. */
    @Param({"NN"})
    public String trans;

    private SimdBackend backend;
    private Tensor a;
    private Tensor b;
    private Tensor c;
    private boolean transA;
    private boolean transB;
    private double gigaFlopsPerCall;

    @Setup(Level.Trial)
    public void setUp() {
        int[] d = Shapes.parse(shape);
        int batch = d[0], m = d[1], k = d[2], n = d[3];
        if (!trans.matches("[NT][NT]")) throw new IllegalArgumentException("trans '" + trans + "' is not NN, NT, TN or TT");
        boolean ta = transA = trans.charAt(0) == 'T', tb = transB = trans.charAt(1) == 'T';
        backend = new SimdBackend(threads);
        a = backend.empty(ta ? new int[] {batch, k, m} : new int[] {batch, m, k});
        b = backend.empty(tb ? new int[] {batch, n, k} : new int[] {batch, k, n});
        c = backend.empty(batch, m, n);
        backend.randomNormal(a, 1, 0f, 1f);
        backend.randomNormal(b, 2, 0f, 1f);
        gigaFlopsPerCall = 2.0 * batch * m * k * n / 1e9;
    }

    @TearDown(Level.Trial)
    public void tearDown() { backend.close(); }

    @Benchmark
    public Tensor gemm(Flops flops) {
        backend.gemm(1f, a, transA, b, transB, 0f, c);
        flops.gflops += gigaFlopsPerCall;
        return c;
    }
}

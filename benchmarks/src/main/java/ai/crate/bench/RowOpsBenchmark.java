package ai.crate.bench;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.ReduceOp;
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
 * The non-GEMM hot passes of a CRATE step — softmax over attention rows and its backward, LayerNorm forward and
 * backward, GELU, a broadcast bias add and its gradient (a column sum), cross-entropy — on the reference and SIMD
 * backends: microseconds per call (lower is better).
 * Shapes: {@code rows x width}, e.g. 12800x384 (64 images × 200 tokens × 384 channels) or 19200x200 (attention rows).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class RowOpsBenchmark {

    @Param({"12800x384", "19200x200"})
    public String shape;

    @Param({"simd", "reference"})
    public String backend;

    @Param({"2"})
    public int threads;

    private Backend be;
    private Tensor x;
    private Tensor y;
    private Tensor dy;
    private Tensor dx;
    private Tensor gamma;
    private Tensor beta;
    private Tensor dgamma;
    private Tensor dbeta;
    private Tensor mean;
    private Tensor rstd;
    private Tensor losses;
    private int[] labels;

    @Setup(Level.Trial)
    public void setUp() {
        String[] d = shape.split("x");
        int rows = Integer.parseInt(d[0]), width = Integer.parseInt(d[1]);
        be = backend.equals("simd") ? new SimdBackend(threads) : new ReferenceBackend();
        x = random(1, rows, width);
        dy = random(2, rows, width);
        y = be.empty(rows, width);
        dx = be.empty(rows, width);
        gamma = random(3, width);
        beta = random(4, width);
        dgamma = be.empty(width);
        dbeta = be.empty(width);
        mean = be.empty(rows);
        rstd = be.empty(rows);
        losses = be.empty(rows);
        labels = new int[rows];
        for (int i = 0; i < rows; i++) labels[i] = (i * 7) % width;
        be.layerNorm(x, gamma, beta, 1e-5f, y, mean, rstd);
    }

    private Tensor random(long seed, int... shape) {
        Tensor t = be.empty(shape);
        be.randomNormal(t, seed, 0f, 1f);
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (be instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Benchmark
    public Tensor softmax() {
        be.softmax(x, dx);
        return dx;
    }

    @Benchmark
    public Tensor softmaxBackward() {
        be.softmaxBackward(y, dy, dx);
        return dx;
    }

    /** The bias gradient of a Linear layer: a sum over all rows. */
    @Benchmark
    public Tensor sumRows() {
        be.reduce(ReduceOp.SUM, dy, 0, dbeta);
        return dbeta;
    }

    @Benchmark
    public Tensor layerNorm() {
        be.layerNorm(x, gamma, beta, 1e-5f, y, mean, rstd);
        return y;
    }

    @Benchmark
    public Tensor layerNormBackward() {
        be.layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta);
        return dx;
    }

    @Benchmark
    public Tensor gelu() {
        be.unary(UnaryOp.GELU, x, dx);
        return dx;
    }

    @Benchmark
    public Tensor biasAdd() {
        be.binary(BinaryOp.ADD, x, gamma, dx);
        return dx;
    }

    @Benchmark
    public Tensor crossEntropy() {
        be.crossEntropy(x, labels, 0.1f, losses);
        return losses;
    }
}

package ai.crate.examples;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Backends;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.Tensor;
import java.util.List;

/**
 * Trains a two-layer perceptron on a three-arm spiral (a classic that a linear model cannot fit) with full-batch
 * gradient descent, on the default backend. It exercises the whole stack: data on the backend, forward ops, the
 * tape's backward, parameter updates in place, and a no-grad evaluation.
 *
 * <p>Run: {@code mvn -q -pl examples exec:exec} (after {@code mvn -q install -DskipTests}); arguments through
 * {@code -Dexec.args="STEPS HIDDEN"}.
 */
public final class TrainSpiral {
    private static final int CLASSES = 3;
    private static final int POINTS_PER_CLASS = 200;

    private TrainSpiral() {}

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 600;
        int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        float accuracy = train(steps, hidden, true);
        if (accuracy < 0.9f) {
            System.err.printf("training accuracy %.3f is below 0.9: something is wrong%n", accuracy);
            System.exit(1);
        }
    }

    /** Trains and returns the final training accuracy; prints progress when {@code verbose}. */
    static float train(int steps, int hidden, boolean verbose) {
        Backend be = Backends.getDefault();
        if (verbose) System.out.println("backend: " + be.name());

        int n = CLASSES * POINTS_PER_CLASS;
        float[] xy = new float[n * 2];
        int[] labels = new int[n];
        spiral(xy, labels);
        Variable x = Variable.constant(be.fromArray(xy, n, 2));

        Variable w1 = Variable.parameter(init(be, 11, hidden, 2));
        Variable b1 = Variable.parameter(be.empty(hidden));
        Variable w2 = Variable.parameter(init(be, 12, CLASSES, hidden));
        Variable b2 = Variable.parameter(be.empty(CLASSES));
        List<Variable> params = List.of(w1, b1, w2, b2);

        float learningRate = 0.5f;
        long start = System.nanoTime();
        for (int step = 1; step <= steps; step++) {
            Variable logits = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2);
            Variable loss = F.crossEntropy(logits, labels, 0f);
            Autograd.zeroGrad(params);
            loss.backward();
            for (Variable p : params) sgdStep(be, p, learningRate);
            if (verbose && (step == 1 || step % 100 == 0 || step == steps)) {
                System.out.printf("step %4d  loss %.4f  accuracy %.3f%n", step, loss.value().item(),
                        accuracy(x, labels, w1, b1, w2, b2));
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        float acc = accuracy(x, labels, w1, b1, w2, b2);
        if (verbose) System.out.printf("trained %d steps in %.2f s; final training accuracy %.3f%n", steps, seconds, acc);
        return acc;
    }

    /** p ← p − lr·∇p, in place (elementwise ops may write over their input). */
    private static void sgdStep(Backend be, Variable p, float learningRate) {
        Tensor update = be.empty(p.shape());
        be.affine(p.grad(), -learningRate, 0f, update);
        be.binary(BinaryOp.ADD, p.value(), update, p.value());
    }

    /** Uniform in ±1/√fan_in, as PyTorch initialises nn.Linear. */
    private static Tensor init(Backend be, long seed, int out, int in) {
        Tensor w = be.empty(out, in);
        float bound = (float) (1.0 / Math.sqrt(in));
        be.randomUniform(w, seed, -bound, bound);
        return w;
    }

    private static float accuracy(Variable x, int[] labels, Variable w1, Variable b1, Variable w2, Variable b2) {
        try (var noGrad = Autograd.noGrad()) {
            float[] logits = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2).value().toFloatArray();
            int correct = 0;
            for (int i = 0; i < labels.length; i++) {
                int best = 0;
                for (int c = 1; c < CLASSES; c++) if (logits[i * CLASSES + c] > logits[i * CLASSES + best]) best = c;
                if (best == labels[i]) correct++;
            }
            return (float) correct / labels.length;
        }
    }

    /** Three interleaved arms, radius growing with angle, with a little deterministic jitter. */
    private static void spiral(float[] xy, int[] labels) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int c = 0; c < CLASSES; c++) {
            for (int i = 0; i < POINTS_PER_CLASS; i++) {
                int idx = c * POINTS_PER_CLASS + i;
                double r = (double) i / (POINTS_PER_CLASS - 1);
                double t = c * 4.0 + 4.0 * r + rnd.nextGaussian() * 0.2;
                xy[2 * idx] = (float) (r * StrictMath.sin(t));
                xy[2 * idx + 1] = (float) (r * StrictMath.cos(t));
                labels[idx] = c;
            }
        }
    }
}

package ai.crate.autograd;

import ai.crate.engine.Backend;
import ai.crate.engine.Backends;
import ai.crate.engine.Tensor;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/** Seeded random test inputs on the backend under test. */
final class TestTensors {
    /**
     * The backend under test: the reference by default; the build runs the gradient checks a second time with
     * {@code -Dcrate.test.backend=simd} (see this module's pom).
     */
    static final Backend B = Backends.get(System.getProperty("crate.test.backend", "reference"));

    private TestTensors() {}

    static Tensor normal(long seed, int... shape) {
        Tensor t = B.empty(shape);
        B.randomNormal(t, seed, 0f, 1f);
        return t;
    }

    static Tensor uniform(long seed, float low, float high, int... shape) {
        Tensor t = B.empty(shape);
        B.randomUniform(t, seed, low, high);
        return t;
    }

    /** Random values with |x| >= 0.25, so a gradient-check step never crosses a kink at 0. */
    static Tensor awayFromZero(long seed, int... shape) {
        float[] v = B.toArray(uniform(seed, -2f, 2f, shape));
        for (int i = 0; i < v.length; i++) v[i] += v[i] >= 0 ? 0.25f : -0.25f;
        return B.fromArray(v, shape);
    }

    /**
     * Randomly ordered values at least 0.08 apart (a random permutation of a 0.1 grid, jittered by < 0.02), so a
     * gradient-check step never changes which element is the maximum: for up to 80 elements |x| ≤ 4, so the step
     * h = 0.01·max(1, |x|) ≤ 0.04 moves no value past its neighbour.
     */
    static Tensor distinct(long seed, int... shape) {
        float[] keys = B.toArray(uniform(seed, 0f, 1f, shape));
        float[] jitter = B.toArray(uniform(seed + 1, 0f, 0.02f, shape));
        Integer[] order = IntStream.range(0, keys.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble(i -> keys[i]));
        float[] v = new float[keys.length];
        for (int rank = 0; rank < order.length; rank++) {
            v[order[rank]] = 0.1f * (rank - order.length / 2) + jitter[order[rank]];
        }
        return B.fromArray(v, shape);
    }
}

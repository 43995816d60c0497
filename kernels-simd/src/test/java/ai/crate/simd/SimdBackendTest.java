package ai.crate.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.BackendContractTest;
import ai.crate.engine.BackendProvider;
import ai.crate.engine.Backends;
import ai.crate.engine.ReduceOp;
import ai.crate.engine.Shapes;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The shared backend contract run on {@link SimdBackend} against the reference oracle, with GEMM shapes added that
 * cross the kernel's blocking (several k-blocks, several column blocks, row tails) and with 1, 2 and 3 threads, so
 * the inline path and uneven task splits are all exercised.
 */
class SimdBackendTest extends BackendContractTest {
    @Override
    protected Backend backend() { return new SimdBackend(2); }

    /** GEMM shapes that reach every loop of SimdGemm: k-blocks (K > 384), column blocks (N > 1024), MC row blocks. */
    static List<int[]> blockedGemmShapes() {
        return List.of(new int[] {200, 800, 1100}, new int[] {397, 385, 70}, new int[] {7, 1000, 1030});
    }

    @Override
    protected List<int[]> gemmShapes() {
        List<int[]> shapes = new ArrayList<>(super.gemmShapes());
        shapes.addAll(blockedGemmShapes());
        return shapes;
    }

    /** Reductions big enough for the threaded paths: one slab split by columns, several slabs, long rows. */
    @ParameterizedTest
    @EnumSource(ReduceOp.class)
    void largeReductionsMatchTheOracle(ReduceOp op) {
        int[][] shapes = {{20000, 33}, {3, 5000, 40}, {70001}, {5000, 41}};
        for (int[] shape : shapes) {
            float[] xd = normal(rng("large reduce", op, s(shape)), size(shape), 1.5);
            Pair x = pair(xd, shape);
            for (int axis = 0; axis < shape.length; axis++) {
                Pair out = nans(Shapes.drop(shape, axis));
                b().reduce(op, x.mine(), axis, out.mine());
                oracle().reduce(op, x.ref(), axis, out.ref());
                double[] bound = reduceBounds(op, shape[axis], rms(xd));
                assertPairClose("reduce " + op + " " + s(shape) + " axis " + axis, out, bound[0], bound[1]);
            }
        }
    }

    @Test
    void providerProbeReportsTheVectorWidth() {
        BackendProvider.Probe probe = new SimdBackendProvider().probe();
        assertTrue(probe.available(), probe.reason());
        assertTrue(probe.reason().contains(SimdBackend.lanes() * 32 + " bits"), probe.reason());
    }

    @Test
    void registryPrefersSimdWhenTheVectorModuleIsLoaded() {
        assertTrue(Backends.probes().get("simd").available());
        assertEquals("simd", Backends.get("simd").name());
    }

    /** One thread: every op takes its calling-thread path. */
    @Nested
    class SingleThread extends BackendContractTest {
        @Override
        protected Backend backend() { return new SimdBackend(1); }
    }

    /** Three threads: task counts that do not divide evenly. */
    @Nested
    class ThreeThreads extends BackendContractTest {
        @Override
        protected Backend backend() { return new SimdBackend(3); }

        @Override
        protected List<int[]> gemmShapes() {
            List<int[]> shapes = new ArrayList<>(super.gemmShapes());
            shapes.addAll(blockedGemmShapes());
            return shapes;
        }
    }
}

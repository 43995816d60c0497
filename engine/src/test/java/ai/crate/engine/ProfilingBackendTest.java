package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import org.junit.jupiter.api.Test;

/**
 * The contract harness through {@link ProfilingBackend} over the reference backend: every op, results unchanged;
 * and what it records.
 */
class ProfilingBackendTest extends BackendContractTest {
    @Override
    protected Backend backend() { return new ProfilingBackend(new ReferenceBackend()); }

    /** Every public fused op is delegated (and timed), none falls back to the composition on the wrapper. */
    @Test
    void everyFusedOpIsDelegated() throws Exception {
        Class<?> profiling = backend().fused().getClass();
        for (Method m : FusedOps.class.getDeclaredMethods()) {
            if (!Modifier.isPublic(m.getModifiers()) || m.getName().equals("backend")) continue;
            assertEquals(profiling, profiling.getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass(),
                    m.getName() + " is not overridden by the profiling fused ops");
        }
    }

    @Test
    void recordsGemmShapesAndFlopsAndElementwiseBytes() {
        ProfilingBackend p = new ProfilingBackend(new ReferenceBackend());
        Tensor a = p.fromArray(new float[6], 2, 3), b = p.fromArray(new float[12], 3, 4), c = p.empty(2, 4);
        p.gemm(1f, a, false, b, false, 0f, c);
        p.gemm(1f, a, false, b, false, 0f, c);
        p.unary(UnaryOp.RELU, c, c);
        var rows = p.entries();
        ProfilingBackend.Entry gemm = rows.stream().filter(e -> e.kind().equals("gemm")).findFirst().orElseThrow();
        assertEquals("A[2×3]·B[3×4]", gemm.key());
        assertEquals(2, gemm.calls());
        assertEquals(2 * 2.0 * 2 * 4 * 3, gemm.flops());
        ProfilingBackend.Entry relu = rows.stream().filter(e -> e.key().equals("relu")).findFirst().orElseThrow();
        assertEquals(2 * 4 * 8.0, relu.bytes());
        String table = p.table(2, 515, 10);
        assertTrue(table.contains("A[2×3]·B[3×4]") && table.contains("GFLOP/s"), table);
        p.reset();
        assertTrue(p.entries().isEmpty());
    }
}

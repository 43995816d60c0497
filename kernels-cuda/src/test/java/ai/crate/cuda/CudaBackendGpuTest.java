package ai.crate.cuda;

import ai.crate.engine.Backend;
import ai.crate.engine.BackendContractTest;
import ai.crate.engine.BackendProvider;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;

/**
 * The shared backend contract on a real GPU: every op of {@link CudaBackend} against the reference oracle on the
 * awkward shapes, plus GEMM shapes that cross both tile sizes and their edges. Without a usable CUDA device every
 * test is skipped with the probe's reason printed (the same kernels still run in {@code CudaBackendEmulatedTest}).
 */
class CudaBackendGpuTest extends BackendContractTest {
    /** Before any test, so the misuse tests (which expect exceptions) are skipped too rather than failed. */
    @BeforeAll
    void requireGpu() {
        BackendProvider.Probe probe = new CudaBackendProvider().probe();
        if (!probe.available()) {
            System.out.println("CudaBackendGpuTest: every test skipped: " + probe.reason());
            Assumptions.abort(probe.reason());
        }
    }

    @Override
    protected Backend backend() { return new CudaBackend(JCudaDevice.open(CudaBackendProvider.ordinal())); }

    @Override
    protected List<int[]> gemmShapes() {
        List<int[]> shapes = new ArrayList<>(super.gemmShapes());
        shapes.add(new int[] {2000, 384, 1100});   // 128×128 tiles with edges in M and N
        shapes.add(new int[] {8320, 384, 384});    // CRATE's folded ISTA product at cifar-tiny b128
        shapes.add(new int[] {384, 8320, 384});    // its weight gradient: split K
        return shapes;
    }
}

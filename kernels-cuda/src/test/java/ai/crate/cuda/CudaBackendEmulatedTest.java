package ai.crate.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.cuda.emu.EmulatedDevice;
import ai.crate.engine.Backend;
import ai.crate.engine.BackendContractTest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The shared backend contract on {@link CudaBackend} with the real kernel sources run by the CPU emulator: every
 * launch configuration, index computation, view struct and fallback path is checked against the reference oracle
 * on machines without a GPU (CI). With the emulator's 48 KiB of shared memory per block, MSSA runs fused for the
 * small heads and through batched GEMMs for the 197-token, width-64 head, so both paths are covered here.
 */
class CudaBackendEmulatedTest extends BackendContractTest {
    @Override
    protected Backend backend() { return new CudaBackend(new EmulatedDevice()); }

    @Override
    protected List<int[]> gemmShapes() {
        List<int[]> shapes = new ArrayList<>(super.gemmShapes());
        shapes.add(new int[] {17 * 128 + 3, 9, 16 * 128 + 1});   // the 128×128 kernel (≥ 264 tiles), edges, K tail
        shapes.add(new int[] {65, 4001, 63});                    // split K: few tiles, long K, a shorter last slice
        shapes.add(new int[] {130, 2048, 129});                  // split K with slices of equal length
        return shapes;
    }

    /** -Dcrate.cuda.mssa picks the GEMM path where the fused kernel would fit; anything else is refused by name. */
    @Test
    void mssaModePropertyPicksThePath() {
        float[] w = normal(rng("mssaMode"), 2 * 17 * 12, 1);
        float[][] outs = new float[2][];
        String[] modes = {"fused", "gemm"};
        for (int i = 0; i < 2; i++) {
            System.setProperty(CudaBackend.MSSA_PROPERTY, modes[i]);
            try (CudaBackend be = new CudaBackend(new EmulatedDevice(227 * 1024))) {
                var out = be.empty(2, 17, 12);
                be.fused().mssaForward(be.fromArray(w, 2, 17, 12), 3, 0.5f, out, null);
                outs[i] = be.toArray(out);
            } finally {
                System.clearProperty(CudaBackend.MSSA_PROPERTY);
            }
        }
        assertClose("mssa fused vs gemm", outs[0], outs[1], 1e-5, 1e-5);
        System.setProperty(CudaBackend.MSSA_PROPERTY, "flash");
        try {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new CudaBackend(new EmulatedDevice()));
            assertTrue(e.getMessage().contains("flash") && e.getMessage().contains("fused or gemm"), e.getMessage());
        } finally {
            System.clearProperty(CudaBackend.MSSA_PROPERTY);
        }
    }

    /** α and β through the split-K path too (its own final pass applies them). */
    @Override
    protected List<int[]> gemmAlphaBetaShapes() {
        List<int[]> shapes = new ArrayList<>(super.gemmAlphaBetaShapes());
        shapes.add(new int[] {65, 2000, 17});
        return shapes;
    }

    /** An H100's 227 KiB of shared memory per block: every MSSA shape here runs the fused kernels. */
    @Nested
    class AllMssaFused extends BackendContractTest {
        @Override
        protected Backend backend() { return new CudaBackend(new EmulatedDevice(227 * 1024)); }

        @Override
        protected int[] sizes() { return new int[] {1, 17, 197}; }
    }

    /** No shared memory to spare: MSSA forward and backward (kept or recomputed A) all go through batched GEMMs. */
    @Nested
    class MssaByGemm extends BackendContractTest {
        @Override
        protected Backend backend() { return new CudaBackend(new EmulatedDevice(0)); }

        @Override
        protected int[] sizes() { return new int[] {1, 17, 197}; }
    }
}

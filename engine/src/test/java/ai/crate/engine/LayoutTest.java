package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** GEMM geometry: when batches of A stack into rows against one shared B, the GEMM is folded into one tall one. */
class LayoutTest {
    private final Backend be = new ReferenceBackend();

    @Test
    void sharedWeightFoldsBatchesIntoRows() {
        Layout.Gemm g = Layout.gemm(be.empty(4, 5, 6), false, be.empty(7, 6), true, be.empty(4, 5, 7));
        assertEquals(1, g.batch());
        assertEquals(20, g.m());
        Layout.Gemm kept = Layout.gemm(be.empty(4, 5, 6), false, be.empty(4, 6, 7), false, be.empty(4, 5, 7));
        assertEquals(4, kept.batch(), "a B per batch cannot fold");
        Layout.Gemm transposedA = Layout.gemm(be.empty(4, 6, 5), true, be.empty(6, 7), false, be.empty(4, 5, 7));
        assertEquals(4, transposedA.batch(), "Aᵀ batches are not row-stacked");
        Tensor rowsWithGaps = be.empty(4, 8, 6).slice(1, 0, 5);
        assertEquals(4, Layout.gemm(rowsWithGaps, false, be.empty(6, 7), false, be.empty(4, 5, 7)).batch());
    }
}

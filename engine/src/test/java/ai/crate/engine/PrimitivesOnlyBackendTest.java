package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The contract harness on {@link PrimitivesOnlyBackend}: the composed fused ops against the reference oracle. */
class PrimitivesOnlyBackendTest extends BackendContractTest {
    @Override
    protected Backend backend() { return new PrimitivesOnlyBackend(); }

    @Test
    void fusedOpsAreTheCompositions() {
        assertEquals(FusedOps.class, backend().fused().getClass());
        assertEquals(ReferenceFusedOps.class, new ReferenceBackend().fused().getClass());
    }
}

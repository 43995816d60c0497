package ai.crate.engine;

/**
 * The reference backend's primitives and nothing else: its fused ops are {@link FusedOps}'s compositions, as a new
 * backend that implements only the required {@link Backend} methods would run them. Tests run the contract harness
 * and whole models on it, so the compositions are held to the oracle too.
 */
public final class PrimitivesOnlyBackend extends ReferenceBackend {
    private final FusedOps composed = new FusedOps(this);

    @Override
    public String name() { return "primitives-only"; }

    @Override
    public FusedOps fused() { return composed; }
}

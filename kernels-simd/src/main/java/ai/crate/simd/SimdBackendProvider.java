package ai.crate.simd;

import ai.crate.engine.Backend;
import ai.crate.engine.BackendProvider;

/**
 * Offers {@link SimdBackend} when the JVM was started with {@code --add-modules jdk.incubator.vector}; the probe
 * says which vector width it found, or exactly which flag is missing.
 */
public final class SimdBackendProvider implements BackendProvider {
    @Override public String name() { return "simd"; }

    @Override public int priority() { return 10; }

    @Override
    public Probe probe() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return Probe.no("the Vector API module is not loaded; start java with --add-modules jdk.incubator.vector");
        }
        try {
            int bits = VectorMath.S.vectorBitSize();
            return Probe.yes("Java Vector API, FloatVector.SPECIES_PREFERRED = " + bits + " bits ("
                    + VectorMath.S.length() + " floats), " + Parallel.defaultThreads() + " threads");
        } catch (LinkageError e) {
            return Probe.no("Vector API failed to load: " + e);
        }
    }

    @Override public Backend create() { return new SimdBackend(); }
}

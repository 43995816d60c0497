package ai.crate.engine;

/** The plain-Java backend: always available, chosen only when nothing faster is or when asked for. */
public final class ReferenceBackendProvider implements BackendProvider {
    @Override public String name() { return "reference"; }
    @Override public int priority() { return 0; }
    @Override public Probe probe() { return Probe.yes("plain Java loops, always available"); }
    @Override public Backend create() { return new ReferenceBackend(); }
}

package ai.crate.engine;

/**
 * A backend that may be present at run time, found through {@link java.util.ServiceLoader}. Modules that provide
 * one list it in {@code META-INF/services/ai.crate.engine.BackendProvider}.
 */
public interface BackendProvider {
    /** The name users select it by ({@code -Dcrate.backend=NAME}). */
    String name();

    /** Higher wins when the user names none. */
    int priority();

    /** Whether it can run here, and why (shown in the log either way). Must not throw. */
    Probe probe();

    /** Creates the backend; only called after a successful probe. */
    Backend create();

    record Probe(boolean available, String reason) {
        public static Probe yes(String reason) { return new Probe(true, reason); }
        public static Probe no(String reason) { return new Probe(false, reason); }
    }
}

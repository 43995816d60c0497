package ai.crate.engine;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Finds the backends on the class path, probes each once, and picks the default: the one named by the system
 * property {@code crate.backend} (or {@link #setDefault}), else the available one with the highest priority. The
 * choice and every probe result are logged; asking for an unavailable backend is an error, never a silent fallback.
 */
public final class Backends {
    public static final String PROPERTY = "crate.backend";
    private static final System.Logger LOG = System.getLogger("ai.crate.engine.Backends");

    private static final Map<String, BackendProvider.Probe> PROBES = new LinkedHashMap<>();
    private static final Map<String, BackendProvider> PROVIDERS = new LinkedHashMap<>();
    private static final Map<String, Backend> CREATED = new LinkedHashMap<>();
    private static Backend defaultBackend;

    private Backends() {}

    private static synchronized void discover() {
        if (!PROVIDERS.isEmpty()) return;
        List<BackendProvider> found = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).forEach(found::add);
        if (found.stream().noneMatch(p -> p.name().equals("reference"))) found.add(new ReferenceBackendProvider());
        found.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
        for (BackendProvider p : found) {
            BackendProvider.Probe probe;
            try {
                probe = p.probe();
            } catch (RuntimeException | LinkageError e) {
                probe = BackendProvider.Probe.no("probe failed: " + e);
            }
            PROVIDERS.put(p.name(), p);
            PROBES.put(p.name(), probe);
            LOG.log(Level.DEBUG, "backend {0}: {1} ({2})", p.name(),
                    probe.available() ? "available" : "unavailable", probe.reason());
        }
    }

    /** Names of all backends found, best first, with their probe results. */
    public static synchronized Map<String, BackendProvider.Probe> probes() {
        discover();
        return new LinkedHashMap<>(PROBES);
    }

    /** The backend called {@code name}, created once; an error saying why if it cannot run here. */
    public static synchronized Backend get(String name) {
        discover();
        Backend b = CREATED.get(name);
        if (b != null) return b;
        BackendProvider p = PROVIDERS.get(name);
        if (p == null) {
            throw new IllegalArgumentException("unknown backend '" + name + "'; found: " + PROVIDERS.keySet());
        }
        BackendProvider.Probe probe = PROBES.get(name);
        if (!probe.available()) {
            throw new IllegalStateException("backend '" + name + "' is unavailable: " + probe.reason());
        }
        b = p.create();
        CREATED.put(name, b);
        return b;
    }

    /** The default backend, chosen on first use and logged with the reason. */
    public static synchronized Backend getDefault() {
        if (defaultBackend != null) return defaultBackend;
        discover();
        String requested = System.getProperty(PROPERTY);
        if (requested != null && !requested.isBlank()) {
            defaultBackend = get(requested.trim());
            LOG.log(Level.INFO, "Using backend {0}: requested by -D{1} ({2})", requested, PROPERTY,
                    PROBES.get(requested.trim()).reason());
            return defaultBackend;
        }
        StringBuilder skipped = new StringBuilder();
        for (Map.Entry<String, BackendProvider.Probe> e : PROBES.entrySet()) {
            if (e.getValue().available()) {
                defaultBackend = get(e.getKey());
                LOG.log(Level.INFO, "Using backend {0}: {1}{2}", e.getKey(), e.getValue().reason(), skipped);
                return defaultBackend;
            }
            String reason = e.getValue().reason();   // a reason that names its backend is not prefixed again
            skipped.append("; ").append(reason.regionMatches(true, 0, e.getKey(), 0, e.getKey().length())
                    ? reason : e.getKey() + " unavailable: " + reason);
        }
        throw new IllegalStateException("no backend available" + skipped);
    }

    /** Makes {@code name} the default from now on (logged). */
    public static synchronized Backend setDefault(String name) {
        defaultBackend = get(name);
        LOG.log(Level.INFO, "Using backend {0}: set by the application ({1})", name, PROBES.get(name).reason());
        return defaultBackend;
    }
}

package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.BackendProvider;
import ai.crate.engine.Backends;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options every command shares: which device or backend, and how many threads the CPU backends use. */
final class BackendOptions {
    enum DeviceChoice { auto, cuda, cpu }

    @Option(names = "--device", paramLabel = "DEVICE",
            description = "cuda, cpu or auto (default: auto = CUDA when a GPU works, else the best CPU backend; "
                    + "the choice and why are logged).")
    DeviceChoice device = DeviceChoice.auto;

    @Option(names = "--backend", paramLabel = "NAME",
            description = "A backend by name: cuda, simd or reference (overrides --device).")
    String backend;

    @Option(names = "--threads", paramLabel = "T", description = "Threads of the CPU backend (default: all cores).")
    Integer threads;

    Backend resolve() {
        if (threads != null) {
            if (threads < 1) throw new IllegalArgumentException("--threads must be positive, got " + threads);
            System.setProperty("crate.threads", Integer.toString(threads));
        }
        if (backend != null) return Backends.setDefault(backend);
        return switch (device) {
            case auto -> Backends.getDefault();
            case cuda -> Backends.setDefault("cuda");
            case cpu -> Backends.setDefault(bestCpuBackend());
        };
    }

    /** The available backend with the highest priority that is not the GPU one. */
    private static String bestCpuBackend() {
        StringBuilder why = new StringBuilder();
        for (Map.Entry<String, BackendProvider.Probe> e : Backends.probes().entrySet()) {
            if (e.getKey().equals("cuda")) continue;
            if (e.getValue().available()) return e.getKey();
            why.append("; ").append(e.getKey()).append(": ").append(e.getValue().reason());
        }
        throw new IllegalStateException("--device cpu: no CPU backend is available" + why);
    }
}

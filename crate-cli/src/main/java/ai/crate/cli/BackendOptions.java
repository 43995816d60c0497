package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Backends;
import picocli.CommandLine.Option;

/** Options every command shares: which backend, and how many threads the CPU backends use. */
final class BackendOptions {
    @Option(names = "--backend", paramLabel = "NAME",
            description = "Backend: simd or reference (default: the best available, logged).")
    String backend;

    @Option(names = "--threads", paramLabel = "T", description = "Threads of the CPU backend (default: all cores).")
    Integer threads;

    Backend resolve() {
        if (threads != null) {
            if (threads < 1) throw new IllegalArgumentException("--threads must be positive, got " + threads);
            System.setProperty("crate.threads", Integer.toString(threads));
        }
        return backend == null ? Backends.getDefault() : Backends.setDefault(backend);
    }
}

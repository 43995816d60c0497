package ai.crate.model;

import ai.crate.cuda.CudaBackend;
import ai.crate.cuda.emu.EmulatedDevice;
import ai.crate.engine.Backend;
import ai.crate.engine.BackendProvider;
import ai.crate.engine.Backends;
import ai.crate.engine.ReferenceBackend;
import ai.crate.simd.SimdBackend;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * The backends model tests run on, by name: "reference", "simd", "cuda-emulated" (the CUDA backend with its kernels
 * run by the CPU emulator, so CI checks the whole CUDA path) and "cuda" (a real GPU; a test asking for it without
 * one is skipped with the probe's reason). One instance of each per JVM.
 */
public final class TestBackends {
    public static final List<String> ALL = List.of("reference", "simd", "cuda-emulated", "cuda");

    private static Backend reference, simd, cudaEmulated;
    private static boolean cudaReported;

    private TestBackends() {}

    public static synchronized Backend named(String name) {
        return switch (name) {
            case "reference" -> reference != null ? reference : (reference = new ReferenceBackend());
            case "simd" -> simd != null ? simd : (simd = new SimdBackend(2));
            case "cuda-emulated" -> cudaEmulated != null ? cudaEmulated
                    : (cudaEmulated = new CudaBackend(new EmulatedDevice(227 * 1024)));
            case "cuda" -> gpu();
            default -> throw new IllegalArgumentException("unknown test backend " + name + "; known: " + ALL);
        };
    }

    private static Backend gpu() {
        BackendProvider.Probe probe = Backends.probes().get("cuda");
        if (probe == null || !probe.available()) {
            String why = probe == null ? "the cuda backend is not on the class path" : probe.reason();
            if (!cudaReported) System.out.println("GPU tests skipped: " + why);
            cudaReported = true;
            Assumptions.abort(why);
        }
        return Backends.get("cuda");
    }
}

package ai.crate.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.BackendProvider;
import ai.crate.engine.Backends;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/**
 * The provider's probe on whatever machine runs the tests: without an NVIDIA GPU it must say, in one line, why
 * CUDA is unavailable (here: libcuda.so.1 is missing) without throwing; with one it must find the device.
 */
class CudaProbeTest {
    /** An NVIDIA device node means a driver and a GPU (a container without one may still have libcuda). */
    static boolean gpuHost() {
        return Files.exists(Path.of("/dev/nvidia0")) || Files.exists(Path.of("/dev/dxg"));
    }

    /** Whether libcuda.so.1 is in one of the usual places or on LD_LIBRARY_PATH. */
    static boolean libcudaPresent() {
        List<String> dirs = new ArrayList<>(List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
                "/lib/x86_64-linux-gnu", "/usr/lib/wsl/lib", "/usr/local/nvidia/lib64", "/usr/lib/aarch64-linux-gnu"));
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) dirs.addAll(List.of(ld.split(":")));
        return dirs.stream().filter(d -> !d.isEmpty()).anyMatch(d -> Files.exists(Path.of(d, "libcuda.so.1")));
    }

    /** Hardware the prebuilt kernels do not support: the probe says so and the test accepts it. */
    static boolean unsupportedHardware(String reason) {
        return reason.contains("needs sm_80 or newer") || reason.contains("(R580+)");
    }

    @Test
    void probeSaysInOneLineWhetherCudaRuns() {
        BackendProvider.Probe probe = new CudaBackendProvider().probe();
        String reason = probe.reason();
        System.out.println("cuda probe: " + (probe.available() ? "available: " : "unavailable: ") + reason);
        assertFalse(reason.isBlank(), "empty reason");
        assertFalse(reason.contains("\n") || reason.contains("\r"), "multi-line reason: " + reason);
        assertTrue(reason.length() < 300, "reason too long: " + reason);
        if (gpuHost() && !unsupportedHardware(reason)) {
            assertTrue(probe.available(), "a GPU host must offer CUDA: " + reason);
            assertTrue(reason.contains("sm_") && reason.contains("GiB") && reason.contains("driver CUDA"), reason);
        } else {
            assertFalse(probe.available(), "no GPU here, yet the probe says: " + reason);
            assertTrue(reason.startsWith("CUDA unavailable: "), reason);
            if (!libcudaPresent()) assertTrue(reason.contains("libcuda.so.1"), "should name libcuda.so.1: " + reason);
        }
        // Probed once: a failed native load cannot be retried in the same JVM, and the answer must not change.
        assertEquals(probe, new CudaBackendProvider().probe());
    }

    @Test
    void serviceLoaderFindsTheProvider() {
        BackendProvider cuda = null;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) if (p.name().equals("cuda")) cuda = p;
        assertTrue(cuda instanceof CudaBackendProvider, "no cuda provider through ServiceLoader");
        assertEquals(20, cuda.priority());
    }

    @Test
    void backendsListsCudaWithItsProbe() {
        var probes = Backends.probes();
        assertTrue(probes.containsKey("cuda"), "Backends.probes() = " + probes.keySet());
        assertEquals(new CudaBackendProvider().probe(), probes.get("cuda"));
        assertEquals("cuda", probes.keySet().iterator().next(), "cuda has the highest priority: " + probes.keySet());
    }

    @Test
    void cublasReportsWhyItCannotLoadWithoutThrowing() {
        CublasProbe.Availability a = CublasProbe.availability();
        System.out.println("cublas: " + (a.available() ? "available: " : "unavailable: ") + a.reason());
        assertFalse(a.reason().isBlank());
        assertFalse(a.reason().contains("\n"), a.reason());
        if (!a.available() && !gpuHost()) {
            assertTrue(a.reason().contains("libcublas.so.12") || a.reason().contains("JCublas"), a.reason());
        }
        assertEquals(a, CublasProbe.availability());
    }

    @Test
    void jcudaLoadFailuresBecomeOneShortLine() {
        String dump = """
                Error while loading native library "JCudaDriver-12.6.0-linux-x86_64"
                Operating system name: Linux
                ---(start of nested stack traces)---
                Stack trace from the attempt to load the library as a file:
                java.lang.UnsatisfiedLinkError: no JCudaDriver-12.6.0-linux-x86_64 in java.library.path: /usr/lib
                \tat java.base/java.lang.ClassLoader.loadLibrary(ClassLoader.java:2285)
                Stack trace from the attempt to load the library as a resource:
                java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open shared object file: No such file or directory
                \tat java.base/jdk.internal.loader.NativeLibraries.load(Native Method)
                ---(end of nested stack traces)---
                """;
        assertEquals("libcuda.so.1 not found", CudaBackendProvider.linkFailure(new UnsatisfiedLinkError(dump)));
        // The second use of a class whose initializer failed: the cause chain still holds the original text.
        var again = new NoClassDefFoundError("Could not initialize class jcuda.driver.JCudaDriver");
        again.initCause(new ExceptionInInitializerError("Exception java.lang.UnsatisfiedLinkError: " + dump));
        assertEquals("libcuda.so.1 not found", CudaBackendProvider.linkFailure(again));
        assertEquals("undefined symbol cuFooBar_v2", CudaBackendProvider.linkFailure(new UnsatisfiedLinkError(
                "/tmp/libJCudaDriver.so: /lib/libcuda.so.1: undefined symbol: cuFooBar_v2")));
        assertEquals("class jcuda/driver/JCudaDriver not on the class path",
                CudaBackendProvider.linkFailure(new NoClassDefFoundError("jcuda/driver/JCudaDriver")));
        assertEquals("something else", CudaBackendProvider.linkFailure(new UnsatisfiedLinkError("something else\nmore")));
    }
}

package ai.crate.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The prebuilt kernel image in resources matches src/main/cuda (see build-kernels.sh). */
class KernelImageTest {
    private static final Path SOURCES = sources();

    /** Set by the pom; otherwise (a bundled run from the repository root) src/main/cuda or kernels-cuda/src/main/cuda. */
    private static Path sources() {
        String property = System.getProperty("crate.cuda.sources");
        if (property != null) return Path.of(property);
        Path local = Path.of("src/main/cuda");
        return java.nio.file.Files.isDirectory(local) ? local : Path.of("kernels-cuda/src/main/cuda");
    }

    private static Set<String> cuModules() {
        Set<String> names = new TreeSet<>();
        for (Path p : KernelImage.sources(SOURCES)) {
            String n = p.getFileName().toString();
            if (n.endsWith(".cu")) names.add(n.substring(0, n.length() - 3));
        }
        return names;
    }

    @Test
    void manifestListsEveryCuFile() {
        Set<String> expected = cuModules();
        assertFalse(expected.isEmpty(), "no .cu files in " + SOURCES.toAbsolutePath());
        assertEquals(expected, new TreeSet<>(KernelImage.load().modules()),
                "manifest.properties lists other modules than " + SOURCES + " has; run kernels-cuda/build-kernels.sh");
    }

    /**
     * Everywhere, nvcc or not: the hash needs only the sources, so a .cu edit without rebuilt fatbins fails on every
     * machine (CI has no CUDA toolkit); only the rebuild itself needs nvcc.
     */
    @Test
    void storedHashMatchesTheSources() {
        String stored = KernelImage.load().sourcesSha256();
        String actual = KernelImage.sourceHash(SOURCES);
        Path nvcc = onPath("nvcc");
        assertEquals(stored, actual, "the fatbins in src/main/resources/ai/crate/cuda/kernels were built from other "
                + "sources than " + SOURCES + ": run kernels-cuda/build-kernels.sh "
                + (nvcc != null ? "(nvcc: " + nvcc + ")" : "on a machine with nvcc (CUDA 13), then commit the fatbins"));
    }

    @Test
    void everyFatbinIsThereAndIsAFatbin() throws IOException {
        KernelImage image = KernelImage.load();
        for (String module : image.modules()) {
            String name = KernelImage.resourceName(module);
            try (InputStream in = KernelImage.class.getClassLoader().getResourceAsStream(name)) {
                assertNotNull(in, name + " missing");
                byte[] bytes = in.readAllBytes();
                assertTrue(bytes.length > 16, name + " is empty");
                assertTrue(KernelImage.isFatbin(bytes), name + " does not start with the fatbin magic 0xBA55ED50");
            }
            assertTrue(image.fatbin(module).length > 16);
        }
    }

    /** The Java hash is the script's: sha256sum of the sorted sources, hashed again (when the tools exist). */
    @Test
    void sourceHashIsTheScriptsDefinition(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("b.cu"), "extern \"C\" __global__ void b() {}\n");
        Files.writeString(dir.resolve("a_z.cuh"), "#pragma once\n// ünïcode\n");
        Files.writeString(dir.resolve("a.cu"), "#include \"a_z.cuh\"\n");
        Files.writeString(dir.resolve("B.cu"), "upper case sorts first\n");
        Files.writeString(dir.resolve("notes.txt"), "not hashed\n");
        assertEquals(List.of("B.cu", "a.cu", "a_z.cuh", "b.cu"),
                KernelImage.sources(dir).stream().map(p -> p.getFileName().toString()).toList());
        String java = KernelImage.sourceHash(dir);
        assertTrue(java.matches("[0-9a-f]{64}"), java);
        Files.writeString(dir.resolve("notes.txt"), "still not hashed\n");
        assertEquals(java, KernelImage.sourceHash(dir));

        if (onPath("bash") == null || onPath("sha256sum") == null) {
            System.out.println("KernelImageTest: bash or sha256sum missing; compared the Java hash with itself only");
            return;
        }
        // The exact pipeline of build-kernels.sh.
        Process p = new ProcessBuilder("bash", "-c", "export LC_ALL=C; shopt -s nullglob; "
                + "for f in *.cu *.cuh; do echo \"$f\"; done | sort | xargs -d '\\n' sha256sum | sha256sum | cut -d' ' -f1")
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String shell = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), shell);
        assertEquals(shell, java);
        Files.writeString(dir.resolve("a.cu"), "changed\n");
        assertFalse(java.equals(KernelImage.sourceHash(dir)), "a changed source changes the hash");
    }

    @Test
    void manifestRecordsHowItWasBuilt() {
        var manifest = KernelImage.load().manifest();
        assertTrue(manifest.get("sources.sha256").matches("[0-9a-f]{64}"), manifest.toString());
        assertTrue(manifest.containsKey("nvcc"), manifest.toString());
        assertEquals("sm_80,sm_90,compute_90", manifest.get("gencode"));
    }

    private static Path onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, tool);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return p;
        }
        return null;
    }
}

package ai.crate.cuda.emu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Compiles the CUDA emulator for tests: {@code src/test/emu} (cuda_emu.h, emu_runtime.cpp, selftest.cu) and every
 * kernel of {@code src/main/cuda}, with g++, into {@code target/emu/libcrate_cuda_emu-<hash>.so}. The hash covers
 * every file of both folders and the compiler flags, so a library is reused until something changed. Built at most
 * once per JVM; {@link EmulatedDevice} loads it.
 *
 * <p>Each {@code .cu} becomes its own translation unit, as nvcc builds each into its own module: a generated
 * source includes it inside an anonymous namespace (so file-local helpers of different files may share names) and
 * registers its kernels, every {@code extern "C" __global__ void NAME(} found in it.
 *
 * <p>Without g++ (or off Linux) there is no emulator and tests skip; when g++ exists but rejects the sources the
 * tests fail, so a kernel that stopped compiling never turns into a skipped test.
 */
public final class EmulatorBuild {
    /** The library, or else why there is none and whether that means skipping the tests (no compiler). */
    public record Result(Path library, String problem, boolean skip) {
        static Result built(Path library) { return new Result(library, null, false); }

        static Result skipped(String why) { return new Result(null, why, true); }

        static Result failed(String why) { return new Result(null, why, false); }
    }

    private static final String COMPILER = "g++";
    // -fno-strict-aliasing: kernels read float arrays as float4 (gemm.cu), which C++'s aliasing rules would let g++
    // reorder against the float accesses.
    private static final List<String> FLAGS =
            List.of("-std=c++20", "-O2", "-shared", "-fPIC", "-fno-strict-aliasing", "-DCRATE_EMULATION");
    // extern "C" __global__ void NAME(, with __launch_bounds__(MAX_THREADS[, ...]) before or after the void.
    private static final Pattern KERNEL = Pattern.compile(
            "extern\\s+\"C\"\\s+__global__\\s+(?:__launch_bounds__\\s*\\(([^,)]*)[^)]*\\)\\s*)?void\\s+"
                    + "(?:__launch_bounds__\\s*\\(([^,)]*)[^)]*\\)\\s*)?([A-Za-z_]\\w*)\\s*\\(");
    private static final Pattern COMMENT = Pattern.compile("//[^\\n]*|/\\*.*?\\*/", Pattern.DOTALL);
    private static final long COMPILE_TIMEOUT_MINUTES = 10;
    private static final int OUTPUT_TAIL_CHARS = 6000;

    private EmulatorBuild() {}

    private static final class Once {
        static final Result RESULT = build();
    }

    /** The build's result, building on the first call (thread-safe; later calls return the same result). */
    public static Result result() { return Once.RESULT; }

    /**
     * For tests: the library; or skips the calling test (printing why) when there is no compiler, or fails it when
     * the sources do not compile.
     */
    public static Path requireLibrary() {
        Result result = result();
        if (result.library() != null) return result.library();
        if (result.skip()) {
            System.out.println("Skipping the CUDA emulator tests: " + result.problem());
            Assumptions.assumeTrue(false, result.problem());   // throws: the test is skipped
        }
        return Assertions.fail("The CUDA emulator does not build: " + result.problem());
    }

    private static Result build() {
        if (!System.getProperty("os.name", "").startsWith("Linux")) {
            return Result.skipped("the CUDA emulator runs on Linux only (ucontext fibers), not on "
                    + System.getProperty("os.name"));
        }
        try {
            return build(moduleDirectory());
        } catch (IOException | UncheckedIOException e) {
            return Result.failed("building the CUDA emulator: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Result.failed("interrupted while compiling the CUDA emulator");
        }
    }

    /**
     * kernels-cuda: the working directory (surefire's, the module's), its kernels-cuda (run from the root), or the
     * sibling kernels-cuda (tests of another module, e.g. crate-model's, using the emulator from the test-jar).
     */
    private static Path moduleDirectory() throws IOException {
        Path cwd = Path.of("").toAbsolutePath();
        Path sibling = cwd.getParent() == null ? cwd : cwd.getParent().resolve("kernels-cuda");
        for (Path candidate : List.of(cwd, cwd.resolve("kernels-cuda"), sibling)) {
            if (Files.isDirectory(candidate.resolve("src/main/cuda"))) return candidate;
        }
        throw new IOException("cannot find kernels-cuda/src/main/cuda from " + cwd);
    }

    private static Result build(Path module) throws IOException, InterruptedException {
        Path mainSources = module.resolve("src/main/cuda");
        Path emuSources = module.resolve("src/test/emu");
        List<Path> inputs = new ArrayList<>(filesIn(mainSources));
        inputs.addAll(filesIn(emuSources));

        List<Unit> units = new ArrayList<>();
        for (Path cu : inputs) {
            if (!cu.getFileName().toString().endsWith(".cu")) continue;
            String prefix = cu.getParent().equals(mainSources) ? "main_" : "test_";
            units.add(new Unit(prefix + cu.getFileName().toString().replace(".cu", ".cpp"), unitText(cu)));
        }

        MessageDigest digest = sha256();
        digest.update(String.join(" ", FLAGS).getBytes(StandardCharsets.UTF_8));
        for (Path input : inputs) {
            digest.update(module.relativize(input).toString().getBytes(StandardCharsets.UTF_8));
            digest.update(Files.readAllBytes(input));
        }
        for (Unit unit : units) digest.update(unit.text().getBytes(StandardCharsets.UTF_8));
        String hash = HexFormat.of().formatHex(digest.digest(), 0, 8);

        Path out = module.resolve("target/emu");
        Path library = out.resolve("libcrate_cuda_emu-" + hash + ".so");
        if (Files.isRegularFile(library)) return Result.built(library);

        // A folder of this JVM's own, so concurrent builds (another Maven run) do not write over each other's files.
        Path work = Files.createDirectories(out.resolve("build-" + hash + "-" + ProcessHandle.current().pid()));
        List<String> command = new ArrayList<>(List.of(COMPILER));
        command.addAll(FLAGS);
        command.addAll(List.of("-I", mainSources.toString(), "-I", emuSources.toString(), "-o",
                work.resolve("lib.so").toString(), emuSources.resolve("emu_runtime.cpp").toString()));
        for (Unit unit : units) {
            Path source = work.resolve(unit.fileName());
            Files.writeString(source, unit.text());
            command.add(source.toString());
        }
        Path log = work.resolve("compile.log");
        Process process;
        try {
            process = new ProcessBuilder(command).directory(module.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            deleteFolder(work);
            return Result.skipped(COMPILER + " is not available (" + e.getMessage() + ")");
        }
        if (!process.waitFor(COMPILE_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            return Result.failed(COMPILER + " took more than " + COMPILE_TIMEOUT_MINUTES + " minutes; see " + log);
        }
        if (process.exitValue() != 0) {
            return Result.failed("the CUDA sources do not compile in the emulator (" + COMPILER + " exit "
                    + process.exitValue() + "; generated sources in " + work + "):\n" + tail(Files.readString(log)));
        }
        Files.move(work.resolve("lib.so"), library, StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        deleteFolder(work);   // kept only when the compiler failed: its messages point into the generated sources
        return Result.built(library);
    }

    private static void deleteFolder(Path folder) throws IOException {
        for (Path file : filesIn(folder)) Files.delete(file);
        Files.delete(folder);
    }

    private static List<Path> filesIn(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(Files::isRegularFile).sorted().toList();
        }
    }

    /** A generated source: one .cu as its own translation unit. */
    private record Unit(String fileName, String text) {}

    /** The translation unit of one .cu: the file, then a registration of each of its kernels. */
    private static String unitText(Path cu) throws IOException {
        StringBuilder text = new StringBuilder()
                .append("// Generated by ai.crate.cuda.emu.EmulatorBuild from ").append(cu).append('\n')
                .append("#include \"cuda_emu.h\"\n")
                .append("namespace {\n")
                .append("#include \"").append(cu).append("\"\n")
                .append("}\n")
                .append("static const crate_emu::Registration registration({\n");
        Matcher kernel = KERNEL.matcher(COMMENT.matcher(Files.readString(cu)).replaceAll(" "));
        while (kernel.find()) {
            String name = kernel.group(3);
            String maxThreads = kernel.group(1) != null ? kernel.group(1) : kernel.group(2) != null ? kernel.group(2)
                    : "1024";
            text.append("    {\"").append(name).append("\", [](void** p) { crate_emu::call(&").append(name)
                    .append(", p); }, crate_emu::signature(&").append(name).append("), ").append(maxThreads.strip())
                    .append("},\n");
        }
        return text.append("});\n").toString();
    }

    private static String tail(String output) {
        int length = output.length();
        return length <= OUTPUT_TAIL_CHARS ? output : "…" + output.substring(length - OUTPUT_TAIL_CHARS);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

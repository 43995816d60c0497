package ai.crate.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * The prebuilt kernels: one fatbin per {@code src/main/cuda/<module>.cu} (SASS for sm_80 and sm_90, PTX for
 * compute_90), kept in the resources under {@value #RESOURCE_DIR} with a {@value #MANIFEST} that lists the modules
 * and a hash of the sources they were built from. {@code kernels-cuda/build-kernels.sh} writes both; building the
 * module never needs nvcc.
 *
 * <p>The source hash ({@link #sourceHash}, {@code sources.sha256} in the manifest) is the SHA-256 of the text
 * {@code sha256sum} prints for every {@code *.cu} and {@code *.cuh} file directly in the CUDA source folder, file
 * names sorted by their bytes: for each file the line {@code "<lower-case hex SHA-256 of its bytes>  <file name>\n"}
 * (two spaces), the lines concatenated and hashed as UTF-8. By hand:
 * {@code cd src/main/cuda && LC_ALL=C ls *.cu *.cuh | LC_ALL=C sort | xargs sha256sum | sha256sum}.
 */
public final class KernelImage {
    /** Class-path folder of the fatbins and the manifest. */
    public static final String RESOURCE_DIR = "ai/crate/cuda/kernels/";
    /** The manifest's file name in {@link #RESOURCE_DIR}. */
    public static final String MANIFEST = "manifest.properties";
    /** The first four bytes of every fatbin (0xBA55ED50, little-endian). */
    private static final byte[] FATBIN_MAGIC = {0x50, (byte) 0xED, 0x55, (byte) 0xBA};

    private final ClassLoader loader;
    private final Map<String, String> manifest;
    private final List<String> modules;

    private KernelImage(ClassLoader loader, Map<String, String> manifest, List<String> modules) {
        this.loader = loader;
        this.manifest = manifest;
        this.modules = modules;
    }

    /**
     * Reads the manifest from the class path (the fatbins are read by {@link #fatbin}); an
     * {@link IllegalStateException} naming the script to run when it is missing or lists no modules.
     */
    public static KernelImage load() {
        ClassLoader loader = KernelImage.class.getClassLoader();
        Properties p = new Properties();
        try (InputStream in = loader.getResourceAsStream(RESOURCE_DIR + MANIFEST)) {
            if (in == null) {
                throw new IllegalStateException("CUDA kernel image missing: no " + RESOURCE_DIR + MANIFEST
                        + " on the class path; run kernels-cuda/build-kernels.sh (needs nvcc 13)");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE_DIR + MANIFEST, e);
        }
        Map<String, String> manifest = new LinkedHashMap<>();
        p.stringPropertyNames().stream().sorted().forEach(k -> manifest.put(k, p.getProperty(k)));
        String list = manifest.getOrDefault("modules", "").trim();
        List<String> modules = list.isEmpty() ? List.of()
                : Arrays.stream(list.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        if (modules.isEmpty()) {
            throw new IllegalStateException("CUDA kernel image: " + RESOURCE_DIR + MANIFEST
                    + " lists no modules; run kernels-cuda/build-kernels.sh");
        }
        return new KernelImage(loader, Collections.unmodifiableMap(manifest), modules);
    }

    /** Module names (the .cu file names without extension), in the order the manifest lists them. */
    public List<String> modules() { return modules; }

    /** The {@code sources.sha256} the image was built from (see the class comment). */
    public String sourcesSha256() { return manifest.getOrDefault("sources.sha256", ""); }

    /** Every manifest entry (modules, sources.sha256, nvcc version, gencode, flags), sorted by key. */
    public Map<String, String> manifest() { return manifest; }

    /** The resource path of a module's fatbin. */
    public static String resourceName(String module) { return RESOURCE_DIR + module + ".fatbin"; }

    /** The bytes of a module's fatbin, for {@code cuModuleLoadData}; an error naming the resource if missing. */
    public byte[] fatbin(String module) {
        String name = resourceName(module);
        try (InputStream in = loader.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("CUDA kernel image: " + name + " is listed in " + MANIFEST
                        + " but missing from the class path; run kernels-cuda/build-kernels.sh");
            }
            byte[] bytes = in.readAllBytes();
            if (!isFatbin(bytes)) {
                throw new IllegalStateException("CUDA kernel image: " + name + " (" + bytes.length
                        + " bytes) does not start with the fatbin magic 0xBA55ED50");
            }
            return bytes;
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + name, e);
        }
    }

    /** Whether {@code bytes} starts with the fatbin magic number. */
    public static boolean isFatbin(byte[] bytes) {
        return bytes.length >= FATBIN_MAGIC.length
                && Arrays.equals(bytes, 0, FATBIN_MAGIC.length, FATBIN_MAGIC, 0, FATBIN_MAGIC.length);
    }

    /** The files the hash covers: {@code *.cu} and {@code *.cuh} directly in {@code cudaDir}, sorted by name. */
    public static List<Path> sources(Path cudaDir) {
        try (Stream<Path> files = Files.list(cudaDir)) {
            return files.filter(Files::isRegularFile)
                    .filter(f -> {
                        String n = f.getFileName().toString();
                        return n.endsWith(".cu") || n.endsWith(".cuh");
                    })
                    .sorted((a, b) -> compareBytes(a.getFileName().toString(), b.getFileName().toString()))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("listing " + cudaDir, e);
        }
    }

    /** Recomputes {@code sources.sha256} the way build-kernels.sh does (see the class comment). */
    public static String sourceHash(Path cudaDir) {
        StringBuilder listing = new StringBuilder();
        for (Path f : sources(cudaDir)) {
            try {
                listing.append(hex(sha256(Files.readAllBytes(f)))).append("  ")
                        .append(f.getFileName().toString()).append('\n');
            } catch (IOException e) {
                throw new UncheckedIOException("reading " + f, e);
            }
        }
        return hex(sha256(listing.toString().getBytes(StandardCharsets.UTF_8)));
    }

    /** Byte order of the UTF-8 names, as {@code LC_ALL=C sort} orders them. */
    private static int compareBytes(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }

    private static String hex(byte[] bytes) { return HexFormat.of().formatHex(bytes); }
}

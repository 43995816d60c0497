package ai.crate.cuda;

import ai.crate.engine.Backend;
import ai.crate.engine.BackendProvider;
import java.lang.System.Logger.Level;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Offers {@link CudaBackend} when an NVIDIA driver, a CUDA device of sm_80 or newer and a CUDA 13 driver are
 * present; its priority (20, above simd's 10) makes it the default then. The probe never throws and never creates
 * a context: it loads JCuda's driver binding, runs {@code cuInit} and asks about the device, and otherwise says in
 * one line why not, e.g. "CUDA unavailable: libcuda.so.1 not found (no NVIDIA driver)".
 *
 * <p>{@code -Dcrate.cuda.device=N} picks the device (default 0).
 */
public final class CudaBackendProvider implements BackendProvider {
    /** System property choosing the device ordinal. */
    public static final String DEVICE_PROPERTY = "crate.cuda.device";
    /** The oldest driver the kernels are built for (nvcc 13): CUDA 13.0, as cuDriverGetVersion reports it. */
    static final int MIN_DRIVER_VERSION = 13000;
    private static final System.Logger LOG = System.getLogger("ai.crate.cuda.CudaBackendProvider");

    private static Probe cached;

    @Override public String name() { return "cuda"; }

    @Override public int priority() { return 20; }

    /** Probed once per JVM (a native library that failed to load cannot be retried). */
    @Override
    public Probe probe() {
        synchronized (CudaBackendProvider.class) {
            if (cached == null) {
                Probe p;
                try {
                    p = probeNow();
                } catch (RuntimeException | LinkageError e) {
                    p = Probe.no("CUDA unavailable: " + linkFailure(e));
                }
                cached = new Probe(p.available(), p.reason().replaceAll("\\s*\\R\\s*", "; "));
                // Quiet where there is simply no NVIDIA driver; louder where a GPU is there but cannot be used.
                boolean expected = cached.available() || cached.reason().contains("libcuda.so.1 not found");
                LOG.log(expected ? Level.DEBUG : Level.INFO, "cuda backend: {0}", cached.reason());
            }
            return cached;
        }
    }

    private static Probe probeNow() {
        String why = JCudaDevice.driverUnavailable();
        if (why != null) return Probe.no("CUDA unavailable: " + why);
        int ordinal;
        try {
            ordinal = ordinal();
        } catch (IllegalArgumentException e) {
            return Probe.no("CUDA unavailable: " + e.getMessage());
        }
        int count = JCudaDevice.deviceCount();
        if (count == 0) return Probe.no("CUDA unavailable: the driver sees no CUDA device");
        if (ordinal >= count) {
            return Probe.no("CUDA unavailable: -D" + DEVICE_PROPERTY + "=" + ordinal + " but the driver sees "
                    + count + " device(s)");
        }
        JCudaDevice.Info info = JCudaDevice.query(ordinal);
        if (!info.supported()) {
            return Probe.no("CUDA unavailable: " + info.describe()
                    + " needs sm_80 or newer: the kernels are built for sm_80/sm_90");
        }
        if (info.driverVersion() < MIN_DRIVER_VERSION) {
            return Probe.no("CUDA unavailable: " + info.describe() + ": the kernels are built by nvcc 13 and need a "
                    + "driver for CUDA " + JCudaDevice.cudaVersion(MIN_DRIVER_VERSION) + " or newer (R580+)");
        }
        KernelImage.load();   // the resources are there (an error naming build-kernels.sh otherwise)
        return Probe.yes(info.describe());
    }

    /** The device ordinal from {@value #DEVICE_PROPERTY}, 0 by default. */
    static int ordinal() {
        String v = System.getProperty(DEVICE_PROPERTY);
        if (v == null || v.isBlank()) return 0;
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 0) return n;
        } catch (NumberFormatException ignored) {
            // below
        }
        throw new IllegalArgumentException("-D" + DEVICE_PROPERTY + "=" + v + " is not a device number");
    }

    @Override
    public Backend create() { return new CudaBackend(JCudaDevice.open(ordinal())); }

    private static final Pattern MISSING_LIBRARY =
            Pattern.compile("([\\w.+-]+\\.(?:so(?:\\.\\d+)*|dylib|dll)): cannot open shared object file");
    private static final Pattern UNDEFINED_SYMBOL = Pattern.compile("undefined symbol: (\\S+)");

    /**
     * The root of a native-library failure in one short line: JCuda's {@link UnsatisfiedLinkError} carries a
     * multi-line dump of every attempt; this finds the missing library ("libcuda.so.1 not found"), a missing
     * symbol, or the last attempt's message.
     */
    static String linkFailure(Throwable e) {
        StringBuilder text = new StringBuilder();
        for (Throwable c = e; c != null && text.length() < 100_000; c = c.getCause()) text.append(c).append('\n');
        Matcher m = MISSING_LIBRARY.matcher(text);
        if (m.find()) return m.group(1) + " not found";
        m = UNDEFINED_SYMBOL.matcher(text);
        if (m.find()) return "undefined symbol " + m.group(1);
        String last = null;
        for (String line : text.toString().split("\\R")) {
            int i = line.indexOf("UnsatisfiedLinkError: ");
            if (i >= 0 && !line.contains("Error while loading native library")) {
                last = line.substring(i + "UnsatisfiedLinkError: ".length());
            }
        }
        if (last != null) return oneLine(last);
        if (e instanceof NoClassDefFoundError && e.getMessage() != null && !e.getMessage().startsWith("Could not")) {
            return "class " + oneLine(e.getMessage()) + " not on the class path";
        }
        return oneLine(String.valueOf(e));
    }

    /** The first line of {@code s}, trimmed. */
    static String oneLine(String s) {
        if (s == null) return "";
        String[] lines = s.strip().split("\\R", 2);
        return lines.length == 0 ? "" : lines[0].strip();
    }
}

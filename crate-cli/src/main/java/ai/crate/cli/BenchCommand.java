package ai.crate.cli;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.ProfilingBackend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.Architectures;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.nn.TokenMixer;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Param;
import com.google.gson.Gson;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Train-step (forward, cross-entropy, backward, AdamW step) and inference throughput of a preset on random data:
 * images per second, the median of several timed runs after warm-up. The PyTorch peer measured the same way is
 * tools/pytorch/bench_crate.py.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Train-step and inference images/s of a preset on random data (median of runs after warm-up).")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", required = true, paramLabel = "NAME",
            description = "Preset: ${COMPLETION-CANDIDATES}", completionCandidates = InfoCommand.Presets.class)
    String config;

    @Option(names = "--batch", paramLabel = "B", description = "Images per step (default by image size: 128 at 28 px (fmnist-small and "
            + "its twin), 64 at 32 px (cifar-tiny...), 16 at 224 px, else 32).")
    Integer batch;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "3", description = "Untimed steps first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--runs", paramLabel = "R", defaultValue = "5", description = "Timed runs (default ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--steps", paramLabel = "S", defaultValue = "3", description = "Steps per timed run (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--json", description = "One JSON object instead of text.")
    boolean json;

    @Option(names = "--image-size", paramLabel = "S", description = "Square images of S pixels instead of the preset's "
            + "(a multiple of its patch: more tokens, e.g. 448 or 896 for 784 or 3136 at patch 16).")
    Integer imageSize;

    @Option(names = "--profile", description = "Instead of timing, profile: per op kind (each GEMM shape, fused op, "
            + "norm, softmax, copy, elementwise, optimizer) its time per step, share and GFLOP/s or GB/s, for --steps "
            + "train steps and then inference batches (after --warmup).")
    boolean profile;

    @Option(names = "--peak-gflops", defaultValue = "0", paramLabel = "G", description = "With --profile: the "
            + "machine's fp32 peak, to show each GEMM's share of it (e.g. 515 for 2 Zen 5 cores with AVX-512).")
    double peakGflops;

    @Option(names = "--rows", defaultValue = "25", paramLabel = "N", description = "With --profile: rows per table "
            + "(default ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--attention", description = "Also time the first layer's attention alone (no norm or "
            + "projections) on random features of the model's token count: forward, and forward + backward.")
    boolean attention;

    @Option(names = "--no-train", description = "Time inference only (its peak RSS then is inference's alone, as an "
            + "inference runtime's is).")
    boolean noTrain;

    @Mixin
    BackendOptions backendOptions;

    /** By image size, so a preset and its twins share it: 128 for 28 px, 64 for 32 px, 16 for 224 px, else 32. */
    static int defaultBatch(ClassifierConfig c) {
        return switch (c.imageSize()) {
            case 28 -> 128;
            case 32 -> 64;
            case 224 -> 16;
            default -> 32;
        };
    }

    @Override
    public Integer call() {
        OptionChecks.atLeast("--warmup", warmup, 0);
        OptionChecks.atLeast("--runs", runs, 1);
        OptionChecks.atLeast("--steps", steps, 1);
        ClassifierConfig c = Architectures.classifierPreset(config);
        if (imageSize != null) {
            OptionChecks.atLeast("--image-size", imageSize, 1);
            c = c.withImageSize(imageSize);
        }
        int b = batch != null ? batch : defaultBatch(c);
        OptionChecks.atLeast("--batch", b, 1);
        Backend resolved = backendOptions.resolve();
        ProfilingBackend profiler = profile ? new ProfilingBackend(resolved) : null;
        Backend be = profile ? profiler : resolved;
        ImageClassifier model = Architectures.createClassifier(c, be, 0);
        Tensor images = be.empty(b, c.channels(), c.imageSize(), c.imageSize());
        be.randomUniform(images, 1, -1f, 1f);
        SplittableRandom r = new SplittableRandom(2);
        int[] labels = new int[b];
        for (int i = 0; i < b; i++) labels[i] = r.nextInt(c.numClasses());
        // every parameter decays, as the PyTorch peer's single parameter group
        AdamW opt = new AdamW(Param.of(model.namedParameters(), true), 1e-4f, 0.05f);

        Runnable trainStep = () -> {
            opt.zeroGrad();
            Variable loss = F.crossEntropy(model.forward(images), labels, 0f);
            loss.backward();
            opt.step();
            model.weightsChanged();
            loss.releaseGraph();
        };
        Runnable inferStep = () -> model.inference().logits(images);
        if (profile) return profile(profiler, c, b, trainStep, inferStep);
        Timing train = noTrain ? null : measure(be, trainStep, b), infer = measure(be, inferStep, b);

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("config", config);
        out.put("batch", b);
        out.put("backend", be.name());
        out.put("device", be.toString());
        out.put("threads", threadsOf(be));
        out.put("train_img_s", noTrain ? null : median(train.rates()));
        out.put("infer_img_s", median(infer.rates()));
        out.put("train_runs", noTrain ? new double[0] : train.rates());
        out.put("infer_runs", infer.rates());
        out.put("train_alloc_mb_per_step", noTrain ? null : train.allocatedMbPerStep());
        out.put("infer_alloc_mb_per_step", infer.allocatedMbPerStep());
        out.put("image_size", c.imageSize());
        out.put("tokens", c.tokens());
        if (attention) attentionTimes(model, be, b, c.tokens()).forEach(out::put);
        out.put("peak_heap_mb", peakHeapMb());
        out.put("peak_rss_mb", peakRssMb());
        double flops = Architectures.forwardFlopsPerImage(c);
        out.put("params", Architectures.parameterCount(c));
        out.put("train_gflop_s", noTrain ? null : median(train.rates()) * 3 * flops / 1e9);
        out.put("infer_gflop_s", median(infer.rates()) * flops / 1e9);
        out.put("java", Runtime.version().toString());
        if (json) {
            spec.commandLine().getOut().println(new Gson().toJson(out));
        } else {
            spec.commandLine().getOut().printf("%s batch %d on %s (%s threads): %sinference %.1f img/s, peak heap %.0f MB,"
                            + " peak RSS %s MB; heap allocated per step: %s%s MB inference%n", config, b, be,
                    out.get("threads"), noTrain ? "" : String.format(Locale.ROOT, "train %.1f img/s, ", median(train.rates())),
                    median(infer.rates()), peakHeapMb(), out.get("peak_rss_mb"),
                    noTrain ? "" : megabytes(train.allocatedMbPerStep()) + " MB train, ", megabytes(infer.allocatedMbPerStep()));
        }
        return 0;
    }

    /**
     * Milliseconds per call (median of the runs) of the first block's attention alone on random projected features
     * [B, tokens, width]: forward without a tape, and forward + backward (the maps kept, as in training).
     */
    private Map<String, Object> attentionTimes(ImageClassifier model, Backend be, int b, int tokens) {
        TokenMixer mixer = model.blocks().getFirst().mixer();
        Tensor w = be.empty(b, tokens, mixer.projectedWidth());
        be.randomNormal(w, 3, 0f, 1f);
        Variable input = Variable.parameter(w);
        Runnable forward = () -> {
            try (var noGrad = Autograd.noGrad()) {
                mixer.attend(input).discard();
            }
        };
        Runnable train = () -> {
            Variable out = mixer.attend(input);
            out.backward(out.value());
            input.zeroGrad();
            out.releaseGraph();
        };
        Map<String, Object> times = new LinkedHashMap<>();
        times.put("attention_fwd_ms", 1000 * b / median(measure(be, forward, b).rates()));
        times.put("attention_train_ms", 1000 * b / median(measure(be, train, b).rates()));
        return times;
    }

    /** The profile of --steps train steps, then of --steps inference batches, as two tables. */
    private int profile(ProfilingBackend profiler, ClassifierConfig c, int b, Runnable trainStep, Runnable inferStep) {
        var o = spec.commandLine().getOut();
        double flops = Architectures.forwardFlopsPerImage(c) * b;
        String[] names = {"train step (forward, backward, AdamW)", "inference"};
        Runnable[] work = {trainStep, inferStep};
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < warmup; i++) work[k].run();
            profiler.reset();
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) work[k].run();
            profiler.synchronize();
            double secs = (System.nanoTime() - t0) / 1e9 / steps, counted = 0, gemm = 0;
            for (var e : profiler.entries()) {
                counted += e.nanos() / 1e9 / steps;
                if (e.kind().equals("gemm")) gemm += e.nanos() / 1e9 / steps;
            }
            double modelFlops = flops * (k == 0 ? 3 : 1);
            o.printf(Locale.ROOT, "%s %s, batch %d on %s: %.1f ms per step, %.1f img/s, %.1f GFLOP/s by the model's "
                            + "count (%s); ops account for %.0f %% of the wall time, GEMMs %.0f %% of the ops%n", config,
                    names[k], b, profiler.inner(), 1000 * secs, b / secs, modelFlops / secs / 1e9,
                    peakGflops > 0 ? String.format(Locale.ROOT, "%.0f %% of %.0f peak", 100 * modelFlops / secs / 1e9
                            / peakGflops, peakGflops) : "no peak given", 100 * counted / secs, 100 * gemm / counted);
            o.print(profiler.table(steps, peakGflops, rows));
            o.println();
        }
        return 0;
    }

    /**
     * Images/s of each timed run after the warm-up, and the Java heap allocated per timed step by all threads: the
     * tape and a few buffers come to a few MB, while hundreds mean boxed vectors — a kernel C2 compiled without its
     * Vector API intrinsics (BENCHMARKS.md, speed-work items 8 and 9). Null where the JVM does not count allocation.
     */
    record Timing(double[] rates, Double allocatedMbPerStep) {}

    private Timing measure(Backend backend, Runnable step, int b) {
        for (int i = 0; i < warmup; i++) step.run();
        backend.synchronize();
        double[] rates = new double[runs];
        long allocated0 = allocatedBytes();
        for (int run = 0; run < runs; run++) {
            long t0 = System.nanoTime();
            for (int s = 0; s < steps; s++) step.run();
            backend.synchronize();   // an asynchronous backend (CUDA) has only queued the last steps
            rates[run] = (double) b * steps / ((System.nanoTime() - t0) / 1e9);
        }
        long allocated1 = allocatedBytes();
        Double perStep = allocated0 < 0 || allocated1 < 0 ? null
                : (allocated1 - allocated0) / 1048576.0 / ((double) runs * steps);
        return new Timing(rates, perStep);
    }

    private static String megabytes(Double mb) {
        return mb == null ? "n/a" : String.format(Locale.ROOT, "%.1f", mb);
    }

    /** Heap bytes allocated by every thread since the JVM started, dead ones included; −1 when not counted. */
    private static long allocatedBytes() {
        return ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
                && t.isThreadAllocatedMemoryEnabled() ? t.getTotalThreadAllocatedBytes() : -1;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static Object threadsOf(Backend be) {
        return be instanceof ai.crate.simd.SimdBackend s ? s.threads() : 1;
    }

    private static double peakHeapMb() {
        long bytes = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) bytes += pool.getPeakUsage().getUsed();
        }
        return bytes / 1048576.0;
    }

    /** The process's peak resident set (VmHWM), the same measure the PyTorch peer reports; null off Linux. */
    private static Double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        } catch (IOException | NumberFormatException e) {
            return null;
        }
        return null;
    }
}

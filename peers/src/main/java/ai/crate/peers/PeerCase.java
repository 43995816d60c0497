package ai.crate.peers;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One exported model (tools/pytorch/export_peers.py): its meta.json, the input batch and PyTorch's logits of it, and
 * the measuring protocol every peer shares with {@code crate bench}: warm-up steps, then the median over runs of
 * images/s, each run a few steps.
 */
record PeerCase(Path dir, String config, int batch, int channels, int imageSize, int numClasses, float[] input,
        float[] logits) {

    static PeerCase load(Path dir) throws IOException {
        Path metaFile = dir.resolve("meta.json");
        if (!Files.isRegularFile(metaFile)) {
            throw new IOException(metaFile + " not found: export the model first (tools/pytorch/export_peers.py)");
        }
        JsonObject meta = JsonParser.parseString(Files.readString(metaFile)).getAsJsonObject();
        int batch = meta.get("batch").getAsInt(), channels = meta.get("channels").getAsInt();
        int size = meta.get("image_size").getAsInt(), classes = meta.get("num_classes").getAsInt();
        return new PeerCase(dir, meta.get("config").getAsString(), batch, channels, size, classes,
                floats(dir.resolve("input.f32"), (long) batch * channels * size * size),
                floats(dir.resolve("logits.f32"), (long) batch * classes));
    }

    private static float[] floats(Path file, long count) throws IOException {
        long size = Files.size(file);
        if (size != 4 * count) {
            throw new IOException(file + ": " + size + " bytes, expected " + 4 * count + " (" + count + " float32)");
        }
        float[] out = new float[(int) count];
        ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    long[] inputShape() { return new long[] {batch, channels, imageSize, imageSize}; }

    /** Labels for the train step: fixed, every class present. */
    int[] labels() {
        int[] y = new int[batch];
        for (int i = 0; i < batch; i++) y[i] = (i * 7) % numClasses;
        return y;
    }

    /** ‖got − PyTorch's‖₂ / ‖PyTorch's‖₂; the peers must agree within 1e-4. */
    double logitsError(float[] got) {
        if (got.length != logits.length) {
            throw new IllegalStateException(config + ": " + got.length + " logits, expected " + logits.length);
        }
        double diff = 0, norm = 0;
        for (int i = 0; i < got.length; i++) {
            diff += (double) (got[i] - logits[i]) * (got[i] - logits[i]);
            norm += (double) logits[i] * logits[i];
        }
        return Math.sqrt(diff / norm);
    }

    /** Runs {@code warmup} untimed steps, then {@code runs} timed runs of {@code steps}; images/s of each run. */
    List<Double> time(Step step, int warmup, int runs, int steps) throws Exception {
        for (int i = 0; i < warmup; i++) step.run();
        List<Double> rates = new ArrayList<>();
        for (int r = 0; r < runs; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) step.run();
            rates.add((double) batch * steps / ((System.nanoTime() - t0) / 1e9));
        }
        return rates;
    }

    interface Step {
        void run() throws Exception;
    }

    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    /** This process's peak resident set (VmHWM), MB. */
    static double peakRssMb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        }
        throw new IOException("/proc/self/status has no VmHWM line");
    }

    /** The common command line: --dir D [--threads T] [--warmup W] [--runs R] [--steps S]. */
    static Map<String, String> options(String[] args, String usage) {
        Map<String, String> o = new java.util.HashMap<>(Map.of("--threads", "2", "--warmup", "3", "--runs", "5",
                "--steps", "3"));
        for (int i = 0; i < args.length; i += 2) {
            if (i + 1 >= args.length || !(args[i].equals("--dir") || o.containsKey(args[i]))) {
                throw new IllegalArgumentException("usage: " + usage + " (got " + Arrays.toString(args) + ")");
            }
            o.put(args[i], args[i + 1]);
        }
        if (!o.containsKey("--dir")) throw new IllegalArgumentException("usage: " + usage + " (--dir is required)");
        return o;
    }
}

package ai.crate.peers;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.google.gson.JsonObject;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Inference of an exported CRATE/ViT on ONNX Runtime: intra-op threads as ours, one inter-op thread, every graph
 * optimization on. Checks the logits against PyTorch's, then prints one JSON line.
 */
public final class OrtPeer {
    private OrtPeer() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> o = PeerCase.options(args, "OrtPeer --dir EXPORTED [--threads T] [--warmup W] [--runs R] "
                + "[--steps S]");
        PeerCase c = PeerCase.load(Path.of(o.get("--dir")));
        int threads = Integer.parseInt(o.get("--threads"));
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(threads);
            so.setInterOpNumThreads(1);
            so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            try (OrtSession session = env.createSession(c.dir().resolve("model.onnx").toString(), so)) {
                float[] logits = infer(env, session, c);
                double error = c.logitsError(logits);
                List<Double> rates = c.time(() -> infer(env, session, c), Integer.parseInt(o.get("--warmup")),
                        Integer.parseInt(o.get("--runs")), Integer.parseInt(o.get("--steps")));
                JsonObject r = new JsonObject();
                r.addProperty("impl", "onnxruntime");
                r.addProperty("runtime", "ONNX Runtime " + env.getVersion());
                r.addProperty("config", c.config());
                r.addProperty("batch", c.batch());
                r.addProperty("threads", threads);
                r.addProperty("infer_img_s", PeerCase.median(rates));
                r.addProperty("logits_rel_l2", error);
                r.addProperty("peak_rss_mb", PeerCase.peakRssMb());
                r.add("infer_img_s_runs", new com.google.gson.Gson().toJsonTree(rates));
                System.out.println(r);
                if (!(error <= 1e-4)) {
                    System.err.printf("%s: ONNX Runtime's logits differ from PyTorch's by %.3g (relative L2), over "
                            + "1e-4%n", c.config(), error);
                    System.exit(1);
                }
            }
        }
    }

    private static float[] infer(OrtEnvironment env, OrtSession session, PeerCase c) throws Exception {
        try (OnnxTensor images = OnnxTensor.createTensor(env, FloatBuffer.wrap(c.input()), c.inputShape());
             OrtSession.Result result = session.run(Map.of("images", images))) {
            float[][] out = (float[][]) result.get(0).getValue();
            float[] flat = new float[c.batch() * c.numClasses()];
            for (int i = 0; i < out.length; i++) System.arraycopy(out[i], 0, flat, i * c.numClasses(), c.numClasses());
            return flat;
        }
    }
}

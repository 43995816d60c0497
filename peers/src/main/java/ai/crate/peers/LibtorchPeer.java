package ai.crate.peers;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.AdamW;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An exported CRATE/ViT (TorchScript) on libtorch through DJL, as a Java user would run it: a train step is a DJL
 * Trainer's forward, softmax cross-entropy, backward and AdamW step (lr 1e-4, weight decay 0.05, as ours); inference
 * is a Predictor. Checks the logits against PyTorch's and that training lowers the loss, then prints one JSON line.
 */
public final class LibtorchPeer {
    private LibtorchPeer() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> o = PeerCase.options(args, "LibtorchPeer --dir EXPORTED [--threads T] [--warmup W] "
                + "[--runs R] [--steps S]");
        String threads = o.get("--threads");
        // Read once, when the engine starts: set them before anything touches DJL.
        System.setProperty("ai.djl.pytorch.num_threads", threads);
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        System.setProperty("ai.djl.offline", "true");
        PeerCase c = PeerCase.load(Path.of(o.get("--dir")));
        int warmup = Integer.parseInt(o.get("--warmup")), runs = Integer.parseInt(o.get("--runs"));
        int steps = Integer.parseInt(o.get("--steps"));
        Engine engine = Engine.getEngine("PyTorch");

        double error;
        List<Double> inferRates;
        try (Model model = Model.newInstance(c.config(), Device.cpu(), "PyTorch")) {
            model.load(c.dir(), "model");
            try (Predictor<float[], float[]> predictor = model.newPredictor(new Logits(c))) {
                error = c.logitsError(predictor.predict(c.input()));
                inferRates = c.time(() -> predictor.predict(c.input()), warmup, runs, steps);
            }
        }

        List<Double> trainRates, losses = new ArrayList<>();
        try (Model model = Model.newInstance(c.config(), Device.cpu(), "PyTorch")) {
            model.load(c.dir(), "model", Map.of("trainParam", "true"));
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(AdamW.builder().optLearningRateTracker(Tracker.fixed(1e-4f)).optWeightDecays(0.05f)
                            .build())
                    .optDevices(new Device[] {Device.cpu()});
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(c.inputShape()));
                int[] labels = c.labels();
                trainRates = c.time(() -> losses.add(trainStep(trainer, c, labels)), warmup, runs, steps);
            }
        }
        double first = losses.getFirst(), last = losses.getLast();

        JsonObject r = new JsonObject();
        r.addProperty("impl", "libtorch");
        r.addProperty("runtime", "libtorch " + engine.getVersion() + " (DJL " + Engine.getDjlVersion() + ")");
        r.addProperty("config", c.config());
        r.addProperty("batch", c.batch());
        r.addProperty("threads", Integer.parseInt(threads));
        r.addProperty("train_img_s", PeerCase.median(trainRates));
        r.addProperty("infer_img_s", PeerCase.median(inferRates));
        r.addProperty("logits_rel_l2", error);
        r.addProperty("loss_first", first);
        r.addProperty("loss_last", last);
        r.addProperty("peak_rss_mb", PeerCase.peakRssMb());
        r.add("train_img_s_runs", new Gson().toJsonTree(trainRates));
        r.add("infer_img_s_runs", new Gson().toJsonTree(inferRates));
        System.out.println(r);
        if (!(error <= 1e-4)) {
            System.err.printf("%s: libtorch's logits differ from PyTorch's by %.3g (relative L2), over 1e-4%n",
                    c.config(), error);
            System.exit(1);
        }
        if (!(last < first)) {
            System.err.printf("%s: DJL's train steps did not lower the loss (%.5f, then %.5f)%n", c.config(), first, last);
            System.exit(1);
        }
    }

    /** Forward, loss, backward and the optimizer step on the one batch; the loss before the step. */
    private static double trainStep(Trainer trainer, PeerCase c, int[] labels) {
        try (NDManager step = trainer.getManager().newSubManager()) {
            NDArray x = step.create(c.input(), new Shape(c.inputShape()));
            NDArray y = step.create(labels);
            float loss;
            try (GradientCollector collector = trainer.newGradientCollector()) {
                NDList logits = trainer.forward(new NDList(x));
                NDArray l = trainer.getLoss().evaluate(new NDList(y), logits);
                collector.backward(l);
                loss = l.getFloat();
            }
            trainer.step();
            return loss;
        }
    }

    /** The batch in, the logits out, no batchifier: the input already is the batch. */
    private record Logits(PeerCase c) implements Translator<float[], float[]> {
        @Override
        public NDList processInput(TranslatorContext ctx, float[] input) {
            return new NDList(ctx.getNDManager().create(input, new Shape(c.inputShape())));
        }

        @Override
        public float[] processOutput(TranslatorContext ctx, NDList list) {
            return list.singletonOrThrow().toFloatArray();
        }

        @Override
        public Batchifier getBatchifier() { return null; }
    }
}

package ai.crate.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.model.crate.Crate;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.nn.Pool;
import ai.crate.model.data.Augmentation;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.ImageDataset;
import ai.crate.model.data.Normalization;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Optimizer;
import ai.crate.model.optim.Param;
import ai.crate.model.optim.Schedule;
import ai.crate.engine.Backend;
import ai.crate.model.TestBackends;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training loop on a tiny CRATE and a synthetic, learnable data set: it learns, and resumes bit-exactly. On the
 * SIMD backend here, and on the emulated CUDA backend in {@link TrainerOnCudaTest}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public class TrainerTest {
    private final Backend be = backend();
    private final CrateConfig config = new CrateConfig(8, 1, 4, 16, 2, 2, 3, Pool.CLS, 0.1f, 0.1f);
    private final ImageDataset trainSet = synthetic(192, 1), testSet = synthetic(48, 2);

    @TempDir
    Path dir;

    /** The backend every test here trains on. */
    protected Backend backend() { return TestBackends.named("simd"); }

    /** Class k is a bright band in rows 2k..2k+2 over noise: easy enough to learn in a few epochs. */
    public static ImageDataset synthetic(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] px = new byte[n * 64];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(3);
            for (int p = 0; p < 64; p++) {
                int row = p / 8;
                int v = r.nextInt(80) + (row >= 2 * labels[i] && row < 2 * labels[i] + 3 ? 150 : 0);
                px[i * 64 + p] = (byte) Math.min(v, 255);
            }
        }
        return ImageDataset.of("synthetic", px, labels, 1, 8, 8, 3, List.of());
    }

    private Trainer trainer(Crate model, Path out, int epochs, long maxSteps) {
        Optimizer opt = new AdamW(Param.of(model.namedParameters(), false), 3e-3f, 0.05f);
        BatchLoader train = new BatchLoader(trainSet, 8, true, true, Augmentation.cropAndFlip(1),
                new Normalization(new float[] {0.3f}, new float[] {0.3f}), 7);
        BatchLoader test = BatchLoader.forEvaluation(testSet, 16, new Normalization(new float[] {0.3f}, new float[] {0.3f}));
        Schedule s = Schedule.warmupCosine(3e-3f, 6, (long) train.stepsPerEpoch() * epochs, 0f);
        return new Trainer(model, opt, s, train, test, new Trainer.Settings(epochs, 0, maxSteps, 0.1f, 1f, out),
                new Trainer.Listener() {});
    }

    @Test
    void learnsAndWritesMetricsAndCheckpoints() throws Exception {
        Path out = dir.resolve("run");
        Crate model = new Crate(config, be, 3);
        Trainer.Result r = trainer(model, out, 16, 0).run();
        assertTrue(r.finished());
        assertEquals(16, r.epoch());
        assertTrue(r.bestAccuracy() > 0.8, "synthetic bands should be learned, got " + r.bestAccuracy());
        List<String> metrics = Files.readAllLines(out.resolve("metrics.csv"));
        assertEquals(Trainer.METRICS_HEADER, metrics.getFirst());
        assertEquals(17, metrics.size(), "a row per epoch");
        Crate best = Checkpoints.load(out.resolve("best.safetensors"), be, LoadOptions.defaults(), Crate.class);
        assertEquals(config, best.config());
        Crate last = Checkpoints.load(out.resolve("last.safetensors"), be, LoadOptions.defaults(), Crate.class);
        model.namedParameters().forEach((k, v) -> assertArrayEquals(v.value().toFloatArray(),
                last.namedParameters().get(k).value().toFloatArray(), "last.safetensors holds the final " + k));
    }

    @Test
    void interruptedAndResumedEndsBitIdentical() throws Exception {
        Crate straight = new Crate(config, be, 5);
        trainer(straight, dir.resolve("straight"), 3, 0).run();

        Path out = dir.resolve("interrupted");
        Crate first = new Crate(config, be, 5);
        Trainer.Result stopped = trainer(first, out, 3, 41).run();   // stops mid-epoch 1 (24 steps per epoch)
        assertFalse(stopped.finished());
        assertEquals(1, stopped.epoch());
        assertEquals(17, stopped.stepInEpoch());
        Crate resumedModel = new Crate(config, be, 99);             // other init: everything must come from the file
        Trainer resumed = trainer(resumedModel, out, 3, 0);
        resumed.resume(out.resolve("last.safetensors"));
        assertTrue(resumed.run().finished());

        Map<String, ai.crate.autograd.Variable> expected = straight.namedParameters();
        resumedModel.namedParameters().forEach((k, v) -> assertArrayEquals(expected.get(k).value().toFloatArray(),
                v.value().toFloatArray(), "bit-identical after resume: " + k));
        assertEquals(Files.readAllLines(dir.resolve("straight/metrics.csv")).size(),
                Files.readAllLines(out.resolve("metrics.csv")).size());
    }

    @Test
    void requestStopFromAnotherThreadWritesTheCheckpointAtTheStepReached() throws Exception {
        Path out = dir.resolve("stop");
        Crate model = new Crate(config, be, 6);
        Trainer[] holder = new Trainer[1];
        Optimizer opt = new AdamW(Param.of(model.namedParameters(), false), 3e-3f, 0.05f);
        BatchLoader train = new BatchLoader(trainSet, 8, true, true, Augmentation.none(), Normalization.none(), 7);
        holder[0] = new Trainer(model, opt, Schedule.constant(1e-3f), train,
                BatchLoader.forEvaluation(testSet, 16, Normalization.none()),
                new Trainer.Settings(5, 0, 0, 0f, 0f, out), new Trainer.Listener() {
                    @Override
                    public void step(Trainer.StepReport r) {
                        if (r.step() == 30) new Thread(holder[0]::requestStop).start();
                    }
                });
        Trainer.Result r = holder[0].run();
        assertFalse(r.finished());
        assertTrue(r.step() >= 30 && r.step() < 40, "stops within a few steps of the request, at " + r.step());
        var meta = ai.crate.model.io.SafeTensors.read(out.resolve("last.safetensors")).metadata();
        assertEquals(Long.toString(r.step()), meta.get("train.step"));
        assertEquals(Integer.toString(r.stepInEpoch()), meta.get("train.step_in_epoch"));
    }

    @Test
    void nonFiniteLossStopsWithTheStepAndKeepsTheLastCheckpoint() throws Exception {
        Path out = dir.resolve("nan");
        Crate model = new Crate(config, be, 4);
        trainer(model, out, 1, 0).run();
        byte[] good = Files.readAllBytes(out.resolve("last.safetensors"));
        ai.crate.engine.Tensor w = model.namedParameters().get("mlp_head.1.weight").value();
        be.fill(w, Float.NaN);
        model.weightsChanged();
        Trainer t = trainer(model, out, 2, 0);
        Trainer.NonFiniteLossException e = assertThrows(Trainer.NonFiniteLossException.class, t::run);
        assertTrue(e.getMessage().contains("at step 0") && e.getMessage().contains("last.safetensors"), e.getMessage());
        assertArrayEquals(good, Files.readAllBytes(out.resolve("last.safetensors")), "the last good checkpoint stays");
    }

    private Trainer maeTrainer(ai.crate.model.mae.CrateMae mae, Path out, int epochs, long maxSteps) {
        Optimizer opt = new AdamW(Param.of(mae.namedParameters(), false), 3e-3f, 0.05f);
        Normalization norm = new Normalization(new float[] {0.3f}, new float[] {0.3f});
        BatchLoader train = new BatchLoader(trainSet, 8, true, true, Augmentation.none(), norm, 7);
        return new Trainer(new MaeTask(mae, 11), opt, Schedule.constant(3e-3f), train,
                BatchLoader.forEvaluation(testSet, 16, norm), new Trainer.Settings(epochs, 0, maxSteps, 0f, 1f, out),
                new Trainer.Listener() {});
    }

    @Test
    void maskedAutoencoderLearnsAndResumesBitIdentical() throws Exception {
        ai.crate.model.mae.CrateMaeConfig mc = new ai.crate.model.mae.CrateMaeConfig(8, 1, 2, 16, 2, 2, 0.1f, 0.5f, false, 0.75f);
        ai.crate.model.mae.CrateMae straight = new ai.crate.model.mae.CrateMae(mc, be, 2);
        Path a = dir.resolve("mae-straight");
        maeTrainer(straight, a, 3, 0).run();
        List<String> rows = Files.readAllLines(a.resolve("metrics.csv"));
        // train loss (column 4) falls; on 48 noisy test images the test loss only wobbles, so it is not asserted
        double first = Double.parseDouble(rows.get(1).split(",")[3]), last = Double.parseDouble(rows.get(3).split(",")[3]);
        assertTrue(last < 0.95 * first, "masked-patch reconstruction loss falls: " + rows);
        assertTrue(rows.get(3).split(",")[6].equals("NaN"), "no accuracy for an autoencoder");
        assertTrue(Files.exists(a.resolve("best.safetensors")));

        Path b = dir.resolve("mae-resumed");
        ai.crate.model.mae.CrateMae part = new ai.crate.model.mae.CrateMae(mc, be, 2);
        assertFalse(maeTrainer(part, b, 3, 30).run().finished());
        ai.crate.model.mae.CrateMae resumed = new ai.crate.model.mae.CrateMae(mc, be, 77);
        Trainer t = maeTrainer(resumed, b, 3, 0);
        t.resume(b.resolve("last.safetensors"));
        assertTrue(t.run().finished());
        straight.namedTensors().forEach((k, v) -> assertArrayEquals(v.value().toFloatArray(),
                resumed.namedTensors().get(k).value().toFloatArray(), "bit-identical after resume: " + k));
    }
}

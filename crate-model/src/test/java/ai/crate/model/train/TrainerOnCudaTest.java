package ai.crate.model.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.crate.cuda.CudaBackend;
import ai.crate.cuda.emu.EmulatedDevice;
import ai.crate.engine.Backend;
import ai.crate.model.TestBackends;
import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.data.Augmentation;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.Normalization;
import ai.crate.model.nn.Pool;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Param;
import ai.crate.model.optim.Schedule;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole trainer (batches uploaded each step, fused AdamW, evaluation, checkpoints written from and read back to
 * device memory, exact resume) on the CUDA backend, its kernels run by the CPU emulator.
 */
class TrainerOnCudaTest extends TrainerTest {
    @Override
    protected Backend backend() { return TestBackends.named("cuda-emulated"); }

    /** Loss and running accuracy come back together, once per step: a GPU never waits inside a step. */
    @Test
    void eachTrainingStepReadsBackOnce(@TempDir Path out) throws Exception {
        CudaBackend be = (CudaBackend) backend();
        EmulatedDevice device = (EmulatedDevice) be.device();
        Crate model = new Crate(new CrateConfig(8, 1, 4, 16, 2, 2, 3, Pool.CLS, 0.1f, 0.1f), be, 3);
        Normalization norm = new Normalization(new float[] {0.3f}, new float[] {0.3f});
        BatchLoader train = new BatchLoader(synthetic(64, 1), 8, true, true, Augmentation.none(), norm, 7);
        List<Long> downloadsAtStep = new ArrayList<>();
        List<Double> accuracy = new ArrayList<>();
        Trainer trainer = new Trainer(model, new AdamW(Param.of(model.namedParameters(), false), 3e-3f, 0.05f),
                Schedule.constant(3e-3f), train, BatchLoader.forEvaluation(synthetic(16, 2), 16, norm),
                new Trainer.Settings(1, 0, 5, 0.1f, 1f, out), new Trainer.Listener() {
                    @Override
                    public void step(Trainer.StepReport r) {
                        downloadsAtStep.add(device.floatDownloads());
                        accuracy.add(r.accuracy());
                    }
                });
        trainer.run();
        assertEquals(5, downloadsAtStep.size());
        for (int i = 1; i < downloadsAtStep.size(); i++) {
            assertEquals(1, downloadsAtStep.get(i) - downloadsAtStep.get(i - 1), "read-backs in step " + i);
        }
        for (double a : accuracy) assertEquals(0, (a * 8) % 1, 1e-9, "the running accuracy is a count of 8: " + a);
    }
}

package ai.crate.model.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.Variable;
import ai.crate.cuda.CudaBackend;
import ai.crate.cuda.emu.EmulatedDevice;
import ai.crate.engine.ReferenceBackend;
import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.data.Augmentation;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.ImageDataset;
import ai.crate.model.data.Normalization;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.nn.Pool;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Optimizer;
import ai.crate.model.optim.Param;
import ai.crate.model.optim.Schedule;
import ai.crate.model.train.Evaluation;
import ai.crate.model.train.Trainer;
import ai.crate.model.train.TrainerTest;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training with ranks as threads (no MPI): two processes at a global batch equal one process, up to
 * the order of float additions; their replicas stay bit-identical; sharded evaluation counts exactly what one
 * process counts; a stopped and resumed two-rank run ends with the uninterrupted one's bits.
 */
class DataParallelTrainerTest {
    private static final CrateConfig CONFIG = new CrateConfig(8, 1, 4, 16, 2, 2, 3, Pool.CLS, 0.1f, 0.1f);
    private static final Normalization NORM = new Normalization(new float[] {0.3f}, new float[] {0.3f});
    private static final ImageDataset TRAIN = TrainerTest.synthetic(96, 1),
            TEST = TrainerTest.synthetic(37, 2);
    private static final int EPOCHS = 2, BATCH = 16;

    @TempDir
    Path dir;

    /** A trainer of {@code model}: AdamW, pad-1 crops and flips, 2 epochs of global batch 16, optionally fewer steps. */
    private static Trainer trainer(Crate model, Path out, long maxSteps) {
        Optimizer opt = new AdamW(Param.of(model.namedParameters(), false), 3e-3f, 0.05f);
        BatchLoader train = new BatchLoader(TRAIN, BATCH, true, true, Augmentation.cropAndFlip(1), NORM, 7);
        BatchLoader test = BatchLoader.forEvaluation(TEST, 10, NORM);
        Schedule s = Schedule.warmupCosine(3e-3f, 3, (long) train.stepsPerEpoch() * EPOCHS, 0f);
        return new Trainer(model, opt, s, train, test, new Trainer.Settings(EPOCHS, 0, maxSteps, 0.1f, 1f, out),
                new Trainer.Listener() {});
    }

    private static Map<String, float[]> weights(Crate model) {
        Map<String, float[]> w = new java.util.LinkedHashMap<>();
        model.namedParameters().forEach((k, v) -> w.put(k, v.value().toFloatArray()));
        return w;
    }

    @Test
    void twoRanksTrainAsOneProcessAtTheSameGlobalBatch() throws Exception {
        Crate single = new Crate(CONFIG, new ReferenceBackend(), 3);
        Trainer.Result one = trainer(single, dir.resolve("single"), 0).run();
        List<Map<String, float[]>> ranks = ThreadCollective.run(2, c -> {
            // rank 1 starts from other weights: the broadcast gives it rank 0's
            Crate model = new Crate(CONFIG, new ReferenceBackend(), c.rank() == 0 ? 3 : 99);
            Trainer t = trainer(model, dir.resolve("ranks"), 0).distributed(c);
            Trainer.Result r = t.run();
            assertEquals(one.step(), r.step());
            assertTrue(t.dataParallel().exchanges() == r.step() && t.dataParallel().bytes() > 0);
            return weights(model);
        });
        assertReplicasMatch(ranks, weights(single));
    }

    /** CUDA tensors go through the host staging (copyToHost / copyFromHost) on the CUDA backend's emulated device. */
    @Test
    void cudaTensorsAreStagedThroughTheHost() throws Exception {
        Crate single = new Crate(CONFIG, new CudaBackend(new EmulatedDevice(227 * 1024)), 3);
        trainer(single, dir.resolve("cuda-single"), 4).run();
        List<Map<String, float[]>> ranks = ThreadCollective.run(2, c -> {
            Crate model = new Crate(CONFIG, new CudaBackend(new EmulatedDevice(227 * 1024)), c.rank() == 0 ? 3 : 99);
            trainer(model, dir.resolve("cuda-ranks"), 4).distributed(c).run();
            return weights(model);
        });
        assertReplicasMatch(ranks, weights(single));
    }

    /** Both replicas bit-identical, and within 1e-4 relative L2 of the one-process run. */
    private static void assertReplicasMatch(List<Map<String, float[]>> ranks, Map<String, float[]> want) {
        for (String key : want.keySet()) {
            assertArrayEquals(ranks.get(0).get(key), ranks.get(1).get(key), key + ": the replicas are bit-identical");
            double diff = 0, norm = 0;
            for (int i = 0; i < want.get(key).length; i++) {
                diff += Math.pow(ranks.get(0).get(key)[i] - want.get(key)[i], 2);
                norm += Math.pow(want.get(key)[i], 2);
            }
            assertTrue(Math.sqrt(diff / norm) < 1e-4, key + ": relative L2 " + Math.sqrt(diff / norm));
        }
    }

    @Test
    void shardedEvaluationCountsExactlyWhatOneProcessCounts() throws Exception {
        Crate model = new Crate(CONFIG, new ReferenceBackend(), 5);
        BatchLoader test = BatchLoader.forEvaluation(TEST, 4, NORM);   // 37 images: shards of 12, 12, 13
        Evaluation whole = Evaluation.of(model, test);
        List<Evaluation> parts = ThreadCollective.run(3, c -> {
            BatchLoader shard = test.sharded(c.rank(), c.size());
            assertEquals(List.of(12, 12, 13).get(c.rank()), shard.evaluationSize());
            return Evaluation.of(new Crate(CONFIG, new ReferenceBackend(), 5), shard, c);
        });
        for (Evaluation e : parts) {
            assertEquals(whole.n(), e.n());
            assertEquals(whole.top1(), e.top1());
            assertEquals(whole.top5(), e.top5());
            assertArrayEquals(whole.perClass(), e.perClass());
            assertEquals(whole.loss(), e.loss(), 1e-6);
        }
    }

    @Test
    void aStoppedAndResumedTwoRankRunEndsWithTheUninterruptedBits() throws Exception {
        List<Map<String, StoredTensor>> straight = ThreadCollective.run(2, c -> {
            Crate model = new Crate(CONFIG, new ReferenceBackend(), 3);
            Trainer t = trainer(model, dir.resolve("straight"), 0).distributed(c);
            t.run();
            return Checkpoints.stateDict(model);
        });
        List<Map<String, StoredTensor>> resumed = ThreadCollective.run(2, c -> {
            Crate first = new Crate(CONFIG, new ReferenceBackend(), 3);
            Trainer.Result r = trainer(first, dir.resolve("stopped"), 5).distributed(c).run();
            assertFalse(r.finished());
            assertEquals(5, r.step());
            c.barrier();   // rank 0 has written last.safetensors
            Crate again = new Crate(CONFIG, new ReferenceBackend(), 11);
            Trainer t = trainer(again, dir.resolve("stopped"), 0).distributed(c);
            t.resume(dir.resolve("stopped/last.safetensors"));
            assertTrue(t.run().finished());
            return Checkpoints.stateDict(again);
        });
        assertEquals(straight.get(0), resumed.get(0), "rank 0 resumed to the uninterrupted bits");
        assertEquals(straight.get(0), resumed.get(1), "rank 1 too");
    }

    @Test
    void aGlobalBatchThatDoesNotSplitEvenlyIsRefused() {
        BatchLoader train = new BatchLoader(TRAIN, 15, true, true, Augmentation.none(), NORM, 7);
        var e = assertThrows(IllegalArgumentException.class, () -> train.sharded(0, 2));
        assertTrue(e.getMessage().contains("15") && e.getMessage().contains("2 processes"), e.getMessage());
    }

    @Test
    void aShardIsTheSameImagesWithTheSameAugmentationAsTheWholeBatch() {
        BatchLoader whole = new BatchLoader(TRAIN, BATCH, true, true, Augmentation.cropAndFlip(2), NORM, 9);
        BatchLoader half0 = whole.sharded(0, 2), half1 = whole.sharded(1, 2);
        for (int step = 0; step < whole.stepsPerEpoch(); step++) {
            float[] all = whole.batch(1, step).images(), a = half0.batch(1, step).images(), b = half1.batch(1, step).images();
            assertArrayEquals(java.util.Arrays.copyOfRange(all, 0, a.length), a);
            assertArrayEquals(java.util.Arrays.copyOfRange(all, a.length, all.length), b);
        }
        assertNotEquals(whole.batch(1, 0), whole.batch(2, 0));
    }

    @Test
    void aParameterWithoutAGradientIsNamed() throws Exception {
        Crate model = new Crate(CONFIG, new ReferenceBackend(), 3);
        Map<String, Variable> params = model.namedParameters();
        var e = assertThrows(IllegalStateException.class,
                () -> new DataParallel(params, SingleProcess.INSTANCE, 64).averageGradients());
        assertTrue(e.getMessage().contains(params.keySet().iterator().next()), e.getMessage());
    }
}

package ai.crate.model.train;

import ai.crate.autograd.Autograd;
import ai.crate.engine.Backend;
import ai.crate.engine.CounterRandom;
import ai.crate.engine.Tensor;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.mae.CrateMae;
import ai.crate.model.nn.Module;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchIterator;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import java.util.Map;

/**
 * Masked autoencoding: the loss is CRATE-MAE's masked-patch MSE. The masking noise of training step s is drawn from a
 * counter generator keyed by (seed, s), so resuming reproduces it; test images get fixed noise keyed by their index,
 * so every evaluation masks the same patches. Best = lowest test loss. Labels are not used.
 */
public record MaeTask(CrateMae mae, long seed) implements TrainingTask {
    private static final long TEST_STREAM = 0x7E57_5EEDL;

    @Override
    public CrateMae model() { return mae; }

    /** Uniform [0, 1) noise [batch, L], element i of stream {@code key} from offset {@code first}·L. */
    float[] noise(long key, long first, int batch) {
        int l = mae.config().numPatches();
        float[] v = new float[batch * l];
        for (int i = 0; i < v.length; i++) v[i] = CounterRandom.uniform(key, first * l + i);
        return v;
    }

    @Override
    public StepLoss loss(Tensor images, Batch batch, long step) {
        return new StepLoss(mae.forward(images, noise(CounterRandom.mix64(seed ^ step), 0, batch.size())).loss(), null);
    }

    /** The masked-patch MSE over the whole test set (weighted by removed patches). */
    @Override
    public Evaluation evaluate(BatchLoader test) {
        Backend be = mae.backend();
        double sum = 0, removed = 0;
        int n = 0;
        try (var noGrad = Autograd.noGrad(); BatchIterator it = test.evaluation()) {
            while (it.hasNext()) {
                Batch b = it.next();
                Tensor images = be.fromArray(b.images(), test.batchShape(b.size()));
                CrateMae.Output out = mae.forward(images, noise(seed ^ TEST_STREAM, n, b.size()));
                double r = 0;
                for (float m : out.mask()) r += m;
                sum += out.loss().value().item() * r;
                removed += r;
                n += b.size();
                be.release(images);
            }
        }
        return new Evaluation(n, sum / Math.max(removed, 1), Double.NaN, Double.NaN, new double[0]);
    }

    @Override
    public double score(Evaluation e) { return -e.loss(); }

}

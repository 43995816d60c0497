package ai.crate.model.train;

import ai.crate.model.dist.Collective;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.Model;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import java.util.Map;

/** What a {@link Trainer} trains: a model, its loss on a batch, its test figures, and how it is saved and loaded. */
public interface TrainingTask {
    /**
     * One batch's loss (on the tape) and how many of its examples count as right, as a one-element tensor on the
     * backend (null when that has no meaning). The trainer reads both back together, once, after the optimizer step,
     * so an asynchronous backend runs the whole step without a read-back in the middle; it then releases the count.
     */
    record StepLoss(Variable loss, Tensor correct) {}

    Model model();

    default Backend backend() { return model().backend(); }

    /** The loss of a training batch; {@code step} is the global step (for per-step randomness such as masking). */
    StepLoss loss(Tensor images, Batch batch, long step);

    /** Figures on the test set; higher {@link #score} is better. */
    Evaluation evaluate(BatchLoader test);

    /**
     * Figures on the test set when {@code test} is this process's shard: summed over the processes. Only tasks that
     * can add their figures up support more than one process.
     */
    default Evaluation evaluate(BatchLoader test, Collective collective) {
        if (collective.size() == 1) return evaluate(test);
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no sharded evaluation: "
                + "data-parallel training takes classifiers");
    }

    /** What "best" means for checkpoints: test accuracy for a classifier, minus the test loss otherwise. */
    double score(Evaluation e);

    /** The model's config as checkpoint metadata. */
    default Map<String, String> metadata() { return model().config().toMetadata(); }

    /** Restores weights from a checkpoint (training state tensors are ignored). */
    default void load(TensorFile f) throws CheckpointException { Checkpoints.loadInto(model(), f); }
}

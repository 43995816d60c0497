package ai.crate.model.train;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.Module;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import java.util.Map;
import java.util.function.IntSupplier;

/** What a {@link Trainer} trains: a model, its loss on a batch, its test figures, and how it is saved and loaded. */
public interface TrainingTask {
    /**
     * One batch's loss (on the tape) and how many of its examples count as right (0 when that has no meaning). The
     * count is read after the optimizer step, before the graph is released, so an asynchronous backend runs the
     * whole step without a read-back in the middle.
     */
    record StepLoss(Variable loss, IntSupplier correct) {}

    Module model();

    Backend backend();

    /** The loss of a training batch; {@code step} is the global step (for per-step randomness such as masking). */
    StepLoss loss(Tensor images, Batch batch, long step);

    /** Figures on the test set; higher {@link #score} is better. */
    Evaluation evaluate(BatchLoader test);

    /** What "best" means for checkpoints: test accuracy for a classifier, minus the test loss otherwise. */
    double score(Evaluation e);

    /** The model's config as checkpoint metadata. */
    Map<String, String> metadata();

    /** Restores weights from a checkpoint (training state tensors are ignored). */
    void load(TensorFile f) throws CheckpointException;

    /** Called after every optimizer step (derived inference matrices go stale). */
    void weightsChanged();
}

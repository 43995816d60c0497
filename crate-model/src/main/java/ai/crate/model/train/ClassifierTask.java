package ai.crate.model.train;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.Crate;
import ai.crate.model.CrateCheckpoints;
import ai.crate.model.Module;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import java.util.Arrays;
import java.util.Map;

/** Classification with cross-entropy (label smoothing as PyTorch's); best = highest test top-1. */
public record ClassifierTask(Crate crate, float labelSmoothing) implements TrainingTask {
    @Override
    public Module model() { return crate; }

    @Override
    public Backend backend() { return crate.backend(); }

    @Override
    public StepLoss loss(Tensor images, Batch batch, long step) {
        int[] labels = Arrays.copyOf(batch.labels(), batch.size());
        Variable logits = crate.forward(images);
        Variable loss = F.crossEntropy(logits, labels, labelSmoothing);
        return new StepLoss(loss,
                () -> Trainer.correct(logits.value().toFloatArray(), labels, crate.config().numClasses()));
    }

    @Override
    public Evaluation evaluate(BatchLoader test) { return Evaluation.of(crate, test); }

    @Override
    public double score(Evaluation e) { return e.top1(); }

    @Override
    public Map<String, String> metadata() { return crate.config().toMetadata(); }

    @Override
    public void load(TensorFile f) throws CheckpointException { CrateCheckpoints.loadInto(crate, f); }

    @Override
    public void weightsChanged() { crate.markUpdated(); }
}

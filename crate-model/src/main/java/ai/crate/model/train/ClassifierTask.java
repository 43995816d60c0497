package ai.crate.model.train;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import java.util.Arrays;
import java.util.Map;

/** Classification with cross-entropy (label smoothing as PyTorch's); best = highest test top-1. */
public record ClassifierTask(ImageClassifier classifier, float labelSmoothing) implements TrainingTask {
    @Override
    public ImageClassifier model() { return classifier; }

    @Override
    public StepLoss loss(Tensor images, Batch batch, long step) {
        int[] labels = Arrays.copyOf(batch.labels(), batch.size());
        Variable logits = classifier.forward(images);
        Variable loss = F.crossEntropy(logits, labels, labelSmoothing);
        return new StepLoss(loss,
                () -> Trainer.correct(logits.value().toFloatArray(), labels, classifier.config().numClasses()));
    }

    @Override
    public Evaluation evaluate(BatchLoader test) { return Evaluation.of(classifier, test); }

    @Override
    public double score(Evaluation e) { return e.top1(); }

}

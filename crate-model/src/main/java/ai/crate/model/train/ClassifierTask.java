package ai.crate.model.train;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.ReduceOp;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.TrainingData;
import ai.crate.model.dist.Collective;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Classification with cross-entropy (label smoothing as PyTorch's); best = highest test top-1. {@code data} (may be
 * null) describes the training data in the checkpoints' metadata: class names, normalisation, split.
 */
public record ClassifierTask(ImageClassifier classifier, float labelSmoothing, TrainingData data)
        implements TrainingTask {
    public ClassifierTask(ImageClassifier classifier, float labelSmoothing) { this(classifier, labelSmoothing, null); }

    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>(classifier.config().toMetadata());
        if (data != null) m.putAll(data.toMetadata());
        return m;
    }

    @Override
    public ImageClassifier model() { return classifier; }

    @Override
    public StepLoss loss(Tensor images, Batch batch, long step) {
        int[] labels = Arrays.copyOf(batch.labels(), batch.size());
        Variable logits = classifier.forward(images);
        Variable loss = F.crossEntropy(logits, labels, labelSmoothing);
        return new StepLoss(loss, correctCount(logits.value(), labels));
    }

    /**
     * How many rows of {@code logits} [B, C] rank their label first (no class strictly higher, as
     * {@link Evaluation}), computed on the backend: a one-element tensor, B + Σ sign(logit[label] − max).
     */
    static Tensor correctCount(Tensor logits, int[] labels) {
        Backend be = logits.backend();
        int b = labels.length;
        Tensor picked = be.allocate(b, 1), max = be.allocate(b, 1), count = be.allocate(1);
        be.gather(logits, 1, labels, picked);
        be.reduce(ReduceOp.MAX, logits, 1, max);
        be.binary(BinaryOp.SUB, picked, max, picked);          // 0 where the label holds a maximum, < 0 elsewhere
        be.unary(UnaryOp.SIGN, picked, picked);
        be.reduce(ReduceOp.SUM, picked.reshape(b), 0, count);  // minus the number wrong
        be.affine(count, 1f, b, count);
        be.release(picked);
        be.release(max);
        return count;
    }

    @Override
    public Evaluation evaluate(BatchLoader test) { return Evaluation.of(classifier, test); }

    @Override
    public Evaluation evaluate(BatchLoader test, Collective collective) {
        return Evaluation.of(classifier, test, collective);
    }

    @Override
    public double score(Evaluation e) { return e.top1(); }

}

package ai.crate.model.train;

import ai.crate.model.dist.Collective;
import ai.crate.model.dist.SingleProcess;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchLoader;
import java.util.Iterator;

/** Test-set figures of a model: mean cross-entropy, top-1 and top-5 accuracy, accuracy per class. */
public record Evaluation(int n, double loss, double top1, double top5, double[] perClass) {

    /** One pass over {@code loader}'s evaluation batches through the tape-free inference path. */
    public static Evaluation of(ImageClassifier model, BatchLoader loader) {
        return of(model, loader, SingleProcess.INSTANCE);
    }

    /**
     * Sharded: each process scores its shard of {@code loader} (one {@link BatchLoader#sharded} per rank), then the
     * counts and loss sums are added over the processes, so every one returns the whole test set's figures (top-1
     * and top-5 exactly the single process's; the mean loss up to the order of the additions).
     */
    public static Evaluation of(ImageClassifier model, BatchLoader loader, Collective collective) {
        Backend be = model.backend();
        int classes = model.config().numClasses();
        long[] correct = new long[classes], seen = new long[classes];
        double lossSum = 0;
        long top1 = 0, top5 = 0;
        int n = 0;
        try (var batches = loader.evaluation()) {
            for (Iterator<Batch> it = batches; it.hasNext(); ) {
                Batch b = it.next();
                Tensor images = be.fromArray(b.images(), loader.batchShape(b.size()));
                Tensor logits = model.inference().logits(images);
                be.release(images);
                Tensor losses = be.allocate(b.size());
                int[] labels = java.util.Arrays.copyOf(b.labels(), b.size());
                be.crossEntropy(logits, labels, 0f, losses);
                for (float l : losses.toFloatArray()) lossSum += l;
                float[] z = logits.toFloatArray();
                be.release(losses);
                be.release(logits);
                for (int i = 0; i < b.size(); i++) {
                    int rank = rankOfLabel(z, i * classes, classes, labels[i]);
                    seen[labels[i]]++;
                    if (rank == 0) { top1++; correct[labels[i]]++; }
                    if (rank < 5) top5++;
                }
                n += b.size();
            }
        }
        if (collective.size() > 1) {
            double[] sums = new double[4 + 2 * classes];
            sums[0] = n;
            sums[1] = lossSum;
            sums[2] = top1;
            sums[3] = top5;
            for (int c = 0; c < classes; c++) {
                sums[4 + c] = correct[c];
                sums[4 + classes + c] = seen[c];
            }
            collective.allReduceSum(sums);   // integer counts below 2^53 add exactly in double
            n = (int) sums[0];
            lossSum = sums[1];
            top1 = (long) sums[2];
            top5 = (long) sums[3];
            for (int c = 0; c < classes; c++) {
                correct[c] = (long) sums[4 + c];
                seen[c] = (long) sums[4 + classes + c];
            }
        }
        double[] perClass = new double[classes];
        for (int c = 0; c < classes; c++) perClass[c] = seen[c] == 0 ? Double.NaN : (double) correct[c] / seen[c];
        return new Evaluation(n, lossSum / Math.max(n, 1), (double) top1 / Math.max(n, 1), (double) top5 / Math.max(n, 1),
                perClass);
    }

    /** How many classes score strictly higher than the label (ties resolved in the label's favour). */
    static int rankOfLabel(float[] z, int off, int classes, int label) {
        int rank = 0;
        for (int c = 0; c < classes; c++) if (z[off + c] > z[off + label]) rank++;
        return rank;
    }
}

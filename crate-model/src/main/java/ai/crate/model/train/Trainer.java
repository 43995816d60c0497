package ai.crate.model.train;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.dist.Collective;
import ai.crate.model.dist.DataParallel;
import ai.crate.model.dist.SingleProcess;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import ai.crate.model.optim.Optimizer;
import ai.crate.model.optim.Schedule;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The training loop: batches from a {@link BatchLoader}, forward, cross-entropy (with label smoothing), backward,
 * optional gradient-norm clipping, an optimizer step at the schedule's learning rate, and the graph handed back for
 * reuse. Evaluates after every epoch, appends {@code metrics.csv}, and checkpoints to {@code out}: {@code last.safetensors}
 * (weights under the official keys plus the training state under {@code train.} keys) after every epoch and when
 * stopped, {@code best.safetensors} (weights) when test accuracy improves. Stops after {@code epochs}, a time budget,
 * a step count, or {@link #requestStop()} (e.g. from a Ctrl-C hook), whichever comes first.
 *
 * <p>Resuming from {@code last.safetensors} continues exactly: the loader's batches depend only on (seed, epoch,
 * step), the kernels are deterministic, and weights, optimizer moments, step counts and the epoch's running metrics
 * are restored, so an interrupted and resumed run ends with the same bits as an uninterrupted one.
 */
public final class Trainer {
    /** What the loop reports. All methods have empty defaults. */
    public interface Listener {
        default void step(StepReport r) {}

        default void epoch(EpochReport r) {}

        default void checkpoint(Path file) {}
    }

    public record StepReport(int epoch, long step, long stepsInRun, float lr, double loss, double accuracy,
                             double imagesPerSecond, double elapsedSeconds) {}

    public record EpochReport(int epoch, long step, float lr, double trainLoss, double trainAccuracy,
                              Evaluation test, double imagesPerSecond, double elapsedSeconds) {}

    /** How long to train and how: label smoothing, clipping (0 = off), where to write. */
    public record Settings(int epochs, double minutes, long maxSteps, float labelSmoothing, float clip, Path out) {}

    /** The position a run stopped at and its best test accuracy. */
    public record Result(int epoch, int stepInEpoch, long step, double bestAccuracy, boolean finished) {}

    static final String METRICS_HEADER = "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,images_per_s,elapsed_s";

    private final TrainingTask task;
    private final Optimizer optimizer;
    private final Schedule schedule;
    private BatchLoader train;
    private BatchLoader test;
    private final Settings settings;
    private final Listener listener;
    private volatile boolean stopRequested;
    private Collective collective = SingleProcess.INSTANCE;
    private DataParallel dataParallel;

    // the position and running figures, saved in checkpoints
    private int epoch;
    private int stepInEpoch;
    private long step;
    private double epochLossSum;
    private long epochCorrect;
    private long epochSeen;
    private double bestAccuracy = -1;
    private double bestScore = Double.NEGATIVE_INFINITY;
    private double elapsedBefore;

    /** A classifier, trained with cross-entropy at the settings' label smoothing. */
    public Trainer(ImageClassifier model, Optimizer optimizer, Schedule schedule, BatchLoader train, BatchLoader test,
                   Settings settings, Listener listener) {
        this(new ClassifierTask(model, settings.labelSmoothing()), optimizer, schedule, train, test, settings, listener);
    }

    public Trainer(TrainingTask task, Optimizer optimizer, Schedule schedule, BatchLoader train, BatchLoader test,
                   Settings settings, Listener listener) {
        this.task = task;
        this.optimizer = optimizer;
        this.schedule = schedule;
        this.train = train;
        this.test = test;
        this.settings = settings;
        this.listener = listener;
    }

    /**
     * Trains data-parallel over {@code c}'s processes (call before {@link #run}, on every process, with the same
     * arguments): each takes its share of every global batch ({@link BatchLoader#sharded}) and of the test set,
     * starts from rank 0's weights, averages the gradients after every backward, and runs the identical optimizer
     * step (clipping on the averaged gradients); losses, counts and the decision to stop are agreed every step.
     * Only rank 0 writes checkpoints and metrics and reports to the listener.
     */
    public Trainer distributed(Collective c) {
        collective = c;
        train = train.sharded(c.rank(), c.size());
        test = test.sharded(c.rank(), c.size());
        dataParallel = c.size() > 1
                ? new DataParallel(task.model().namedParameters(), c, DataParallel.DEFAULT_BUCKET_FLOATS) : null;
        return this;
    }

    /** The gradient exchange of a distributed run (its time and bytes), or null in one process. */
    public DataParallel dataParallel() { return dataParallel; }

    private boolean writes() { return collective.rank() == 0; }

    /** Asks the loop to stop after the current step and write its checkpoint (safe from any thread). */
    public void requestStop() { stopRequested = true; }

    public Path lastCheckpoint() { return settings.out().resolve("last.safetensors"); }

    public Path bestCheckpoint() { return settings.out().resolve("best.safetensors"); }

    public Path metricsFile() { return settings.out().resolve("metrics.csv"); }

    /** Restores weights, optimizer state and position from a {@code last.safetensors} written by this class. */
    public void resume(Path last) throws CheckpointException {
        TensorFile f = Checkpoints.read(last);
        task.load(f);
        Map<String, String> m = f.metadata();
        Map<String, StoredTensor> state = new LinkedHashMap<>();
        f.tensors().forEach((k, v) -> {
            if (k.startsWith(Checkpoints.TRAIN_STATE_PREFIX + "optim.")) {
                state.put(k.substring((Checkpoints.TRAIN_STATE_PREFIX + "optim.").length()), v);
            }
        });
        try {
            optimizer.loadState(state, Long.parseLong(need(m, last, "train.optimizer_steps")));
            epoch = Integer.parseInt(need(m, last, "train.epoch"));
            stepInEpoch = Integer.parseInt(need(m, last, "train.step_in_epoch"));
            step = Long.parseLong(need(m, last, "train.step"));
            epochLossSum = Double.parseDouble(need(m, last, "train.epoch_loss_sum"));
            epochCorrect = Long.parseLong(need(m, last, "train.epoch_correct"));
            epochSeen = Long.parseLong(need(m, last, "train.epoch_seen"));
            bestAccuracy = Double.parseDouble(need(m, last, "train.best_accuracy"));
            bestScore = Double.parseDouble(m.getOrDefault("train.best_score", "-Infinity"));
            elapsedBefore = Double.parseDouble(need(m, last, "train.elapsed_s"));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(last.getFileName() + ": training state: " + e.getMessage(), e);
        }
    }

    private static String need(Map<String, String> m, Path file, String key) throws CheckpointException {
        String v = m.get(key);
        if (v == null) {
            throw new CheckpointException(file.getFileName() + ": no '" + key + "' in the metadata: not a training"
                    + " checkpoint written by crate train (use --init to start from its weights instead)");
        }
        return v;
    }

    public Result run() throws IOException {
        task.model().train(true);
        Files.createDirectories(settings.out());
        if (dataParallel != null) dataParallel.broadcastWeights();
        if (writes() && !Files.exists(metricsFile())) {
            Files.writeString(metricsFile(), METRICS_HEADER + "\n", StandardCharsets.UTF_8);
        }
        Backend be = task.backend();
        long start = System.nanoTime();
        long stepsThisRun = 0;
        boolean finished = false;
        while (!finished && !stopAgreed(start)) {
            if (epoch >= settings.epochs()) { finished = true; break; }
            long epochStart = System.nanoTime();
            long imagesThisEpoch = 0;
            try (var batches = train.epoch(epoch, stepInEpoch)) {
                for (Iterator<Batch> it = batches; it.hasNext(); ) {
                    if (stopAgreed(start) || stepLimitReached()) break;
                    Batch b = it.next();
                    float lr = schedule.at(step);
                    optimizer.setLearningRate(lr);
                    Tensor images = be.fromArray(b.images(), train.batchShape(b.size()));
                    TrainingTask.StepLoss out = task.loss(images, b, step);
                    Variable loss = out.loss();
                    loss.backward();
                    if (dataParallel != null) dataParallel.averageGradients();
                    if (settings.clip() > 0) optimizer.clipGradNorm(settings.clip());
                    optimizer.step();
                    task.model().weightsChanged();
                    // The step's only read-back, loss and correct count together, after the whole step is queued (a
                    // GPU runs it meanwhile). A non-finite loss has already spoiled the weights in memory, but nothing
                    // is saved after it.
                    float[] lossAndCorrect = readBack(be, loss.value(), out.correct());
                    double lossValue = lossAndCorrect[0];
                    int batchImages = b.size();
                    int correct = Math.round(lossAndCorrect[1]);
                    if (collective.size() > 1) {   // the global batch's figures, the same on every process
                        double[] sums = {lossValue * b.size(), correct, b.size()};
                        collective.allReduceSum(sums);
                        batchImages = (int) sums[2];
                        lossValue = sums[0] / batchImages;
                        correct = (int) sums[1];
                    }
                    if (!Double.isFinite(lossValue)) {
                        loss.releaseGraph();
                        throw new NonFiniteLossException("loss is " + lossValue + " at step " + step + " (epoch " + epoch
                                + ", batch " + stepInEpoch + "); training stopped, the last good checkpoint stays at "
                                + lastCheckpoint());
                    }
                    loss.releaseGraph();
                    optimizer.zeroGrad();
                    be.release(images);
                    step++;
                    stepInEpoch++;
                    stepsThisRun++;
                    epochLossSum += lossValue * batchImages;
                    epochCorrect += correct;
                    epochSeen += batchImages;
                    imagesThisEpoch += batchImages;
                    double seconds = (System.nanoTime() - epochStart) / 1e9;
                    if (writes()) {
                        listener.step(new StepReport(epoch, step, stepsThisRun, lr, lossValue,
                                (double) correct / batchImages, imagesThisEpoch / Math.max(seconds, 1e-9),
                                elapsed(start)));
                    }
                }
            }
            if (stepInEpoch >= train.stepsPerEpoch()) {
                endEpoch(start, epochStart, imagesThisEpoch);
            } else {
                break;   // stopped mid-epoch: the checkpoint below records the position
            }
            if (outOfTime(start) || stepLimitReached()) break;
        }
        if (epoch >= settings.epochs()) finished = true;
        if (dataParallel != null) dataParallel.verifyReplicas();
        if (stepInEpoch > 0) saveLast(start);      // stopped mid-epoch; ends of epochs were saved as they came
        return new Result(epoch, stepInEpoch, step, bestAccuracy, finished);
    }

    private void endEpoch(long start, long epochStart, long images) throws IOException {
        if (dataParallel != null) dataParallel.verifyReplicas();
        task.model().train(false);
        Evaluation eval = task.evaluate(test, collective);
        task.model().train(true);
        double seconds = (System.nanoTime() - epochStart) / 1e9;
        EpochReport r = new EpochReport(epoch, step, optimizer.learningRate(), epochLossSum / Math.max(epochSeen, 1),
                (double) epochCorrect / Math.max(epochSeen, 1), eval, images / Math.max(seconds, 1e-9), elapsed(start));
        if (writes()) {
            appendMetrics(r);
            listener.epoch(r);
        }
        epoch++;
        stepInEpoch = 0;
        epochLossSum = 0;
        epochCorrect = 0;
        epochSeen = 0;
        if (eval.top1() > bestAccuracy || Double.isNaN(eval.top1()) && task.score(eval) > bestScore) {
            bestAccuracy = eval.top1();
            bestScore = task.score(eval);
            if (writes()) {
                SafeTensors.write(bestCheckpoint(), Checkpoints.stateDict(task.model()), task.metadata());
                listener.checkpoint(bestCheckpoint());
            }
        }
        saveLast(start);
    }

    private void saveLast(long start) throws CheckpointException {
        if (!writes()) return;
        Map<String, StoredTensor> tensors = new LinkedHashMap<>(Checkpoints.stateDict(task.model()));
        optimizer.state().forEach((k, v) -> tensors.put(Checkpoints.TRAIN_STATE_PREFIX + "optim." + k, v));
        Map<String, String> meta = new LinkedHashMap<>(task.metadata());
        meta.put("train.epoch", Integer.toString(epoch));
        meta.put("train.step_in_epoch", Integer.toString(stepInEpoch));
        meta.put("train.step", Long.toString(step));
        meta.put("train.optimizer_steps", Long.toString(optimizer.steps()));
        meta.put("train.optimizer", optimizer.getClass().getSimpleName());
        meta.put("train.epoch_loss_sum", Double.toString(epochLossSum));
        meta.put("train.epoch_correct", Long.toString(epochCorrect));
        meta.put("train.epoch_seen", Long.toString(epochSeen));
        meta.put("train.best_accuracy", Double.toString(bestAccuracy));
        meta.put("train.best_score", Double.toString(bestScore));
        meta.put("train.elapsed_s", Double.toString(elapsed(start)));
        SafeTensors.write(lastCheckpoint(), tensors, meta);
        listener.checkpoint(lastCheckpoint());
    }

    private void appendMetrics(EpochReport r) throws IOException {
        String line = String.format(Locale.ROOT, "%d,%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.1f,%.1f%n", r.epoch() + 1, r.step(),
                r.lr(), r.trainLoss(), r.trainAccuracy(), r.test().loss(), r.test().top1(), r.imagesPerSecond(),
                r.elapsedSeconds());
        Files.writeString(metricsFile(), line, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /**
     * Whether to stop now: asked to, or out of time. Processes agree (any one's wish stops them all, at the same
     * step), since one that stopped alone would leave the others waiting in a collective.
     */
    private boolean stopAgreed(long start) {
        boolean wish = stopRequested || outOfTime(start);
        if (collective.size() == 1) return wish;
        double[] votes = {wish ? 1 : 0};
        collective.allReduceSum(votes);
        return votes[0] > 0;
    }

    private boolean outOfTime(long start) {
        return settings.minutes() > 0 && elapsed(start) >= settings.minutes() * 60;
    }

    private boolean stepLimitReached() { return settings.maxSteps() > 0 && step >= settings.maxSteps(); }

    private double elapsed(long start) { return elapsedBefore + (System.nanoTime() - start) / 1e9; }

    /** The loss and the correct count (0 without one) in one transfer; the count tensor is handed back. */
    private static float[] readBack(Backend be, Tensor loss, Tensor correct) {
        Tensor both = be.allocate(2);
        be.copy(loss.reshape(1), both.slice(0, 0, 1));
        if (correct != null) be.copy(correct.reshape(1), both.slice(0, 1, 2));
        else be.fill(both.slice(0, 1, 2), 0f);
        float[] values = be.toArray(both);
        be.release(both);
        if (correct != null) be.release(correct);
        return values;
    }

    /** Training stopped on a NaN or infinite loss. */
    public static final class NonFiniteLossException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        NonFiniteLossException(String message) { super(message); }
    }
}

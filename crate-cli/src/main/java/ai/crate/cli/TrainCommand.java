package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.model.family.Architectures;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.data.Augmentation;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.Datasets;
import ai.crate.model.data.FolderImages;
import ai.crate.model.data.ImageSource;
import ai.crate.model.data.Normalization;
import ai.crate.model.data.TrainingData;
import ai.crate.model.dist.Collective;
import ai.crate.model.dist.DataParallel;
import ai.crate.model.dist.SingleProcess;
import ai.crate.model.optim.Optimizer;
import ai.crate.model.optim.Param;
import ai.crate.model.optim.Schedule;
import ai.crate.model.train.ClassifierTask;
import ai.crate.model.train.Evaluation;
import ai.crate.model.train.Recipes;
import ai.crate.model.train.Trainer;
import ai.crate.mpi.OpenMpi;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Trains a classifier of the family; with no arguments, CRATE fmnist-small on Fashion-MNIST from the Debian package's folder. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a classifier (default: CRATE fmnist-small on Fashion-MNIST).")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", defaultValue = "fmnist-small", paramLabel = "NAME",
            description = "Classifier preset (default ${DEFAULT-VALUE}): ${COMPLETION-CANDIDATES}",
            completionCandidates = ClassifierPresets.class)
    String config;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--epochs", defaultValue = "9", description = "Epochs (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--minutes", defaultValue = "0", description = "Stop after this much wall time (0 = no limit).")
    double minutes;

    @Option(names = "--steps", defaultValue = "0", description = "Stop after N optimizer steps (0 = no limit).")
    long steps;

    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw, lion or sgd (default ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--lr", description = "Peak learning rate (default 2e-3 AdamW, 2e-4 Lion, 0.05 SGD).")
    Float lr;

    @Option(names = "--weight-decay", defaultValue = "0.05", description = "Decoupled weight decay (default ${DEFAULT-VALUE}).")
    float weightDecay;

    @Option(names = "--decay-all", description = "Decay every parameter; by default LayerNorm weights, biases, the CLS "
            + "token and the position embedding are exempt.")
    boolean decayAll;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default ${DEFAULT-VALUE}).")
    float momentum;

    @Option(names = "--nesterov", description = "SGD with Nesterov momentum.")
    boolean nesterov;

    @Option(names = "--schedule", defaultValue = "cosine", description = "cosine (after warmup) or constant.")
    String schedule;

    @Option(names = "--warmup", defaultValue = "-1", description = "Warmup steps (default: one epoch; 0 = none).")
    long warmup;

    @Option(names = "--label-smoothing", defaultValue = "0.1", description = "Label smoothing (default ${DEFAULT-VALUE}).")
    float labelSmoothing;

    @Option(names = "--clip", defaultValue = "1.0", description = "Gradient-norm clipping (0 = off; default ${DEFAULT-VALUE}).")
    float clip;

    @Option(names = "--no-augment", description = "No augmentation at all.")
    boolean noAugment;

    @Option(names = "--crop-pad", paramLabel = "N", description = "Random crop after zero padding of N pixels "
            + "(default: 4 for CIFAR, 0 for the centred MNIST-style sets).")
    Integer cropPad;

    @Option(names = "--crop-scale", paramLabel = "S", description = "Random-resized crop keeping at least this share "
            + "of the image, as torchvision's RandomResizedCrop (default 0.08 for folder data sets; none otherwise).")
    Double cropScale;

    @Option(names = "--no-flip", description = "No random horizontal flip (default: flip, except for MNIST digits).")
    boolean noFlip;

    @Option(names = "--no-shuffle", description = "Batches in file order.")
    boolean noShuffle;

    @Option(names = "--mean", split = ",", paramLabel = "M[,M...]", description = "Per-channel mean (pixels in [0,1]).")
    float[] mean;

    @Option(names = "--std", split = ",", paramLabel = "S[,S...]", description = "Per-channel std.")
    float[] std;

    @Option(names = "--normalize", paramLabel = "none", description = "'none' keeps pixels in [0,1].")
    String normalize;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the init, shuffling and augmentation.")
    long seed;

    @Option(names = "--init", paramLabel = "CKPT", description = "Start from these weights (e.g. an official checkpoint).")
    Path init;

    @Option(names = "--heads", description = "Heads of --init's model when its file does not say.")
    Integer heads;

    @Option(names = "--out", defaultValue = "runs/train", paramLabel = "DIR",
            description = "Checkpoints and metrics.csv go here (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--resume", description = "Continue exactly from DIR/last.safetensors.")
    boolean resume;

    @Option(names = "--distributed", defaultValue = "none", paramLabel = "none|mpi", description = "mpi: "
            + "data-parallel over the processes mpirun started (--batch is the global batch; rank 0 writes). Default "
            + "${DEFAULT-VALUE}.")
    String distributed;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        Collective collective = switch (distributed) {
            case "none" -> SingleProcess.INSTANCE;
            case "mpi" -> OpenMpi.init();
            default -> throw new IllegalArgumentException("--distributed must be none or mpi, got '" + distributed + "'");
        };
        try {
            return train(collective);
        } catch (Exception | Error e) {
            if (collective.size() > 1) {   // take the job down rather than leave the other processes waiting
                PrintWriter err = spec.commandLine().getErr();
                err.println("crate train: rank " + collective.rank() + " of " + collective.size() + ": " + e
                        + "; aborting the job");
                err.flush();
                collective.abort(2);
            }
            throw e;
        } finally {
            collective.close();
        }
    }

    private int train(Collective collective) throws Exception {
        boolean rank0 = collective.rank() == 0;
        PrintWriter quiet = new PrintWriter(java.io.Writer.nullWriter());
        String dataset = dataOptions.dataset();
        ClassifierConfig preset = Architectures.classifierPreset(config);   // a bad name fails before the data loads
        OptionChecks.atLeast("--epochs", epochs, 1);   // Recipes checks these too; here before the data loads
        OptionChecks.atLeast("--steps", steps, 0);
        OptionChecks.atLeast("--warmup", warmup, -1);
        OptionChecks.atLeast("--batch", batch, 1);
        OptionChecks.inRange("--minutes", minutes, 0, Double.MAX_VALUE, true);
        OptionChecks.inRange("--label-smoothing", labelSmoothing, 0, 1, false);
        OptionChecks.inRange("--clip", clip, 0, Double.MAX_VALUE, true);
        if (batch % collective.size() != 0) {
            throw new IllegalArgumentException("--batch " + batch + " is the global batch and must divide by the "
                    + collective.size() + " processes");
        }
        Augmentation aug = noAugment ? Augmentation.none() : Recipes.augmentation(dataset, cropPad, cropScale, !noFlip);
        PrintWriter log = rank0 ? spec.commandLine().getErr() : quiet;
        Path last = out.resolve("last.safetensors");
        TrainingData resumed = null;   // a resumed run keeps its split and normalisation, whatever the folder holds now
        if (resume && Files.exists(last)) {
            try {
                resumed = TrainingData.fromMetadata(Checkpoints.read(last).metadata()).orElse(null);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(last + ": " + e.getMessage(), e);
            }
            if (resumed != null && resumed.dataset().equals(dataset)) dataOptions.trainedOn(Optional.of(resumed));
            else resumed = null;
        }
        ImageSource trainSet = dataOptions.load(true, preset.imageSize(), preset.channels(), aug, log);
        ImageSource testSet = dataOptions.load(false, preset.imageSize(), preset.channels(), Augmentation.none(), log);
        if (preset.channels() != trainSet.channels() || preset.imageSize() != trainSet.height()) {
            throw new IllegalArgumentException(config + " takes " + preset.channels() + "×" + preset.imageSize() + "×"
                    + preset.imageSize() + " images, " + dataset + " has " + trainSet.channels() + "×"
                    + trainSet.height() + "×" + trainSet.width());
        }
        ClassifierConfig c = preset.withNumClasses(trainSet.numClasses());
        Backend be = backendOptions.resolve();
        ImageClassifier model = init == null ? Architectures.createClassifier(c, be, seed)
                : Checkpoints.load(init, be, LoadOptions.heads(heads), ImageClassifier.class);
        Normalization norm = resumed != null && mean == null && normalize == null ? resumed.normalization()
                : normalization(dataset, trainSet);
        if (trainSet instanceof FolderImages && mean == null && normalize == null && resumed == null) {
            log.println("crate: normalising with the training images' " + norm);
        }
        BatchLoader trainLoader = new BatchLoader(trainSet, batch, !noShuffle, true, aug, norm, seed);
        BatchLoader testLoader = BatchLoader.forEvaluation(testSet, 500, norm);
        Optimizer opt = Recipes.optimizer(optimizer, Param.of(model.namedParameters(), decayAll), lr, weightDecay,
                momentum, nesterov);
        long perEpoch = trainLoader.stepsPerEpoch();
        long total = Recipes.totalSteps(perEpoch, epochs, steps);
        long warm = Recipes.warmupSteps(warmup, perEpoch, total);
        Schedule sched = Recipes.schedule(schedule, opt.learningRate(), warm, total);
        Files.createDirectories(out);
        FileLock outLock = rank0 ? lockRunFolder(out) : null;   // two trainers on one --out would interleave files
        try {
            var o = rank0 ? spec.commandLine().getOut() : quiet;
            ProgressListener progress = new ProgressListener(o, perEpoch, epochs);
            ClassifierTask task = new ClassifierTask(model, labelSmoothing, dataOptions.describe(trainSet, norm));
            Trainer trainer = new Trainer(task, opt, sched, trainLoader, testLoader,
                    new Trainer.Settings(epochs, minutes, steps, labelSmoothing, clip, out), progress);
            if (collective.size() > 1) {
                trainer.distributed(collective);
                log.println("crate: data-parallel on " + collective.describe() + ": " + batch / collective.size()
                        + " images of each global batch of " + batch + " per process");
            }
            if (resume) {
                if (!Files.exists(last)) throw new IllegalArgumentException("--resume: no " + last + " to continue from");
                trainer.resume(last);
            }
            o.printf(Locale.ROOT, "training %s (%s, %,d parameters) on %s: %,d train / %,d test"
                            + " images, %d epochs of %d steps, batch %d, %s lr %.3g, %s schedule, warmup %d, backend %s%n",
                    config, model.config().architecture(), model.parameterCount(), dataOptions.isFolder() ? dataOptions.folder()
                            : dataset, trainSet.size(), testSet.size(),
                    epochs, perEpoch, batch, optimizer, opt.learningRate(), schedule, warm, be.name());
            Trainer.Result r = runInterruptibly(spec, trainer, progress);
            if (rank0) Plot.accuracyCurve(trainer.metricsFile(), out.resolve("accuracy.png"));
            DataParallel dp = trainer.dataParallel();
            if (dp != null && dp.exchanges() > 0) {
                o.printf(Locale.ROOT, "all-reduce: %d exchanges of %.2f MB (%,d floats) each, %.2f ms per step on "
                                + "average; replicas identical at the end (checked)%n", dp.exchanges(),
                        dp.floatsPerStep() * 4 / 1e6, dp.floatsPerStep(), 1e3 * dp.seconds() / dp.exchanges());
            }
            if (!r.finished()) {
                Evaluation now = Evaluation.of(model, testLoader.sharded(collective.rank(), collective.size()),
                        collective);
                o.printf(Locale.ROOT, "stopped at step %d (epoch %d, batch %d): test accuracy now %.2f %% (top-5 %.2f %%);"
                        + " continue with --resume%n", r.step(), r.epoch() + 1, r.stepInEpoch(), 100 * now.top1(),
                        100 * now.top5());
            } else {
                o.printf(Locale.ROOT, "done: %d steps, best test accuracy %.2f %%%n", r.step(), 100 * r.bestAccuracy());
            }
            o.println("wrote " + trainer.lastCheckpoint() + (Files.exists(trainer.bestCheckpoint())
                    ? ", " + trainer.bestCheckpoint() : "") + ", " + trainer.metricsFile()
                    + (Files.exists(out.resolve("accuracy.png")) ? ", " + out.resolve("accuracy.png") : ""));
            return 0;
        } finally {
            if (outLock != null) outLock.channel().close();
        }
    }

    /** Holds DIR/.lock for the run; another process (or command in this JVM) training into DIR is refused. */
    private static FileLock lockRunFolder(Path out) throws IOException {
        FileChannel channel = FileChannel.open(out.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            channel.close();
            throw new IllegalStateException("--out " + out + ": another crate train is writing there (it holds "
                    + out.resolve(".lock") + "); give another --out or wait for it");
        }
        return lock;
    }

    /** Runs the trainer with a Ctrl-C / SIGTERM hook that lets it write its checkpoint before the JVM exits. */
    static Trainer.Result runInterruptibly(CommandSpec spec, Trainer trainer, ProgressListener progress) throws Exception {
        PrintWriter log = spec.commandLine().getErr();
        Thread hook = new Thread(() -> {
            trainer.requestStop();
            progress.awaitDone();
            log.println("crate: interrupted; wrote " + trainer.lastCheckpoint() + " (continue with --resume)");
            log.flush();
        }, "crate-train-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return trainer.run();
        } finally {
            progress.done();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // Ctrl-C: the hook is running and waits for done() above
            }
        }
    }

    /** Classifier preset names for help text. */
    static final class ClassifierPresets implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return Architectures.presetNames(ClassifierConfig.class).iterator();
        }
    }

    /** As told, else a folder's own training statistics, else the data set's usual figures. */
    private Normalization normalization(String name, ImageSource trainSet) {
        if ("none".equals(normalize)) return Normalization.none();
        if (normalize != null) throw new IllegalArgumentException("--normalize takes only 'none', got '" + normalize + "'");
        if ((mean == null) != (std == null)) throw new IllegalArgumentException("--mean and --std go together");
        if (mean != null) return new Normalization(mean, std);
        return trainSet instanceof FolderImages f ? f.statistics() : Datasets.defaultNormalization(name);
    }
}

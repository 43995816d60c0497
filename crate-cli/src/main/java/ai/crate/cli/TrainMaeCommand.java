package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.model.mae.CrateMae;
import ai.crate.model.mae.CrateMaeConfig;
import ai.crate.model.data.Augmentation;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.ImageDataset;
import ai.crate.model.optim.Optimizer;
import ai.crate.model.optim.Param;
import ai.crate.model.train.MaeTask;
import ai.crate.model.train.Recipes;
import ai.crate.model.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Trains a CRATE-MAE (masked autoencoder) without labels; by default a small one on Fashion-MNIST. */
@Command(name = "train-mae", mixinStandardHelpOptions = true,
        description = "Train a CRATE-MAE masked autoencoder (default: 28 px Fashion-MNIST, patch 4, d 192, 4+4 layers).")
final class TrainMaeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--patch", defaultValue = "4", description = "Patch size (default ${DEFAULT-VALUE}).")
    int patch;

    @Option(names = "--dim", defaultValue = "192", description = "Width (default ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--depth", defaultValue = "4", description = "Encoder layers, and as many decoder layers (default ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = "--heads", defaultValue = "6", description = "Heads (default ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--mask-ratio", defaultValue = "0.75", description = "Share of patches removed (default ${DEFAULT-VALUE}).")
    float maskRatio;

    @Option(names = "--norm-pix-loss", description = "Per-patch normalised targets.")
    boolean normPixLoss;

    @Option(names = "--epochs", defaultValue = "5", description = "Epochs (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--minutes", defaultValue = "0", description = "Stop after this much wall time (0 = no limit).")
    double minutes;

    @Option(names = "--steps", defaultValue = "0", description = "Stop after N optimizer steps (0 = no limit).")
    long steps;

    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "1.5e-3", description = "Peak AdamW learning rate (default ${DEFAULT-VALUE}).")
    float lr;

    @Option(names = "--weight-decay", defaultValue = "0.05", description = "Decoupled weight decay (default ${DEFAULT-VALUE}).")
    float weightDecay;

    @Option(names = "--warmup", defaultValue = "-1", description = "Warmup steps (default: one epoch).")
    long warmup;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the init, shuffling and masking.")
    long seed;

    @Option(names = "--out", defaultValue = "runs/mae", paramLabel = "DIR", description = "Output folder (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--resume", description = "Continue exactly from DIR/last.safetensors.")
    boolean resume;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--epochs", epochs, 1);   // Recipes checks these too; here before the data loads
        OptionChecks.atLeast("--steps", steps, 0);
        OptionChecks.atLeast("--warmup", warmup, -1);
        OptionChecks.atLeast("--batch", batch, 1);
        OptionChecks.inRange("--minutes", minutes, 0, Double.MAX_VALUE, true);
        OptionChecks.atLeast("--patch", patch, 1);
        OptionChecks.atLeast("--dim", dim, 1);
        OptionChecks.atLeast("--depth", depth, 1);
        OptionChecks.atLeast("--heads", heads, 1);
        OptionChecks.inRange("--mask-ratio", maskRatio, 0, 1, false);
        ImageDataset trainSet = dataOptions.loadStandard(true);
        ImageDataset testSet = dataOptions.loadStandard(false);
        CrateMaeConfig c = new CrateMaeConfig(trainSet.height(), trainSet.channels(), patch, dim, depth, heads, 0.1f,
                0.5f, normPixLoss, maskRatio);
        Backend be = backendOptions.resolve();
        CrateMae mae = new CrateMae(c, be, seed);
        BatchLoader train = new BatchLoader(trainSet, batch, true, true, Augmentation.none(), dataOptions.standardNormalization(), seed);
        BatchLoader test = BatchLoader.forEvaluation(testSet, 500, dataOptions.standardNormalization());
        Optimizer opt = Recipes.optimizer("adamw", Param.of(mae.namedParameters(), false), lr, weightDecay, 0f, false);
        long perEpoch = train.stepsPerEpoch(), total = Recipes.totalSteps(perEpoch, epochs, steps);
        long warm = Recipes.warmupSteps(warmup, perEpoch, total);
        Files.createDirectories(out);
        ProgressListener progress = new ProgressListener(spec.commandLine().getOut(), perEpoch, epochs);
        Trainer trainer = new Trainer(new MaeTask(mae, seed), opt, Recipes.schedule("cosine", lr, warm, total), train,
                test, new Trainer.Settings(epochs, minutes, steps, 0f, 1f, out), progress);
        if (resume) {
            if (!Files.exists(trainer.lastCheckpoint())) {
                throw new IllegalArgumentException("--resume: no " + trainer.lastCheckpoint() + " to continue from");
            }
            trainer.resume(trainer.lastCheckpoint());
        }
        spec.commandLine().getOut().printf(Locale.ROOT, "training CRATE-MAE (%,d parameters; %d px, patch %d, d %d, %d+%d"
                        + " layers, %d heads, mask ratio %.2f) on %s, %d epochs of %d steps, batch %d, AdamW lr %.3g,"
                        + " backend %s%n", mae.parameterCount(),
                c.imageSize(), patch, dim, depth, depth, heads, maskRatio, dataOptions.dataset(), epochs, perEpoch, batch,
                lr, be.name());
        Trainer.Result r = TrainCommand.runInterruptibly(spec, trainer, progress);
        spec.commandLine().getOut().printf(Locale.ROOT, "%s after %d steps; wrote %s, %s%n",
                r.finished() ? "done" : "stopped", r.step(), trainer.lastCheckpoint(), trainer.metricsFile());
        return 0;
    }
}

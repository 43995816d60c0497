package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.model.data.TrainingData;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import ai.crate.model.nn.Pool;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The classifier file of a command (any architecture), with what such a file may not say (head count, pooling). */
final class CheckpointOptions {
    @Option(names = "--checkpoint", required = true, paramLabel = "FILE",
            description = "Model: our .safetensors, or an official .pth / checkpoint.pth.tar.")
    Path checkpoint;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads, when the file's metadata lacks them.")
    Integer heads;

    @Option(names = "--pool", paramLabel = "cls|mean|avg", description = "Pooling, when the file's metadata lacks it (default: CRATE cls; ViT by its final norm).")
    String pool;

    private Optional<TrainingData> trainingData = Optional.empty();

    LoadOptions options() {
        return new LoadOptions(heads, pool == null ? null : Pool.parse(pool), null, null);
    }

    /** The model; afterwards {@link #trainingData()} says what it was trained on, when the file says. */
    ImageClassifier load(Backend backend) throws CheckpointException {
        TensorFile f = Checkpoints.read(checkpoint);
        try {
            trainingData = TrainingData.fromMetadata(f.metadata());
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(checkpoint + ": " + e.getMessage(), e);
        }
        return Checkpoints.load(f, backend, options(), ImageClassifier.class);
    }

    /** The data description in the loaded file's metadata (class names, normalisation, split), if it has one. */
    Optional<TrainingData> trainingData() { return trainingData; }
}

package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.nn.Pool;
import ai.crate.model.io.CheckpointException;
import java.nio.file.Path;
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

    LoadOptions options() {
        return new LoadOptions(heads, pool == null ? null : Pool.parse(pool), null, null);
    }

    ImageClassifier load(Backend backend) throws CheckpointException {
        return Checkpoints.load(checkpoint, backend, options(), ImageClassifier.class);
    }
}

package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.model.mae.CrateMae;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The CRATE-MAE model file of a command, with the head count such a file may not say. */
final class MaeCheckpointOptions {
    @Option(names = "--checkpoint", required = true, paramLabel = "FILE",
            description = "A CRATE-MAE model: our .safetensors or an official .pth.")
    Path checkpoint;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads, when the file's metadata lacks them.")
    Integer heads;

    CrateMae load(Backend backend) throws CheckpointException {
        return Checkpoints.load(checkpoint, backend, LoadOptions.heads(heads), CrateMae.class);
    }
}

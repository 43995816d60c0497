package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.model.Crate;
import ai.crate.model.CrateCheckpoints;
import ai.crate.model.Pool;
import ai.crate.model.io.CheckpointException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The model file of a command, with what such a file may not say (head count, pooling). */
final class CheckpointOptions {
    @Option(names = "--checkpoint", required = true, paramLabel = "FILE",
            description = "Model: our .safetensors, or an official .pth / checkpoint.pth.tar.")
    Path checkpoint;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads, when the file's metadata lacks them.")
    Integer heads;

    @Option(names = "--pool", paramLabel = "cls|mean", description = "Pooling, when the file's metadata lacks it (default cls).")
    String pool;

    CrateCheckpoints.LoadOptions options() {
        return new CrateCheckpoints.LoadOptions(heads, pool == null ? null : Pool.parse(pool), null, null);
    }

    Crate load(Backend backend) throws CheckpointException {
        return CrateCheckpoints.load(checkpoint, backend, options());
    }
}

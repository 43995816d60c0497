package ai.crate.cli;

import ai.crate.model.CrateCheckpoints;
import ai.crate.model.CrateConfig;
import ai.crate.model.Pool;
import ai.crate.model.io.TensorFile;
import com.google.gson.GsonBuilder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

/** The configuration, parameter count and forward FLOPs of a checkpoint or a preset. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Config, parameter count and FLOPs per image of a checkpoint (or a preset).")
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    static final class Source {
        @Option(names = "--checkpoint", paramLabel = "FILE", description = ".safetensors, .pth or checkpoint.pth.tar")
        Path checkpoint;

        @Option(names = "--config", paramLabel = "NAME", description = "A preset instead: ${COMPLETION-CANDIDATES}",
                completionCandidates = Presets.class)
        String config;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads, when the file's metadata lacks them.")
    Integer heads;

    @Option(names = "--pool", paramLabel = "cls|mean", description = "Pooling, when the file's metadata lacks it.")
    String pool;

    @Option(names = "--json", description = "One JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        CrateConfig c;
        Map<String, String> fileMeta = Map.of();
        if (source.checkpoint != null) {
            TensorFile f = CrateCheckpoints.read(source.checkpoint);
            c = CrateCheckpoints.inferConfig(f, new CrateCheckpoints.LoadOptions(heads,
                    pool == null ? null : Pool.parse(pool), null, null));
            fileMeta = f.metadata();
        } else {
            c = CrateConfig.preset(source.config);
        }
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("preset", c.presetName());
        info.put("image_size", c.imageSize());
        info.put("channels", c.channels());
        info.put("patch_size", c.patchSize());
        info.put("dim", c.dim());
        info.put("depth", c.depth());
        info.put("heads", c.heads());
        info.put("head_dim", c.headDim());
        info.put("tokens", c.tokens());
        info.put("num_classes", c.numClasses());
        info.put("pool", c.pool().id());
        info.put("eta", c.eta());
        info.put("lambda", c.lambda());
        info.put("parameters", c.parameterCount());
        info.put("forward_gflops_per_image", c.forwardFlopsPerImage() / 1e9);
        if (!fileMeta.isEmpty()) info.put("file_metadata", fileMeta);
        if (json) {
            spec.commandLine().getOut().println(new GsonBuilder().serializeNulls().create().toJson(info));
        } else {
            info.forEach((k, v) -> spec.commandLine().getOut().printf("%-26s %s%n", k, v));
        }
        return 0;
    }

    /** Preset names for help text. */
    static final class Presets implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() { return CrateConfig.presetNames().iterator(); }
    }
}

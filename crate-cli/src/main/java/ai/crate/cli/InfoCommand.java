package ai.crate.cli;

import ai.crate.model.family.Architectures;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.ClassifierConfig;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.family.ModelConfig;
import ai.crate.model.nn.Pool;
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
        description = "Architecture, config, parameter count and FLOPs per image of a checkpoint (or a preset).")
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

    @Option(names = "--pool", paramLabel = "cls|mean|avg", description = "Pooling, when the file's metadata lacks it.")
    String pool;

    @Option(names = "--json", description = "One JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        ModelConfig c;
        Map<String, String> fileMeta = Map.of();
        if (source.checkpoint != null) {
            TensorFile f = Checkpoints.read(source.checkpoint);
            c = Checkpoints.configOf(f, new LoadOptions(heads, pool == null ? null : Pool.parse(pool), null, null));
            fileMeta = f.metadata();
        } else {
            c = Architectures.preset(source.config);
        }
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("architecture", c.architecture());
        info.put("description", Architectures.get(c.architecture()).description());
        info.put("preset", Architectures.presetName(c));
        c.toMetadata().forEach((k, v) -> {
            if (!k.equals("format") && !k.equals("preset")) info.put(k, number(v));
        });
        if (c instanceof ClassifierConfig cc) {
            info.put("head_dim", cc.headDim());
            info.put("tokens", cc.tokens());
        }
        info.put("parameters", Architectures.parameterCount(c));
        info.put("forward_gflops_per_image", Architectures.forwardFlopsPerImage(c) / 1e9);
        if (!fileMeta.isEmpty()) info.put("file_metadata", fileMeta);
        if (json) {
            spec.commandLine().getOut().println(new GsonBuilder().serializeNulls().create().toJson(info));
        } else {
            info.forEach((k, v) -> spec.commandLine().getOut().printf("%-26s %s%n", k, v));
        }
        return 0;
    }

    /** A metadata value as a JSON number where it is one. */
    private static Object number(String v) {
        try {
            if (v.matches("-?\\d+")) return Long.parseLong(v);   // not a ternary: that would promote the long to double
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            return v;
        }
    }

    /** Preset names for help text. */
    static final class Presets implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() { return Architectures.presetNames().iterator(); }
    }
}

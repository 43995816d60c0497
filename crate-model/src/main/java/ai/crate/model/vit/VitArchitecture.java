package ai.crate.model.vit;

import ai.crate.engine.Backend;
import ai.crate.model.family.Architecture;
import ai.crate.model.family.ConfigReader;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import ai.crate.model.nn.Mlp;
import ai.crate.model.nn.MultiHeadAttention;
import ai.crate.model.nn.Pool;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * ViT in the registry: timm's keys, the configuration of a checkpoint (metadata where present, else shapes: width,
 * channels and patch from {@code patch_embed.proj.weight}, the grid from {@code pos_embed}, depth from the block keys,
 * the MLP width from {@code fc1}, classes from {@code head}, pooling from which final norm is there — {@code fc_norm}
 * for avg, {@code norm} for token; only the head count cannot be inferred), parameter count and FLOPs.
 */
public final class VitArchitecture implements Architecture<VitConfig> {
    public static final String NAME = "vit";
    public static final VitArchitecture INSTANCE = new VitArchitecture();

    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\..*");
    private final Map<String, VitConfig> presets = VitConfig.presets();

    private VitArchitecture() {}

    @Override
    public String name() { return NAME; }

    @Override
    public String description() { return "Vision Transformer (multi-head self-attention + MLP), timm's keys"; }

    @Override
    public Class<VitConfig> configType() { return VitConfig.class; }

    @Override
    public Map<String, VitConfig> presets() { return presets; }

    @Override
    public Vit create(VitConfig config, Backend backend, long seed) { return new Vit(config, backend, seed); }

    @Override
    public List<String> signatureKeys() {
        return List.of("cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "head.weight");
    }

    @Override
    public long parameterCount(VitConfig c) {
        long d = c.dim(), embed = (long) c.channels() * c.patchSize() * c.patchSize() * d + d;
        long layer = MultiHeadAttention.parameterCount(d) + Mlp.parameterCount(d, c.mlpDim());
        long head = 2 * d + d * c.numClasses() + c.numClasses();
        return d + (long) c.tokens() * d + embed + c.depth() * layer + head;
    }

    @Override
    public double forwardFlopsPerImage(VitConfig c) {
        double n = c.tokens(), d = c.dim();
        double embed = 2.0 * c.numPatches() * c.channels() * c.patchSize() * c.patchSize() * d;
        return embed + c.depth() * (MultiHeadAttention.flops(n, d) + Mlp.flops(n, d, c.mlpDim()))
                + 2 * d * c.numClasses();
    }

    @Override
    public VitConfig configFrom(TensorFile f, LoadOptions options) throws CheckpointException {
        ConfigReader r = new ConfigReader(f, "ViT");
        int[] proj = r.shape("patch_embed.proj.weight", 4);            // [d, C, p, p]
        int dim = proj[0], channels = proj[1], patch = proj[2];
        if (proj[3] != patch) throw r.error("tensor 'patch_embed.proj.weight': patches " + patch + "×" + proj[3] + " are not square");
        int tokens = r.shape("pos_embed", 3)[1];
        int imageSize = r.gridOf("pos_embed", tokens) * patch;
        int mlpDim = r.shape("blocks.0.mlp.fc1.weight", 2)[0];
        int classes = r.shape("head.weight", 2)[0];
        r.checkMeta("image_size", imageSize);
        r.checkMeta("channels", channels);
        r.checkMeta("patch_size", patch);
        r.checkMeta("dim", dim);
        r.checkMeta("mlp_dim", mlpDim);
        r.checkMeta("num_classes", classes);
        int depth = r.layers(BLOCK, "blocks.<i>");
        r.checkMeta("depth", depth);
        int heads = r.heads(options, dim);
        Pool byKeys = r.has("fc_norm.weight") ? Pool.AVG : Pool.CLS;
        Pool pool = r.pool(options, byKeys);
        if (pool != byKeys) {
            throw r.error("pooling '" + pool.id() + "' was asked for, but the file's final norm is "
                    + (byKeys == Pool.AVG ? "'fc_norm' (avg pooling)" : "'norm' (token pooling)"));
        }
        try {
            return new VitConfig(imageSize, channels, patch, dim, depth, heads, mlpDim, classes, pool);
        } catch (IllegalArgumentException e) {
            throw r.invalid(e);
        }
    }
}

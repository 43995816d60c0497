package ai.crate.model.crate;

import ai.crate.engine.Backend;
import ai.crate.model.family.Architecture;
import ai.crate.model.family.ConfigReader;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import ai.crate.model.nn.Pool;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * CRATE in the registry: presets, factory, the official keys, the configuration of a checkpoint (metadata where
 * present, else tensor shapes; only the head count cannot be inferred), parameter count and FLOPs.
 */
public final class CrateArchitecture implements Architecture<CrateConfig> {
    public static final String NAME = "crate";
    public static final CrateArchitecture INSTANCE = new CrateArchitecture();

    private static final Pattern LAYER = Pattern.compile("transformer\\.layers\\.(\\d+)\\..*");
    private final Map<String, CrateConfig> presets = CrateConfig.presets();

    private CrateArchitecture() {}

    @Override
    public String name() { return NAME; }

    @Override
    public String description() { return "CRATE classifier (MSSA + ISTA layers), official keys of Ma-Lab-Berkeley/CRATE"; }

    @Override
    public Class<CrateConfig> configType() { return CrateConfig.class; }

    @Override
    public Map<String, CrateConfig> presets() { return presets; }

    @Override
    public Crate create(CrateConfig config, Backend backend, long seed) { return new Crate(config, backend, seed); }

    @Override
    public List<String> signatureKeys() {
        return List.of("cls_token", "pos_embedding", "to_patch_embedding.2.weight", "mlp_head.1.weight");
    }

    @Override
    public long parameterCount(CrateConfig c) {
        long d = c.dim(), pd = c.patchDim();
        long embed = 2 * pd + pd * d + d + 2 * d;                 // LN, Linear, LN
        long layer = Mssa.parameterCount(d, d, true) + Ista.parameterCount(d);
        long head = 2 * d + d * c.numClasses() + c.numClasses();
        return (long) c.tokens() * d + d + embed + c.depth() * layer + head;
    }

    @Override
    public double forwardFlopsPerImage(CrateConfig c) {
        double n = c.tokens(), d = c.dim();
        double embed = 2.0 * c.numPatches() * c.patchDim() * d;
        return embed + c.depth() * (Mssa.flops(n, d, d) + Ista.flops(n, d)) + 2 * d * c.numClasses();
    }

    /**
     * The configuration of the model in {@code f}: dim from {@code cls_token}, tokens from {@code pos_embedding},
     * patch width p²C from the patch projection, channels from metadata or the one of 1 and 3 that makes p²C/C a
     * square, depth from the layer keys, classes from the head; heads, pool, η, λ from the options, else metadata,
     * else (pool, η, λ only) the official defaults.
     */
    @Override
    public CrateConfig configFrom(TensorFile f, LoadOptions options) throws CheckpointException {
        ConfigReader r = new ConfigReader(f, "CRATE classifier");
        int dim = r.shape("cls_token", 3)[2];
        int tokens = r.shape("pos_embedding", 3)[1];
        int patchDim = r.shape("to_patch_embedding.2.weight", 2)[1];
        int classes = r.shape("mlp_head.1.weight", 2)[0];
        int grid = r.gridOf("pos_embedding", tokens);
        int channels = r.metaInt("channels", -1);
        if (channels < 0) {
            for (int c : new int[] {3, 1}) if (patchDim % c == 0 && isSquare(patchDim / c)) channels = c;
            if (channels < 0) {
                throw r.error("tensor 'to_patch_embedding.2.weight': patch width " + patchDim
                        + " is not p²·C for 1 or 3 channels; the file needs 'channels' in its metadata");
            }
        }
        int patch = (int) Math.round(Math.sqrt(patchDim / (double) channels));
        if (patch * patch * channels != patchDim) {
            throw r.error("tensor 'to_patch_embedding.2.weight': patch width " + patchDim + " is not p²·" + channels
                    + " for the metadata's " + channels + " channels");
        }
        int imageSize = grid * patch;
        r.checkMeta("image_size", imageSize);
        r.checkMeta("patch_size", patch);
        r.checkMeta("dim", dim);
        r.checkMeta("num_classes", classes);
        int depth = r.layers(LAYER, "transformer.layers.<i>");
        r.checkMeta("depth", depth);
        int heads = r.heads(options, dim);
        Pool pool = r.pool(options, Pool.CLS);
        float eta = options.eta() != null ? options.eta() : r.metaFloat("eta", CrateConfig.DEFAULT_ETA);
        float lambda = options.lambda() != null ? options.lambda() : r.metaFloat("lambda", CrateConfig.DEFAULT_LAMBDA);
        try {
            return new CrateConfig(imageSize, channels, patch, dim, depth, heads, classes, pool, eta, lambda);
        } catch (IllegalArgumentException e) {
            throw r.invalid(e);
        }
    }

    private static boolean isSquare(int v) {
        int r = (int) Math.round(Math.sqrt(v));
        return r > 0 && r * r == v;
    }
}

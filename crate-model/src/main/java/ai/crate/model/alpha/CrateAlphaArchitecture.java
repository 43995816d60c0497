package ai.crate.model.alpha;

import ai.crate.engine.Backend;
import ai.crate.model.crate.Mssa;
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
 * CRATE-α in the registry: the official keys, the configuration of a checkpoint (metadata where present, else
 * shapes: width, channels and patch from {@code conv1.weight}, the grid from {@code pos_embedding}, depth from the
 * layer keys, head features from {@code qkv}, atoms from {@code fn.D}, classes from the head; only the head count
 * cannot be inferred), parameter count and FLOPs.
 */
public final class CrateAlphaArchitecture implements Architecture<CrateAlphaConfig> {
    public static final String NAME = "crate-alpha";
    public static final CrateAlphaArchitecture INSTANCE = new CrateAlphaArchitecture();

    private static final Pattern LAYER = Pattern.compile("transformer\\.layers\\.(\\d+)\\..*");
    private final Map<String, CrateAlphaConfig> presets = CrateAlphaConfig.presets();

    private CrateAlphaArchitecture() {}

    @Override
    public String name() { return NAME; }

    @Override
    public String description() {
        return "CRATE-α classifier (MSSA + overcomplete ISTA, both residual), official keys of UCSC-VLAA/CRATE-alpha";
    }

    @Override
    public Class<CrateAlphaConfig> configType() { return CrateAlphaConfig.class; }

    @Override
    public Map<String, CrateAlphaConfig> presets() { return presets; }

    @Override
    public CrateAlpha create(CrateAlphaConfig config, Backend backend, long seed) {
        return new CrateAlpha(config, backend, seed);
    }

    @Override
    public List<String> signatureKeys() {
        return List.of("cls_token", "pos_embedding", "conv1.weight", "transformer.layers.0.1.fn.D", "mlp_head.1.weight");
    }

    @Override
    public long parameterCount(CrateAlphaConfig c) {
        long d = c.dim(), embed = (long) c.channels() * c.patchSize() * c.patchSize() * d + d;
        long layer = Mssa.parameterCount(d, c.innerDim(), false) + OvercompleteIsta.parameterCount(d, c.atoms());
        long head = 2 * d + d * c.numClasses() + c.numClasses();
        return (long) c.tokens() * d + d + embed + c.depth() * layer + head;
    }

    @Override
    public double forwardFlopsPerImage(CrateAlphaConfig c) {
        double n = c.tokens(), d = c.dim();
        double embed = 2.0 * c.numPatches() * c.channels() * c.patchSize() * c.patchSize() * d;
        return embed + c.depth() * (Mssa.flops(n, d, c.innerDim()) + OvercompleteIsta.flops(n, d, c.atoms()))
                + 2 * d * c.numClasses();
    }

    @Override
    public CrateAlphaConfig configFrom(TensorFile f, LoadOptions options) throws CheckpointException {
        ConfigReader r = new ConfigReader(f, "CRATE-α classifier");
        int[] conv = r.shape("conv1.weight", 4);                       // [d, C, p, p]
        int dim = conv[0], channels = conv[1], patch = conv[2];
        if (conv[3] != patch) throw r.error("tensor 'conv1.weight': patches " + patch + "×" + conv[3] + " are not square");
        int tokens = r.shape("pos_embedding", 3)[1];
        int imageSize = r.gridOf("pos_embedding", tokens) * patch;
        int inner = r.shape("transformer.layers.0.0.fn.qkv.weight", 2)[0];
        int[] dict = r.shape("transformer.layers.0.1.fn.D", 2);
        if (dict[0] != dim || dict[1] % dim != 0) {
            throw r.error("tensor 'transformer.layers.0.1.fn.D' has shape [" + dict[0] + ", " + dict[1]
                    + "], expected [" + dim + ", k·" + dim + "] for width " + dim);
        }
        int classes = r.shape("mlp_head.1.weight", 2)[0];
        r.checkMeta("image_size", imageSize);
        r.checkMeta("channels", channels);
        r.checkMeta("patch_size", patch);
        r.checkMeta("dim", dim);
        r.checkMeta("overcomplete", dict[1] / dim);
        r.checkMeta("num_classes", classes);
        int depth = r.layers(LAYER, "transformer.layers.<i>");
        r.checkMeta("depth", depth);
        int heads = r.heads(options, dim);
        if (inner % heads != 0) {
            throw r.error("tensor 'transformer.layers.0.0.fn.qkv.weight': " + inner + " rows do not split into " + heads
                    + " heads");
        }
        r.checkMeta("head_dim", inner / heads);
        if (r.pool(options, Pool.CLS) != Pool.CLS) throw r.error("CRATE-α pools by the CLS row only");
        float eta = options.eta() != null ? options.eta() : r.metaFloat("eta", CrateAlphaConfig.DEFAULT_ETA);
        float lambda = options.lambda() != null ? options.lambda()
                : r.metaFloat("lambda", CrateAlphaConfig.DEFAULT_LAMBDA);
        try {
            return new CrateAlphaConfig(imageSize, channels, patch, dim, depth, heads, inner / heads, dict[1] / dim,
                    classes, eta, lambda);
        } catch (IllegalArgumentException e) {
            throw r.invalid(e);
        }
    }
}

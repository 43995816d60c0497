package ai.crate.model.crate;

import ai.crate.engine.Backend;
import ai.crate.model.family.Architecture;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import ai.crate.model.nn.Pool;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
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
        long layer = Mssa.parameterCount(d) + Ista.parameterCount(d);
        long head = 2 * d + d * c.numClasses() + c.numClasses();
        return (long) c.tokens() * d + d + embed + c.depth() * layer + head;
    }

    @Override
    public double forwardFlopsPerImage(CrateConfig c) {
        double n = c.tokens(), d = c.dim();
        double embed = 2.0 * c.numPatches() * c.patchDim() * d;
        return embed + c.depth() * (Mssa.flops(n, d) + Ista.flops(n, d)) + 2 * d * c.numClasses();
    }

    /**
     * The configuration of the model in {@code f}: dim from {@code cls_token}, tokens from {@code pos_embedding},
     * patch width p²C from the patch projection, channels from metadata or the one of 1 and 3 that makes p²C/C a
     * square, depth from the layer keys, classes from the head; heads, pool, η, λ from the options, else metadata,
     * else (pool, η, λ only) the official defaults.
     */
    @Override
    public CrateConfig configFrom(TensorFile f, LoadOptions options) throws CheckpointException {
        String file = name(f.source());
        Map<String, String> meta = f.metadata();
        int dim = shape(f, "cls_token", 3)[2];
        int tokens = shape(f, "pos_embedding", 3)[1];
        int patchDim = shape(f, "to_patch_embedding.2.weight", 2)[1];
        int classes = shape(f, "mlp_head.1.weight", 2)[0];
        int grid = (int) Math.round(Math.sqrt(tokens - 1));
        if (tokens < 2 || grid * grid != tokens - 1) {
            throw new CheckpointException(file + ": tensor 'pos_embedding': " + tokens
                    + " positions is not 1 + a square number of patches");
        }
        int channels = metaInt(f, "channels", -1);
        if (channels < 0) {
            for (int c : new int[] {3, 1}) if (patchDim % c == 0 && isSquare(patchDim / c)) channels = c;
            if (channels < 0) {
                throw new CheckpointException(file + ": tensor 'to_patch_embedding.2.weight': patch width " + patchDim
                        + " is not p²·C for 1 or 3 channels; the file needs 'channels' in its metadata");
            }
        }
        int patch = (int) Math.round(Math.sqrt(patchDim / (double) channels));
        if (patch * patch * channels != patchDim) {
            throw new CheckpointException(file + ": tensor 'to_patch_embedding.2.weight': patch width " + patchDim
                    + " is not p²·" + channels + " for the metadata's " + channels + " channels");
        }
        int imageSize = grid * patch;
        checkMeta(f, "image_size", imageSize);
        checkMeta(f, "patch_size", patch);
        checkMeta(f, "dim", dim);
        checkMeta(f, "num_classes", classes);
        TreeSet<Integer> layers = new TreeSet<>();
        for (String key : f.tensors().keySet()) {
            Matcher m = LAYER.matcher(key);
            if (m.matches()) layers.add(Integer.parseInt(m.group(1)));
        }
        if (layers.isEmpty() || layers.first() != 0 || layers.last() != layers.size() - 1) {
            throw new CheckpointException(file + ": layer keys 'transformer.layers.<i>' should number 0.."
                    + "depth-1, found " + layers);
        }
        int depth = layers.size();
        checkMeta(f, "depth", depth);
        Integer heads = options.heads() != null ? options.heads() : meta.containsKey("heads") ? metaInt(f, "heads", 0) : null;
        if (heads == null) {
            throw new CheckpointException(file + ": the number of attention heads is not in the file's metadata and "
                    + "cannot be inferred from shapes; give it (--heads N, or LoadOptions.heads)");
        }
        if (heads < 1 || dim % heads != 0) {
            throw new CheckpointException(file + ": dim " + dim + " does not split into " + heads + " heads");
        }
        Pool pool = options.pool() != null ? options.pool()
                : meta.containsKey("pool") ? parsePool(f, meta.get("pool")) : Pool.CLS;
        float eta = options.eta() != null ? options.eta() : metaFloat(f, "eta", CrateConfig.DEFAULT_ETA);
        float lambda = options.lambda() != null ? options.lambda() : metaFloat(f, "lambda", CrateConfig.DEFAULT_LAMBDA);
        try {
            return new CrateConfig(imageSize, channels, patch, dim, depth, heads, classes, pool, eta, lambda);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": " + e.getMessage(), e);
        }
    }

    private static int[] shape(TensorFile f, String key, int rank) throws CheckpointException {
        StoredTensor t = f.tensors().get(key);
        if (t == null) {
            throw new CheckpointException(name(f.source()) + ": missing tensor '" + key
                    + "', which every CRATE classifier has");
        }
        if (t.rank() != rank) {
            throw new CheckpointException(name(f.source()) + ": tensor '" + key + "' has shape "
                    + Arrays.toString(t.shape()) + ", expected rank " + rank);
        }
        return t.shape();
    }

    private static boolean isSquare(int v) {
        int r = (int) Math.round(Math.sqrt(v));
        return r > 0 && r * r == v;
    }

    private static int metaInt(TensorFile f, String key, int fallback) throws CheckpointException {
        String v = f.metadata().get(key);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new CheckpointException(name(f.source()) + ": metadata '" + key + "' = '" + v + "' is not an integer");
        }
    }

    private static float metaFloat(TensorFile f, String key, float fallback) throws CheckpointException {
        String v = f.metadata().get(key);
        if (v == null) return fallback;
        try {
            return Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw new CheckpointException(name(f.source()) + ": metadata '" + key + "' = '" + v + "' is not a number");
        }
    }

    private static void checkMeta(TensorFile f, String key, int fromShapes) throws CheckpointException {
        int v = metaInt(f, key, fromShapes);
        if (v != fromShapes) {
            throw new CheckpointException(name(f.source()) + ": metadata '" + key + "' = " + v
                    + " disagrees with the tensors' shapes, which give " + fromShapes);
        }
    }

    private static Pool parsePool(TensorFile f, String v) throws CheckpointException {
        try {
            return Pool.parse(v);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(name(f.source()) + ": metadata 'pool': " + e.getMessage());
        }
    }

    private static String name(Path p) {
        Path n = p == null ? null : p.getFileName();
        return n == null ? String.valueOf(p) : n.toString();
    }
}

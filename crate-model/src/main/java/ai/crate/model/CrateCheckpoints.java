package ai.crate.model;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import ai.crate.model.io.TorchCheckpoints;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CRATE classifiers to and from files, under the official state_dict keys: our safetensors checkpoints (config in
 * {@code __metadata__}) and the official PyTorch files (a {@code torch.save}d state_dict or main.py's
 * {@code checkpoint.pth.tar}). The configuration is read from metadata where present and otherwise inferred from the
 * tensors' shapes; only the head count cannot be inferred, so it must come from metadata or the caller.
 */
public final class CrateCheckpoints {
    private CrateCheckpoints() {}

    /** What the file cannot tell: the head count, and overrides for pooling and ISTA's η and λ. Null = not given. */
    public record LoadOptions(Integer heads, Pool pool, Float eta, Float lambda) {
        public static LoadOptions defaults() { return new LoadOptions(null, null, null, null); }

        public static LoadOptions heads(int heads) { return new LoadOptions(heads, null, null, null); }
    }

    private static final Pattern LAYER = Pattern.compile("transformer\\.layers\\.(\\d+)\\..*");

    /**
     * Tensors named with this prefix in a model file are training state (optimizer moments), written by the trainer
     * beside the weights; loading a model skips them.
     */
    public static final String TRAIN_STATE_PREFIX = "train.";

    /** Reads a safetensors file or a PyTorch zip checkpoint, told apart by the zip signature. */
    public static TensorFile read(Path file) throws CheckpointException {
        byte[] head = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, 4);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
        }
        boolean zip = n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
        return zip ? TorchCheckpoints.read(file) : SafeTensors.read(file);
    }

    /** Reads {@code file} and builds the model it holds on {@code backend}. */
    public static Crate load(Path file, Backend backend, LoadOptions options) throws CheckpointException {
        TensorFile f = read(file);
        Crate model = new Crate(inferConfig(f, options), backend, 0);
        loadInto(model, f);
        return model;
    }

    /**
     * The configuration of the model in {@code f}: dim from {@code cls_token}, tokens from {@code pos_embedding},
     * patch width p²C from the patch projection, channels from metadata or the one of 1 and 3 that makes p²C/C a
     * square, depth from the layer keys, classes from the head; heads, pool, η, λ from the options, else metadata,
     * else (pool, η, λ only) the official defaults.
     */
    public static CrateConfig inferConfig(TensorFile f, LoadOptions options) throws CheckpointException {
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

    /**
     * Copies the tensors of {@code f} into {@code model}'s parameters. Every parameter must be present with its
     * shape, as floating point, and the file must hold nothing else: otherwise one exception names the key.
     */
    public static void loadInto(Crate model, TensorFile f) throws CheckpointException {
        loadTensors(model, f, describe(model.config()));
        model.markUpdated();
    }

    /**
     * Copies the tensors of {@code f} into every parameter and buffer of {@code model} ({@link Module#namedTensors});
     * {@code what} names the model in messages. Training-state tensors ({@link #TRAIN_STATE_PREFIX}) are skipped.
     */
    public static void loadTensors(Module model, TensorFile f, String what) throws CheckpointException {
        String file = name(f.source());
        Map<String, Variable> params = model.namedTensors();
        List<String> missing = new ArrayList<>(), extra = new ArrayList<>();
        for (String k : params.keySet()) if (!f.tensors().containsKey(k)) missing.add(k);
        for (String k : f.tensors().keySet()) {
            if (!params.containsKey(k) && !k.startsWith(TRAIN_STATE_PREFIX)) extra.add(k);
        }
        if (!missing.isEmpty()) {
            throw new CheckpointException(file + ": missing tensor '" + missing.getFirst() + "'"
                    + (missing.size() > 1 ? " (and " + (missing.size() - 1) + " more: " + missing + ")" : "")
                    + " for " + what);
        }
        if (!extra.isEmpty()) {
            throw new CheckpointException(file + ": unexpected tensor '" + extra.getFirst() + "'"
                    + (extra.size() > 1 ? " (and " + (extra.size() - 1) + " more: " + extra + ")" : "")
                    + ", not a parameter of " + what);
        }
        for (var e : params.entrySet()) {
            StoredTensor t = f.tensors().get(e.getKey());
            Tensor target = e.getValue().value();
            Backend be = target.backend();
            if (!Arrays.equals(t.shape(), target.shape())) {
                throw new CheckpointException(file + ": tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(t.shape()) + " but " + what + " expects " + Arrays.toString(target.shape()));
            }
            if (!t.dtype().isFloating()) {
                throw new CheckpointException(file + ": tensor '" + e.getKey() + "' is " + t.dtype()
                        + ", a parameter must be floating point");
            }
            be.copy(be.fromArray(t.floats(), target.shape()), target);
        }
    }

    /** The parameters as float32 tensors under their official keys, in state_dict order. */
    public static Map<String, StoredTensor> stateDict(Module model) {
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        model.namedTensors().forEach((k, v) -> out.put(k, StoredTensor.f32(v.shape(), v.value().toFloatArray())));
        return out;
    }

    /** Writes the model as safetensors with its config in {@code __metadata__}; atomic. */
    public static void save(Crate model, Path file) throws CheckpointException {
        SafeTensors.write(file, stateDict(model), model.config().toMetadata());
    }

    private static String describe(CrateConfig c) {
        return "the model (image " + c.imageSize() + ", channels " + c.channels() + ", patch " + c.patchSize()
                + ", dim " + c.dim() + ", depth " + c.depth() + ", heads " + c.heads() + ", classes "
                + c.numClasses() + ")";
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

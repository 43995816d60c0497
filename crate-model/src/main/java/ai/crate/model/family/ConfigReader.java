package ai.crate.model.family;

import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import ai.crate.model.nn.Pool;
import java.util.Arrays;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a configuration out of a checkpoint for an {@link Architecture#configFrom}: tensor shapes, metadata values
 * checked against them, layer counts from keys, the head count and pooling from the options or metadata. Every
 * error names the file and the key.
 */
public final class ConfigReader {
    private final TensorFile f;
    private final String file;
    private final String what;

    /** {@code what} names the model in messages ("CRATE classifier", "ViT"...). */
    public ConfigReader(TensorFile f, String what) {
        this.f = f;
        this.file = Architectures.fileName(f.source());
        this.what = what;
    }

    public TensorFile file() { return f; }

    /** An error about the file: its name, then {@code message}. */
    public CheckpointException error(String message) { return new CheckpointException(file + ": " + message); }

    /** A configuration the file's values make but the record refuses (its message), as an error about the file. */
    public CheckpointException invalid(IllegalArgumentException e) {
        return new CheckpointException(file + ": " + e.getMessage(), e);
    }

    public boolean has(String key) { return f.tensors().containsKey(key); }

    /** The shape of tensor {@code key}, which must exist with rank {@code rank}. */
    public int[] shape(String key, int rank) throws CheckpointException {
        StoredTensor t = f.tensors().get(key);
        if (t == null) throw error("missing tensor '" + key + "', which every " + what + " has");
        if (t.rank() != rank) {
            throw error("tensor '" + key + "' has shape " + Arrays.toString(t.shape()) + ", expected rank " + rank);
        }
        return t.shape();
    }

    /** Metadata {@code key} as an integer, or {@code fallback} when absent. */
    public int metaInt(String key, int fallback) throws CheckpointException {
        String v = f.metadata().get(key);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw error("metadata '" + key + "' = '" + v + "' is not an integer");
        }
    }

    public float metaFloat(String key, float fallback) throws CheckpointException {
        String v = f.metadata().get(key);
        if (v == null) return fallback;
        try {
            return Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw error("metadata '" + key + "' = '" + v + "' is not a number");
        }
    }

    /** Refuses metadata {@code key} when present and different from what the shapes give. */
    public void checkMeta(String key, int fromShapes) throws CheckpointException {
        int v = metaInt(key, fromShapes);
        if (v != fromShapes) {
            throw error("metadata '" + key + "' = " + v + " disagrees with the tensors' shapes, which give " + fromShapes);
        }
    }

    /** The grid side of a position table of {@code tokens} rows: 1 + a square number of patches. */
    public int gridOf(String key, int tokens) throws CheckpointException {
        int grid = (int) Math.round(Math.sqrt(tokens - 1));
        if (tokens < 2 || grid * grid != tokens - 1) {
            throw error("tensor '" + key + "': " + tokens + " positions is not 1 + a square number of patches");
        }
        return grid;
    }

    /** Layers numbered by group 1 of {@code layerKey} over the keys: they must run 0..depth-1; returns depth. */
    public int layers(Pattern layerKey, String described) throws CheckpointException {
        TreeSet<Integer> layers = new TreeSet<>();
        for (String key : f.tensors().keySet()) {
            Matcher m = layerKey.matcher(key);
            if (m.matches()) layers.add(Integer.parseInt(m.group(1)));
        }
        if (layers.isEmpty() || layers.first() != 0 || layers.last() != layers.size() - 1) {
            throw error("layer keys '" + described + "' should number 0..depth-1, found " + layers);
        }
        return layers.size();
    }

    /** Heads from the options, else metadata; shapes cannot tell them. Must split {@code dim}. */
    public int heads(LoadOptions options, int dim) throws CheckpointException {
        Integer heads = options.heads() != null ? options.heads()
                : f.metadata().containsKey("heads") ? metaInt("heads", 0) : null;
        if (heads == null) {
            throw error("the number of attention heads is not in the file's metadata and cannot be inferred from "
                    + "shapes; give it (--heads N, or LoadOptions.heads)");
        }
        if (heads < 1 || dim % heads != 0) throw error("dim " + dim + " does not split into " + heads + " heads");
        return heads;
    }

    /** Pooling from the options, else metadata, else {@code fallback}. */
    public Pool pool(LoadOptions options, Pool fallback) throws CheckpointException {
        if (options.pool() != null) return options.pool();
        String v = f.metadata().get("pool");
        if (v == null) return fallback;
        try {
            return Pool.parse(v);
        } catch (IllegalArgumentException e) {
            throw error("metadata 'pool': " + e.getMessage());
        }
    }
}

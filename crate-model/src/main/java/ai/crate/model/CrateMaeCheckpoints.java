package ai.crate.model;

import ai.crate.engine.Backend;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CRATE-MAE models to and from files under the official keys: our safetensors (config in {@code __metadata__}) and
 * the official PyTorch checkpoints. Without metadata the shapes give width, patch size, channels, image size and depth;
 * the head count comes from the caller, η and λ default to the official 0.1 and 0.5, the loss to raw-pixel targets.
 */
public final class CrateMaeCheckpoints {
    private CrateMaeCheckpoints() {}

    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\..*");

    public static CrateMae load(Path file, Backend backend, Integer heads) throws CheckpointException {
        TensorFile f = CrateCheckpoints.read(file);
        CrateMae model = new CrateMae(inferConfig(f, heads), backend, 0);
        CrateCheckpoints.loadTensors(model, f, "the CRATE-MAE " + model.config());
        return model;
    }

    public static void save(CrateMae model, Path file) throws CheckpointException {
        SafeTensors.write(file, CrateCheckpoints.stateDict(model), model.config().toMetadata());
    }

    public static CrateMaeConfig inferConfig(TensorFile f, Integer heads) throws CheckpointException {
        String file = f.source().getFileName().toString();
        Map<String, String> meta = f.metadata();
        int[] w = shape(f, "patch_embed.proj.weight", 4);           // [d, C, p, p]
        int[] pos = shape(f, "pos_embed", 3);                       // [1, L + 1, d]
        int grid = (int) Math.round(Math.sqrt(pos[1] - 1));
        if (grid * grid != pos[1] - 1) {
            throw new CheckpointException(file + ": tensor 'pos_embed': " + pos[1] + " positions is not 1 + a square");
        }
        TreeSet<Integer> blocks = new TreeSet<>();
        for (String k : f.tensors().keySet()) {
            Matcher m = BLOCK.matcher(k);
            if (m.matches()) blocks.add(Integer.parseInt(m.group(1)));
        }
        if (blocks.isEmpty() || blocks.first() != 0 || blocks.last() != blocks.size() - 1) {
            throw new CheckpointException(file + ": keys 'blocks.<i>' should number 0..depth-1, found " + blocks);
        }
        Integer h = heads != null ? heads : meta.containsKey("heads") ? Integer.valueOf(meta.get("heads")) : null;
        if (h == null) {
            throw new CheckpointException(file + ": the number of attention heads is not in the file's metadata; give it"
                    + " (--heads N)");
        }
        try {
            return new CrateMaeConfig(grid * w[2], w[1], w[2], w[0], blocks.size(), h,
                    Float.parseFloat(meta.getOrDefault("eta", "0.1")), Float.parseFloat(meta.getOrDefault("lambda", "0.5")),
                    Boolean.parseBoolean(meta.getOrDefault("norm_pix_loss", "false")),
                    Float.parseFloat(meta.getOrDefault("mask_ratio", "0.75")));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": " + e.getMessage(), e);
        }
    }

    private static int[] shape(TensorFile f, String key, int rank) throws CheckpointException {
        StoredTensor t = f.tensors().get(key);
        String file = f.source().getFileName().toString();
        if (t == null) throw new CheckpointException(file + ": missing tensor '" + key + "', which every CRATE-MAE has");
        if (t.rank() != rank) {
            throw new CheckpointException(file + ": tensor '" + key + "' has shape " + Arrays.toString(t.shape())
                    + ", expected rank " + rank);
        }
        return t.shape();
    }
}

package ai.crate.model.mae;

import ai.crate.engine.Backend;
import ai.crate.model.family.Architecture;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CRATE-MAE in the registry. Without metadata the shapes give width, patch size, channels, image size and depth; the
 * head count comes from the caller, η and λ default to the official 0.1 and 0.5, the loss to raw-pixel targets.
 */
public final class CrateMaeArchitecture implements Architecture<CrateMaeConfig> {
    public static final String NAME = "crate-mae";
    public static final CrateMaeArchitecture INSTANCE = new CrateMaeArchitecture();

    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\..*");

    private CrateMaeArchitecture() {}

    @Override
    public String name() { return NAME; }

    @Override
    public String description() { return "CRATE-MAE masked autoencoder (CRATE encoder, structured-diffusion decoder)"; }

    @Override
    public Class<CrateMaeConfig> configType() { return CrateMaeConfig.class; }

    /** No named presets yet: `crate train-mae` builds its configuration from a classifier preset's shape. */
    @Override
    public Map<String, CrateMaeConfig> presets() { return Map.of(); }

    @Override
    public CrateMae create(CrateMaeConfig config, Backend backend, long seed) { return new CrateMae(config, backend, seed); }

    @Override
    public List<String> signatureKeys() { return List.of("patch_embed.proj.weight", "mask_token", "decoder_pred.weight"); }

    @Override
    public long parameterCount(CrateMaeConfig c) {
        long d = c.dim(), in = (long) c.channels() * c.patchSize() * c.patchSize();
        long encoderLayer = 2 * d + 2 * d * d + d + 2 * d + d * d;     // MSSA (norm, U, W_out + b), ISTA (norm, D)
        long decoderLayer = 2 * d + d * d + 2 * d + 2 * d * d + d;     // norm + W, MSSA
        return 2 * d + in * d + d + c.depth() * (encoderLayer + decoderLayer) + 2 * d   // tokens, patch_embed, norm
                + d * d + d + 2 * d + d * c.patchDim() + c.patchDim();                    // decoder_embed, norm, pred
    }

    @Override
    public double forwardFlopsPerImage(CrateMaeConfig c) {
        double n = c.numPatches() + 1, d = c.dim();
        double mssa = 2 * n * d * d + 2 * (2 * n * n * d) + 2 * n * d * d;
        double encoder = mssa + 2 * (2 * n * d * d), decoder = 2 * n * d * d + mssa;
        return 2.0 * c.numPatches() * c.patchDim() * d + c.depth() * (encoder + decoder) + 2 * n * d * c.patchDim();
    }

    @Override
    public CrateMaeConfig configFrom(TensorFile f, LoadOptions options) throws CheckpointException {
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
        Integer h = options.heads() != null ? options.heads()
                : meta.containsKey("heads") ? Integer.valueOf(meta.get("heads")) : null;
        if (h == null) {
            throw new CheckpointException(file + ": the number of attention heads is not in the file's metadata; give it"
                    + " (--heads N)");
        }
        if (h < 1 || w[0] % h != 0) throw new CheckpointException(file + ": dim " + w[0] + " does not split into " + h + " heads");
        try {
            return new CrateMaeConfig(grid * w[2], w[1], w[2], w[0], blocks.size(), h,
                    options.eta() != null ? options.eta() : Float.parseFloat(meta.getOrDefault("eta", "0.1")),
                    options.lambda() != null ? options.lambda() : Float.parseFloat(meta.getOrDefault("lambda", "0.5")),
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

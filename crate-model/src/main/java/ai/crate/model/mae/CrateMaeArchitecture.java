package ai.crate.model.mae;

import ai.crate.engine.Backend;
import ai.crate.model.family.Architecture;
import ai.crate.model.family.ConfigReader;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import java.util.List;
import java.util.Map;
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
        ConfigReader r = new ConfigReader(f, "CRATE-MAE");
        int[] w = r.shape("patch_embed.proj.weight", 4);           // [d, C, p, p]
        int grid = r.gridOf("pos_embed", r.shape("pos_embed", 3)[1]);   // [1, L + 1, d]
        int depth = r.layers(BLOCK, "blocks.<i>");
        int heads = r.heads(options, w[0]);
        try {
            return new CrateMaeConfig(grid * w[2], w[1], w[2], w[0], depth, heads,
                    options.eta() != null ? options.eta() : r.metaFloat("eta", 0.1f),
                    options.lambda() != null ? options.lambda() : r.metaFloat("lambda", 0.5f),
                    Boolean.parseBoolean(f.metadata().getOrDefault("norm_pix_loss", "false")),
                    r.metaFloat("mask_ratio", 0.75f));
        } catch (IllegalArgumentException e) {
            throw r.invalid(e);
        }
    }
}

package ai.crate.model.tost;

import ai.crate.engine.Backend;
import ai.crate.model.family.Architecture;
import ai.crate.model.family.ConfigReader;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import ai.crate.model.nn.Mlp;
import ai.crate.model.nn.Pool;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.TreeSet;

/**
 * ToST in the registry: the official keys, the configuration of a checkpoint (metadata where present, else shapes:
 * width from {@code cls_token}, channels from the first convolution, the patch size from how many convolutions the
 * stem has — 3 for 8, 4 for 16 — depth from the block keys, classes from {@code head}; the head count cannot be
 * inferred, and neither can the image size, since the positions are computed for any grid: metadata, else the
 * official 224), parameter count and FLOPs.
 */
public final class TostArchitecture implements Architecture<TostConfig> {
    public static final String NAME = "tost";
    public static final TostArchitecture INSTANCE = new TostArchitecture();
    /** The image size of a checkpoint that does not say (the official models are trained at 224). */
    public static final int DEFAULT_IMAGE_SIZE = 224;

    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\..*");
    private static final Pattern CONV = Pattern.compile("patch_embed\\.proj\\.(\\d+)\\.0\\.weight");
    private final Map<String, TostConfig> presets = TostConfig.presets();

    private TostArchitecture() {}

    @Override
    public String name() { return NAME; }

    @Override
    public String description() {
        return "ToST classifier (token-statistics attention, linear in the tokens), keys of RobinWu218/ToST";
    }

    @Override
    public Class<TostConfig> configType() { return TostConfig.class; }

    @Override
    public Map<String, TostConfig> presets() { return presets; }

    @Override
    public Tost create(TostConfig config, Backend backend, long seed) { return new Tost(config, backend, seed); }

    @Override
    public List<String> signatureKeys() {
        return List.of("cls_token", "patch_embed.proj.0.0.weight", "blocks.0.attn.temp", "pos_embeder.token_projection.weight",
                "head.weight");
    }

    @Override
    public long parameterCount(TostConfig c) {
        long d = c.dim(), stem = 0, cin = c.channels();
        for (int w : ConvStem.widths(c.patchSize(), c.dim())) {
            stem += cin * w * 9 + 2L * w;
            cin = w;
        }
        long layer = Tssa.parameterCount(d, c.heads()) + Mlp.parameterCount(d, 4 * d) + d;
        long positions = 2L * FourierPositions.HIDDEN * d + d;
        long head = 2 * d + d * c.numClasses() + c.numClasses();
        return d + stem + c.depth() * layer + Tost.CLASS_BLOCKS * ClassAttentionBlock.parameterCount(d) + head
                + positions;
    }

    @Override
    public double forwardFlopsPerImage(TostConfig c) {
        double n = c.numPatches(), d = c.dim(), flops = 0;
        int size = c.imageSize(), cin = c.channels();
        for (int w : ConvStem.widths(c.patchSize(), c.dim())) {
            size = (size + 1) / 2;
            flops += 2.0 * size * size * w * cin * 9;
            cin = w;
        }
        flops += 2 * n * 2 * FourierPositions.HIDDEN * d;
        flops += c.depth() * (Tssa.flops(n, d) + Mlp.flops(n, d, 4 * d));
        flops += Tost.CLASS_BLOCKS * ClassAttentionBlock.flops(n + 1, d);
        return flops + 2 * d * c.numClasses();
    }

    @Override
    public TostConfig configFrom(TensorFile f, LoadOptions options) throws CheckpointException {
        ConfigReader r = new ConfigReader(f, "ToST classifier");
        int dim = r.shape("cls_token", 3)[2];
        int channels = r.shape("patch_embed.proj.0.0.weight", 4)[1];
        TreeSet<Integer> convs = new TreeSet<>();
        for (String k : f.tensors().keySet()) {
            Matcher m = CONV.matcher(k);
            if (m.matches()) convs.add(Integer.parseInt(m.group(1)));
        }
        int patch = switch (convs.size()) {
            case 3 -> 8;
            case 4 -> 16;
            default -> throw r.error("the stem has " + convs.size() + " convolutions (patch_embed.proj." + convs
                    + ".0.weight); ToST's has 3 (patch 8) or 4 (patch 16)");
        };
        int[] widths = ConvStem.widths(patch, dim);
        for (int i = 0; i < widths.length; i++) {
            int expected = 2 * i;
            if (!convs.contains(expected)) {
                throw r.error("the stem's convolutions are " + convs + ", expected 0, 2, 4" + (patch == 16 ? ", 6" : ""));
            }
            int[] w = r.shape("patch_embed.proj." + expected + ".0.weight", 4);
            if (w[0] != widths[i] || w[2] != 3 || w[3] != 3) {
                throw r.error("tensor 'patch_embed.proj." + expected + ".0.weight' has shape " + Arrays.toString(w)
                        + ", expected [" + widths[i] + ", C, 3, 3] for width " + dim + " and patch " + patch);
            }
        }
        int classes = r.shape("head.weight", 2)[0];
        int imageSize = r.metaInt("image_size", DEFAULT_IMAGE_SIZE);
        r.checkMeta("channels", channels);
        r.checkMeta("patch_size", patch);
        r.checkMeta("dim", dim);
        r.checkMeta("num_classes", classes);
        int depth = r.layers(BLOCK, "blocks.<i>");
        r.checkMeta("depth", depth);
        int heads = r.heads(options, dim);
        int temp = r.shape("blocks.0.attn.temp", 2)[0];
        if (temp != heads) {
            throw r.error("tensor 'blocks.0.attn.temp' holds " + temp + " heads' temperatures, but " + heads
                    + " heads were given");
        }
        if (r.pool(options, Pool.CLS) != Pool.CLS) throw r.error("ToST pools by the CLS row only");
        float scale = r.metaFloat("layer_scale", depth <= 12 ? 1f : 1e-5f);
        try {
            return new TostConfig(imageSize, channels, patch, dim, depth, heads, classes, scale);
        } catch (IllegalArgumentException e) {
            throw r.invalid(e);
        }
    }
}

package ai.crate.model.mae;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.crate.Ista;
import ai.crate.model.crate.Mssa;
import ai.crate.model.family.Model;
import ai.crate.model.nn.Block;
import ai.crate.model.nn.ConvPatchEmbed;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Linear;
import ai.crate.model.nn.PatchEmbed;
import ai.crate.model.nn.Taps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * CRATE-MAE as the official code computes it (which differs from the MAE paper's): the encoder sees every position,
 * the removed patches replaced by {@code mask_token}, with the fixed 2-D sin-cos {@code decoder_pos_embed} added after
 * the CLS token is prepended; L CRATE blocks (ISTA with λ = 0.5), {@code norm}; then L {@link MaeDecoderBlock}s,
 * {@code decoder_norm}, {@code decoder_pred} to p²C values per patch, the CLS row dropped; the loss is the mean
 * squared error over the removed patches only. {@code pos_embed} and {@code decoder_embed} are in the state_dict but
 * unused, as officially. Parameter names are the official keys.
 */
public final class CrateMae extends Model {
    /** Loss, per-patch predictions [B, L, p²C], and the mask [B, L] (1 = removed). */
    public record Output(Variable loss, Variable pred, float[] mask) {}

    private final CrateMaeConfig config;
    private final Variable clsToken;
    private final Variable maskToken;
    private final Variable decoderPosEmbed;
    private final ConvPatchEmbed patchEmbed;
    private final List<Block> blocks = new ArrayList<>();
    private final LayerNorm norm;
    private final List<MaeDecoderBlock> decoderBlocks = new ArrayList<>();
    private final LayerNorm decoderNorm;
    private final Linear decoderPred;

    public CrateMae(CrateMaeConfig c, Backend backend, long seed) {
        super(backend);
        this.config = c;
        Init init = new Init(backend, seed);
        int d = c.dim(), n = c.numPatches() + 1;
        this.clsToken = parameter("cls_token", init.normal(0.02f, 1, 1, d));
        Tensor table = backend.fromArray(sinCosTable(d, c.gridSize()), 1, n, d);
        buffer("pos_embed", table);
        this.maskToken = parameter("mask_token", init.normal(0.02f, 1, 1, d));
        this.decoderPosEmbed = buffer("decoder_pos_embed", table.to(backend));
        this.patchEmbed = child("patch_embed", new ConvPatchEmbed(init, c.channels(), c.imageSize(), c.patchSize(), d));
        for (int i = 0; i < c.depth(); i++) {
            blocks.add(child("blocks." + i + ".layers.0", new Block("0", new Mssa(init, d, c.heads()),
                    "1", new Ista(init, d, c.eta(), c.lambda()), Block.Residual.AROUND_MIXER)));
        }
        this.norm = child("norm", new LayerNorm(init, d, 1e-6f));
        child("decoder_embed", new Linear(init, d, d, true));
        for (int i = 0; i < c.depth(); i++) {
            decoderBlocks.add(child("decoder_blocks." + i, new MaeDecoderBlock(init, d, c.heads())));
        }
        this.decoderNorm = child("decoder_norm", new LayerNorm(init, d, 1e-6f));
        this.decoderPred = child("decoder_pred", new Linear(init, d, c.patchDim(), true));
    }

    @Override
    public CrateMaeConfig config() { return config; }

    /**
     * The official fixed 2-D sin-cos table [L + 1, d] (MAE's get_2d_sincos_pos_embed with a zero CLS row): half the
     * width encodes the column, half the row, each as sin and cos of position·10000^(−2i/(d/2)).
     */
    static float[] sinCosTable(int d, int grid) {
        float[] t = new float[(grid * grid + 1) * d];
        int quarter = d / 4;
        for (int r = 0; r < grid; r++) {
            for (int col = 0; col < grid; col++) {
                int row = 1 + r * grid + col;
                for (int half = 0; half < 2; half++) {
                    double pos = half == 0 ? col : r;            // meshgrid(w, h): the first half uses the column
                    for (int i = 0; i < quarter; i++) {
                        double omega = 1.0 / StrictMath.pow(10000, (double) i / quarter);
                        t[row * d + half * 2 * quarter + i] = (float) StrictMath.sin(pos * omega);
                        t[row * d + half * 2 * quarter + quarter + i] = (float) StrictMath.cos(pos * omega);
                    }
                }
            }
        }
        return t;
    }

    /** The loss target: patches in (p q c) order, per-patch normalised when the config says so. */
    public Tensor target(Tensor images) {
        Tensor t = PatchEmbed.patchify(images, config.channels(), config.imageSize(), config.patchSize());
        if (!config.normPixLoss()) return t;
        float[] v = t.toFloatArray();
        int w = config.patchDim();
        for (int off = 0; off < v.length; off += w) {
            double mean = 0, var = 0;
            for (int i = 0; i < w; i++) mean += v[off + i];
            mean /= w;
            for (int i = 0; i < w; i++) var += (v[off + i] - mean) * (v[off + i] - mean);
            var /= Math.max(w - 1, 1);                      // unbiased, as torch.var
            double inv = 1 / Math.sqrt(var + 1e-6);
            for (int i = 0; i < w; i++) v[off + i] = (float) ((v[off + i] - mean) * inv);
        }
        return backend().fromArray(v, t.shape());
    }

    /** Removed-patch mask [B, L] from per-sample noise: argsort ascending, the first {@link CrateMaeConfig#keptPatches} kept. */
    public float[] mask(float[] noise, int batch) {
        int l = config.numPatches(), keep = config.keptPatches();
        if (noise.length != batch * l) {
            throw new IllegalArgumentException("noise must be [" + batch + ", " + l + "], got " + noise.length + " values");
        }
        float[] mask = new float[batch * l];
        for (int b = 0; b < batch; b++) {
            Integer[] order = new Integer[l];
            for (int i = 0; i < l; i++) order[i] = i;
            int base = b * l;
            Arrays.sort(order, (x, y) -> Float.compare(noise[base + x], noise[base + y]));
            for (int i = keep; i < l; i++) mask[base + order[i]] = 1f;
        }
        return mask;
    }

    /** The encoder's output [B, L + 1, d] (CLS first, after {@code norm}) with the patches in {@code mask} removed. */
    public Variable encode(Tensor images, float[] mask) {
        int b = images.dim(0), l = config.numPatches(), d = config.dim();
        Variable tokens = patchEmbed.forward(images);
        float[] keep = new float[mask.length];
        for (int i = 0; i < mask.length; i++) keep[i] = 1f - mask[i];
        Variable kept = F.mul(tokens, Variable.temporary(backend().fromArray(keep, b, l, 1)));
        Variable filled = F.add(kept, F.mul(maskToken, Variable.temporary(backend().fromArray(mask, b, l, 1))));
        Variable cls = F.add(Variable.temporary(backend().empty(b, 1, d)), clsToken);
        Variable z = F.add(F.concat(List.of(cls, filled), 1), decoderPosEmbed);
        Taps taps = Taps.training(true);
        for (Block block : blocks) z = block.forward(z, taps);
        return norm.forward(z);
    }

    public Output forward(Tensor images, float[] noise) {
        int b = images.dim(0), l = config.numPatches();
        float[] mask = mask(noise, b);
        Variable z = encode(images, mask);
        Taps taps = Taps.training(true);
        for (MaeDecoderBlock block : decoderBlocks) z = block.forward(z, taps);
        Variable pred = F.slice(decoderPred.forward(decoderNorm.forward(z)), 1, 1, l + 1);
        Variable target = Variable.temporaryUnlessViewOf(target(images), images);   // patch order: usually a copy
        Variable perPatch = F.mean(F.square(F.sub(pred, target)), 2, false);
        double removed = 0;
        for (float m : mask) removed += m;
        Variable loss = F.affine(F.sum(F.mul(perPatch, Variable.temporary(backend().fromArray(mask, b, l)))),
                (float) (1 / Math.max(removed, 1)), 0f);
        return new Output(loss, pred, mask);
    }
}

package ai.crate.model.tost;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.nn.Block;
import ai.crate.model.nn.ClassToken;
import ai.crate.model.nn.ClassifierHead;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Linear;
import ai.crate.model.nn.Pool;
import ai.crate.model.nn.Taps;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * ToST as the official {@code tost_vision/tost.py} builds its {@code tost_cab_*} models: {@code patch_embed}
 * ({@link ConvStem}), the Fourier positions {@code pos_embeder} added to the patch tokens, {@code depth} blocks
 * {@code blocks.i} of {@link Tssa} and {@link LayerScaledMlp} with the residual around both, then {@code cls_token}
 * prepended, two {@link ClassAttentionBlock}s {@code cls_attn_blocks.i}, {@code norm}, the CLS row and
 * {@code head}. Keys are the official ones; the init is the official one (timm's for Linear layers).
 */
public final class Tost extends ImageClassifier {
    /** Every LayerNorm's eps, as the tost_cab presets. */
    public static final float EPS = 1e-6f;
    /** Class-attention blocks after the TSSA blocks. */
    public static final int CLASS_BLOCKS = 2;

    private final TostConfig config;
    private final ClassToken classToken;
    private final List<ClassAttentionBlock> classBlocks = new ArrayList<>();
    private final FourierPositions positions;

    public Tost(TostConfig config, Backend backend, long seed) {
        super(backend);
        this.config = config;
        Init init = Init.timm(backend, seed);
        int d = config.dim();
        float scale = config.layerScale();
        this.classToken = inline(new ClassToken("cls_token", init.truncNormal(0.02f, 1, 1, d)));
        stem("patch_embed", new ConvStem(init, config.channels(), config.patchSize(), d));
        for (int i = 0; i < config.depth(); i++) {
            block("blocks." + i, new Block("", new Tssa(init, d, config.heads(), scale),
                    "", new LayerScaledMlp(init, d, 4 * d, scale), Block.Residual.AROUND_BOTH));
        }
        for (int i = 0; i < CLASS_BLOCKS; i++) {
            classBlocks.add(child("cls_attn_blocks." + i, new ClassAttentionBlock(init, d, config.heads(), scale)));
        }
        head("", new ClassifierHead(Pool.CLS, "norm", new LayerNorm(init, d, EPS), "head",
                new Linear(init, d, config.numClasses(), true)));
        this.positions = child("pos_embeder", new FourierPositions(init, d));
    }

    /**
     * Stem, positions, the TSSA blocks (each shown to {@code taps}), CLS, the class-attention blocks: [B, N + 1, d].
     * Images of any square size divisible by the patch run (the positions follow the grid), as the official model.
     */
    @Override
    public Variable features(Tensor images, Taps taps) {
        Variable z = stem().forward(images);
        Variable pos = positions.forward(z.backend(), images.dim(2) / config.patchSize());
        z = replace(z, F.add(z, pos));
        pos.discard();
        for (Block block : blocks()) {
            z = replace(z, block.forward(z, taps));
            taps.layerDone(z);
        }
        z = replace(z, classToken.prepend(z));
        for (ClassAttentionBlock block : classBlocks) z = replace(z, block.forward(z));
        return z;
    }

    /**
     * For each TSSA block the membership Π of its input's patches in each head ([B, H, N]: a token's distribution over
     * the heads, the ToST paper's segmentation maps), then for each class-attention block the CLS token's attention
     * over the patches; evaluation mode, no tape.
     */
    @Override
    public HeadMaps headMaps(Tensor images, Taps.LayerProbe probe) {
        boolean training = isTraining();
        train(false);
        List<Tensor> maps = new ArrayList<>();
        List<String> layers = new ArrayList<>();
        try (var noGrad = Autograd.noGrad()) {
            Variable z = stem().forward(images);
            Variable pos = positions.forward(z.backend(), images.dim(2) / config.patchSize());
            z = replace(z, F.add(z, pos));
            Taps taps = Taps.inference(false, probe);
            int i = 0;
            for (Block block : blocks()) {
                maps.add(((Tssa) block.mixer()).membership(z).value().contiguous());
                layers.add("TSSA " + ++i);
                z = replace(z, block.forward(z, taps));
                taps.layerDone(z);
            }
            z = replace(z, classToken.prepend(z));
            i = 0;
            for (ClassAttentionBlock block : classBlocks) {
                Tensor attn = block.classAttention(z).value();
                int n = attn.dim(2);
                maps.add(attn.slice(2, 1, n).contiguous());
                layers.add("class attention " + ++i);
                z = replace(z, block.forward(z));
            }
            z.discard();
        } finally {
            train(training);
        }
        return new HeadMaps("TSSA layers: each patch's membership Π in the head; class-attention layers: the CLS "
                + "token's attention over the patches", maps, layers);
    }

    public List<ClassAttentionBlock> classBlocks() { return Collections.unmodifiableList(classBlocks); }

    public ConvStem convStem() { return (ConvStem) stem(); }

    @Override
    public TostConfig config() { return config; }

    private static Variable replace(Variable consumed, Variable next) {
        consumed.discard();
        return next;
    }
}

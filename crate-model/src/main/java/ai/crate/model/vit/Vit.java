package ai.crate.model.vit;

import ai.crate.engine.Backend;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.nn.Block;
import ai.crate.model.nn.ClassToken;
import ai.crate.model.nn.ClassifierHead;
import ai.crate.model.nn.ConvPatchEmbed;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Linear;
import ai.crate.model.nn.Mlp;
import ai.crate.model.nn.MultiHeadAttention;
import ai.crate.model.nn.Pool;
import ai.crate.model.nn.Positions;

/**
 * The Vision Transformer as timm's {@code VisionTransformer} (the ViT of the official CRATE repository's
 * {@code model/vit.py}): {@code patch_embed.proj} (a p×p convolution of stride p), {@code cls_token} and the learned
 * {@code pos_embed} added to [cls; patches], {@code depth} pre-norm blocks {@code blocks.i} with the residual around
 * both {@link MultiHeadAttention} and {@link Mlp}, then {@code norm}, the cls row and {@code head} (token pooling)
 * or the mean of the patch rows, {@code fc_norm} and {@code head} (avg pooling). Keys are timm's, so a timm or DeiT
 * state dict loads; the init is timm's.
 */
public final class Vit extends ImageClassifier {
    private final VitConfig config;

    public Vit(VitConfig config, Backend backend, long seed) {
        super(backend);
        this.config = config;
        Init init = Init.timm(backend, seed);
        int d = config.dim();
        classToken(new ClassToken("cls_token", init.normal(1e-6f, 1, 1, d)));
        positions(Positions.learned("pos_embed", init.truncNormal(0.02f, 1, config.tokens(), d)));
        stem("patch_embed", new ConvPatchEmbed(init, config.channels(), config.imageSize(), config.patchSize(), d));
        for (int i = 0; i < config.depth(); i++) {
            block("blocks." + i, new Block("", new MultiHeadAttention(init, d, config.heads(), VitConfig.EPS),
                    "", new Mlp(init, d, config.mlpDim(), VitConfig.EPS), Block.Residual.AROUND_BOTH));
        }
        head("", new ClassifierHead(config.pool(), config.pool() == Pool.AVG ? "fc_norm" : "norm",
                new LayerNorm(init, d, VitConfig.EPS), "head", new Linear(init, d, config.numClasses(), true)));
    }


    @Override
    public VitConfig config() { return config; }
}

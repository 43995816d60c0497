package ai.crate.model.alpha;

import ai.crate.engine.Backend;
import ai.crate.model.crate.Mssa;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.nn.Block;
import ai.crate.model.nn.ClassToken;
import ai.crate.model.nn.ClassifierHead;
import ai.crate.model.nn.ConvPatchEmbed;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Linear;
import ai.crate.model.nn.Pool;
import ai.crate.model.nn.Positions;

/**
 * CRATE-α as the official {@code torch_inference/model/crate_alpha.py} builds it: {@code conv1} (a p×p convolution of
 * stride p with bias), {@code cls_token} prepended and the learned {@code pos_embedding} added, {@code depth} layers
 * {@code transformer.layers.i} of {@link Mssa} (".0": pre-norm eps 1e-6, tied {@code qkv} and {@code to_out.0}, no
 * biases) and {@link OvercompleteIsta} (".1"), each with its residual, then {@code mlp_head} (the CLS row, LayerNorm
 * eps 1e-5, Linear). Parameter names are the official state_dict keys; the init is the official one.
 */
public final class CrateAlpha extends ImageClassifier {
    /** The blocks' LayerNorm eps (the official PreNorm's); the head's norm keeps PyTorch's 1e-5. */
    public static final float EPS = 1e-6f;

    private final CrateAlphaConfig config;

    public CrateAlpha(CrateAlphaConfig config, Backend backend, long seed) {
        super(backend);
        this.config = config;
        Init init = new Init(backend, seed);
        int d = config.dim();
        positions(Positions.learned(init, "pos_embedding", config.tokens(), d));
        classToken(new ClassToken("cls_token", init.normal(1, 1, d)));
        stem("", new ConvPatchEmbed(init, "conv1", config.channels(), config.imageSize(), config.patchSize(), d));
        for (int i = 0; i < config.depth(); i++) {
            block("transformer.layers." + i, new Block(
                    "0", new Mssa(init, d, config.innerDim(), config.heads(), false, EPS),
                    "1", new OvercompleteIsta(init, d, config.atoms(), config.eta(), config.lambda()),
                    Block.Residual.AROUND_BOTH));
        }
        head("mlp_head", new ClassifierHead(Pool.CLS, "0", new LayerNorm(init, d), "1",
                new Linear(init, d, config.numClasses(), true)));
    }

    @Override
    public CrateAlphaConfig config() { return config; }
}

package ai.crate.model.crate;

import ai.crate.engine.Backend;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.nn.Block;
import ai.crate.model.nn.ClassToken;
import ai.crate.model.nn.ClassifierHead;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Linear;
import ai.crate.model.nn.PatchEmbed;
import ai.crate.model.nn.Positions;

/**
 * The CRATE classifier as the official code builds it: {@code to_patch_embedding} (channel-last patches, LayerNorm,
 * Linear, LayerNorm), {@code cls_token} and the learned {@code pos_embedding}, {@code depth} layers
 * {@code transformer.layers.i} of {@link Mssa} (".0", with the residual) then {@link Ista} (".1", without), and
 * {@code mlp_head} (pooling, LayerNorm, Linear). Parameter names are the official state_dict keys.
 */
public final class Crate extends ImageClassifier {
    private final CrateConfig config;

    /** A freshly initialised model (the official init), its weights a function of {@code seed} alone. */
    public Crate(CrateConfig config, Backend backend, long seed) {
        super(backend);
        this.config = config;
        Init init = new Init(backend, seed);
        int d = config.dim();
        positions(Positions.learned(init, "pos_embedding", config.tokens(), d));
        classToken(new ClassToken("cls_token", init.normal(1, 1, d)));
        stem("to_patch_embedding", new PatchEmbed(init, config.channels(), config.imageSize(), config.patchSize(), d));
        for (int i = 0; i < config.depth(); i++) {
            block("transformer.layers." + i, new Block("0", new Mssa(init, d, config.heads()),
                    "1", new Ista(init, d, config.eta(), config.lambda()), Block.Residual.AROUND_MIXER));
        }
        head("mlp_head", new ClassifierHead(config.pool(), "0", new LayerNorm(init, d), "1",
                new Linear(init, d, config.numClasses(), true)));
    }

    @Override
    public CrateConfig config() { return config; }
}

package ai.crate.model.nn;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.Tensor;
import java.util.Arrays;

/**
 * One layer: a token mixer, then a feature map, with the residual structure its architecture defines. CRATE adds
 * the residual around the mixer only (its ISTA step has none); ViT, CRATE-α and ToST around both. The two parts are
 * registered under the architecture's official names (an empty name puts a part's keys at the block's level).
 */
public final class Block extends Module {
    /** Where the residual connections are. */
    public enum Residual {
        /** Z' = map(Z + mixer(Z)): CRATE. */
        AROUND_MIXER,
        /** H = Z + mixer(Z), Z' = H + map(H): ViT and the CRATE follow-ups. */
        AROUND_BOTH
    }

    private final TokenMixer mixer;
    private final FeatureMap featureMap;
    private final Residual residual;

    public Block(String mixerName, TokenMixer mixer, String featureMapName, FeatureMap featureMap, Residual residual) {
        this.mixer = mixerName.isEmpty() ? inline(mixer) : child(mixerName, mixer);
        this.featureMap = featureMapName.isEmpty() ? inline(featureMap) : child(featureMapName, featureMap);
        this.residual = residual;
    }

    public TokenMixer mixer() { return mixer; }

    public FeatureMap featureMap() { return featureMap; }

    public Variable forward(Variable z, Taps taps) {
        Variable h = plus(z, mixer.forward(z, taps));
        Variable out = featureMap.forward(h, taps);
        if (residual == Residual.AROUND_BOTH) out = plus(h, out);
        h.discard();
        return out;
    }

    /** z + branch; without a tape, into the branch's own buffer (a pass over a fresh buffer fewer). */
    private static Variable plus(Variable z, Variable branch) {
        if (branch.mayOverwrite() && Arrays.equals(z.shape(), branch.shape())) {
            Tensor b = branch.value();
            b.backend().binary(BinaryOp.ADD, b, z.value(), b);
            return branch;
        }
        Variable sum = F.add(z, branch);
        branch.discard();
        return sum;
    }
}

package ai.crate.model.tost;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.model.nn.FeatureMap;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.Mlp;

/** ToST's MLP branch γ₂ ⊙ mlp(norm2(x)) (keys {@code norm2}, {@code mlp.fc1}, {@code mlp.fc2}, {@code gamma2}). */
public final class LayerScaledMlp extends FeatureMap {
    private final Mlp mlp;
    private final Variable gamma;

    public LayerScaledMlp(Init init, int dim, int hidden, float layerScale) {
        this.mlp = inline(new Mlp(init, dim, hidden, Tost.EPS));
        this.gamma = parameter("gamma2", init.constant(layerScale, dim));
    }

    @Override
    public Variable forward(Variable x) {
        Variable h = mlp.forward(x);
        Variable out = F.mul(h, gamma);
        h.discard();
        return out;
    }
}

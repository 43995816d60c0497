package ai.crate.model.optim;

import ai.crate.autograd.Variable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A trainable parameter under its state_dict name, and whether weight decay applies to it. */
public record Param(String name, Variable variable, boolean decay) {

    /**
     * The parameters of a model with the usual exemptions from weight decay: LayerNorm weights and biases, every bias
     * (all of them rank 1), the CLS token and the position embedding. With {@code decayAll} every parameter decays,
     * as in PyTorch's default single parameter group.
     */
    public static List<Param> of(Map<String, Variable> named, boolean decayAll) {
        List<Param> out = new ArrayList<>();
        named.forEach((name, v) -> out.add(new Param(name, v, decayAll || decays(name, v))));
        return out;
    }

    private static boolean decays(String name, Variable v) {
        return v.value().rank() >= 2 && !name.equals("cls_token") && !name.equals("pos_embedding");
    }
}

package ai.crate.model.nn;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import java.util.List;

/** A learned token [1, 1, d] prepended to every image's tokens, under the key the architecture names. */
public final class ClassToken extends Module {
    private final Variable token;

    public ClassToken(String name, Tensor value) { this.token = parameter(name, value); }

    public Variable token() { return token; }

    /** [token; tokens] for tokens [B, n, d]: [B, n + 1, d]. */
    public Variable prepend(Variable tokens) {
        int b = tokens.shape()[0], n = tokens.shape()[1], d = tokens.shape()[2];
        Backend be = tokens.backend();
        if (!Autograd.isGradEnabled()) {
            // straight into one output: the token copied to every image by a stride-0 view
            Tensor z = be.allocate(b, n + 1, d), t = token.value();
            be.copy(new Tensor(be, t.storage(), new int[] {b, 1, d}, new int[] {0, 0, 1}, t.offset()), z.slice(1, 0, 1));
            be.copy(tokens.value(), z.slice(1, 1, n + 1));
            return Variable.untaped("prependToken", z);
        }
        // zeros + token broadcasts it to [B, 1, d]; the graph owns the zeros (releaseGraph hands them back)
        Variable cls = F.add(Variable.temporary(be.empty(b, 1, d)), token);
        return F.concat(List.of(cls, tokens), 1);
    }
}

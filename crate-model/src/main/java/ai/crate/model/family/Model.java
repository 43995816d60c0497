package ai.crate.model.family;

import ai.crate.engine.Backend;
import ai.crate.model.nn.Module;

/** A whole model of the family: its configuration (which names its architecture), its backend and its weights. */
public abstract class Model extends Module {
    private final Backend backend;

    protected Model(Backend backend) { this.backend = backend; }

    public Backend backend() { return backend; }

    public abstract ModelConfig config();
}

package ai.crate.model.nn;

import ai.crate.autograd.Variable;
import ai.crate.engine.Tensor;

/** The first part of a vision model: images [B, C, H, W] to patch tokens [B, n, d]. */
public abstract class Stem extends Module {
    /** Patch tokens [B, n, d], a tensor of their own (not a view of the images). */
    public abstract Variable forward(Tensor images);
}

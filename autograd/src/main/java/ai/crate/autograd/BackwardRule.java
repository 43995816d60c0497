package ai.crate.autograd;

import ai.crate.engine.Tensor;

/**
 * How one op sends the gradient of its output back to its inputs: the single gradient rule of that op. Rules work on
 * plain {@link Tensor}s through backend ops, so running one records nothing.
 */
@FunctionalInterface
public interface BackwardRule {
    /**
     * @param gradOutput the gradient of the loss with respect to the op's output, shaped like the output; possibly a
     *                   strided view, and never to be modified
     * @param needsGrad  {@code needsGrad[i]} tells whether parent {@code i} wants a gradient; the rule may skip the
     *                   work and return {@code null} where it does not
     * @return one gradient per parent, in parent order, each shaped like its parent and on the same backend; a rule
     *         may return views of {@code gradOutput} but must not modify it
     */
    Tensor[] gradients(Tensor gradOutput, boolean[] needsGrad);
}

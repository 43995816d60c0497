/**
 * Reverse-mode automatic differentiation over the engine's {@link ai.crate.engine.Backend} ops, in the spirit of
 * micrograd and tinygrad: few primitives, one gradient rule each, all of it readable in one sitting.
 *
 * <ul>
 *   <li>{@link ai.crate.autograd.Variable}: a value tensor, its accumulated gradient, and the node (parents plus
 *       {@link ai.crate.autograd.BackwardRule}) that produced it; {@code backward()} walks the graph iteratively.</li>
 *   <li>{@link ai.crate.autograd.F}: the differentiable ops (matmul, linear, elementwise, reductions, softmax,
 *       layerNorm, crossEntropy, indexing, views).</li>
 *   <li>{@link ai.crate.autograd.Autograd}: the thread-local no-grad scope and zeroing of parameter gradients.</li>
 *   <li>{@link ai.crate.autograd.GradCheck}: central-difference checking of any op's backward rule.</li>
 * </ul>
 */
package ai.crate.autograd;

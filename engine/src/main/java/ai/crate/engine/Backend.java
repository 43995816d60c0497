package ai.crate.engine;

import java.util.List;

/**
 * The one list of primitive ops every backend implements. Ops write into caller-supplied outputs so steady-state
 * loops allocate nothing; outputs must be contiguous and must not alias inputs, except that the elementwise ops
 * ({@code unary}, {@code unaryBackward}, {@code binary}, {@code affine}) may write over an input of the output's own
 * shape and layout (in place). Inputs may be any view (strided, transposed, sliced) unless an op says otherwise.
 * Every tensor passed must belong to this backend: mixing backends is an error naming the op.
 *
 * <p>The required methods are the primitives; {@link #fused()} gives the fused layer and optimizer ops, which every
 * backend runs (composed from these primitives unless it overrides them). {@code ReferenceBackend} implements every
 * op with plain loops and is the oracle other backends are tested against.
 */
public interface Backend {
    /** Short name used in logs and errors, e.g. "reference", "simd". */
    String name();

    /** A new contiguous tensor; contents are zero on CPU backends and unspecified elsewhere. */
    Tensor empty(int... shape);

    /**
     * A new contiguous tensor whose contents are unspecified: it may reuse a buffer handed back by {@link #release}.
     * For outputs an op overwrites completely; use {@link #empty} where zeros are needed.
     */
    default Tensor allocate(int... shape) { return empty(shape); }

    /**
     * Hands the storage of {@code t} (all of it, so every view sharing it) back for reuse by later allocations, so a
     * training loop in steady state allocates nothing. Neither {@code t} nor any view of its storage may be used
     * afterwards. A backend may ignore this.
     */
    default void release(Tensor t) {}

    /**
     * Waits until every op this thread queued has finished. Ops of asynchronous backends (CUDA) return before the
     * work is done; reading a tensor back waits anyway, so this is for timing. CPU backends are synchronous.
     */
    default void synchronize() {}

    /** A new contiguous tensor holding a copy of {@code data} (row-major). */
    Tensor fromArray(float[] data, int... shape);

    /** The elements of any view, row-major, copied to a new heap array. */
    float[] toArray(Tensor t);

    /**
     * The elements of {@code src} (any view, row-major) into {@code dst[offset..offset + size)}: a host read that
     * allocates nothing on CPU backends (data-parallel training stages gradients this way every step).
     */
    default void copyToHost(Tensor src, float[] dst, int offset) {
        OpChecks.hostRange("copyToHost", src, dst, offset);
        float[] values = toArray(src);
        System.arraycopy(values, 0, dst, offset, values.length);
    }

    /** {@code src[offset..offset + size)} into {@code dst} (any view, row-major): the write-back of {@link #copyToHost}. */
    default void copyFromHost(float[] src, int offset, Tensor dst) {
        OpChecks.hostRange("copyFromHost", dst, src, offset);
        Tensor staged = fromArray(java.util.Arrays.copyOfRange(src, offset, offset + (int) dst.size()), dst.shape());
        copy(staged, dst);
        release(staged);
    }

    // ---- fill, copy, random ------------------------------------------------------------------------------------

    void fill(Tensor out, float value);

    /** dst[i] = src[i] for two tensors of the same shape and any strides (dst may be a strided view). */
    void copy(Tensor src, Tensor dst);

    /**
     * Uniform values in [low, high) from a counter-based generator: element i of {@code out} depends only on
     * (seed, i), so every backend produces the same numbers.
     */
    void randomUniform(Tensor out, long seed, float low, float high);

    /** Normal values, counter-based like {@link #randomUniform}. */
    void randomNormal(Tensor out, long seed, float mean, float std);

    // ---- matrix products ---------------------------------------------------------------------------------------

    /**
     * Batched C = α·op(A)·op(B) + β·C over the last two dimensions, op(X) = X or Xᵀ. A is [..., M, K] ([..., K, M]
     * when transA), B is [..., K, N] ([..., N, K] when transB), C is [..., M, N]. The batch dimensions of A and B
     * broadcast to C's (a weight [K, N] serves every batch). A and B may be any strided view; C must be contiguous.
     * When β = 0, C is overwritten (NaN in C does not propagate).
     */
    void gemm(float alpha, Tensor a, boolean transA, Tensor b, boolean transB, float beta, Tensor c);

    // ---- elementwise -------------------------------------------------------------------------------------------

    /** out = op(x); shapes equal. */
    void unary(UnaryOp op, Tensor x, Tensor out);

    /** dx = dy · op'(x); shapes equal. */
    void unaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx);

    /** out = op(a, b) with broadcasting: out has the broadcast shape of a and b. */
    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out);

    /** out = x · scale + shift. */
    void affine(Tensor x, float scale, float shift, Tensor out);

    // ---- reductions --------------------------------------------------------------------------------------------

    /**
     * Reduces {@code x} along {@code axis}. {@code out} has x's shape without that axis, or with it set to 1 (the
     * same elements either way).
     */
    void reduce(ReduceOp op, Tensor x, int axis, Tensor out);

    // ---- softmax family (last axis) ----------------------------------------------------------------------------

    void softmax(Tensor x, Tensor out);

    /** dx = y ⊙ (dy − Σ dy ⊙ y), with y the softmax output. */
    void softmaxBackward(Tensor y, Tensor dy, Tensor dx);

    void logSoftmax(Tensor x, Tensor out);

    /** dx = dy − exp(y) · Σ dy, with y the log-softmax output. */
    void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx);

    // ---- normalisation -----------------------------------------------------------------------------------------

    /**
     * LayerNorm over the last axis (width C): out = (x − μ)·rstd·γ + β with rstd = 1/√(var + eps), biased variance.
     * Writes the per-row {@code mean} and {@code rstd} ([rows] or x's shape without the last axis) for backward.
     */
    void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out, Tensor mean, Tensor rstd);

    /** Gradients of {@link #layerNorm}: writes dx, and overwrites dgamma and dbeta (each [C]). */
    void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                           Tensor dx, Tensor dgamma, Tensor dbeta);

    // ---- loss --------------------------------------------------------------------------------------------------

    /**
     * Per-row cross-entropy of logits [N, C] against class indices, with label smoothing ε as PyTorch defines it:
     * target = (1 − ε)·onehot + ε/C. Writes losses [N].
     */
    void crossEntropy(Tensor logits, int[] labels, float smoothing, Tensor losses);

    /** dlogits[n] = (softmax(logits[n]) − target[n]) · dlosses[n]. */
    void crossEntropyBackward(Tensor logits, int[] labels, float smoothing, Tensor dlosses, Tensor dlogits);

    // ---- indexing ----------------------------------------------------------------------------------------------

    /**
     * out = x gathered along {@code axis}: out[i₀…i_axis…] = x[i₀…index[i₀…i_axis]…]. {@code index} is row-major
     * with shape out.shape[0..axis] (so it may differ per leading index, e.g. a token subset per image), values in
     * [0, x.dim(axis)). Shapes of x and out agree except along {@code axis}.
     */
    void gather(Tensor x, int axis, int[] index, Tensor out);

    /** The adjoint of {@link #gather}: out[…index[…]…] += src[…]. Accumulates into out. */
    void scatterAdd(Tensor src, int axis, int[] index, Tensor out);

    /** out = the inputs joined along {@code axis}. By default one {@link #copy} per input into its slice of out. */
    default void concat(List<Tensor> xs, int axis, Tensor out) {
        OpChecks.sameBackend("concat", this, xs.toArray(new Tensor[0]));
        OpChecks.sameBackend("concat", this, out);
        int ax = OpChecks.concat("concat", xs, axis, out);
        int at = 0;
        for (Tensor x : xs) {
            copy(x, out.slice(ax, at, at + x.dim(ax)));
            at += x.dim(ax);
        }
    }

    /** out = x[…, start : start + out.dim(axis), …] along {@code axis}. By default a {@link #copy} of that view. */
    default void slice(Tensor x, int axis, int start, Tensor out) {
        OpChecks.sameBackend("slice", this, x, out);
        int ax = OpChecks.slice("slice", x, axis, start, out);
        OpChecks.contiguous("slice", "output", out);
        copy(x.slice(ax, start, start + out.dim(ax)), out);
    }

    // ---- fused ops ---------------------------------------------------------------------------------------------

    /**
     * The optional fused ops (CRATE's layers, the optimizer steps, norms over many tensors), by default composed from
     * the primitives above; a backend with faster kernels returns its own {@link FusedOps} subclass.
     */
    default FusedOps fused() { return new FusedOps(this); }
}

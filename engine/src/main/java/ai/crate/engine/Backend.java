package ai.crate.engine;

import java.util.List;

/**
 * The one list of primitive ops every backend implements. Ops write into caller-supplied outputs so steady-state
 * loops allocate nothing; outputs must be contiguous and must not alias inputs, except that the elementwise ops
 * ({@code unary}, {@code unaryBackward}, {@code binary}, {@code affine}) may write over an input of the output's own
 * shape and layout (in place). Inputs may be any view (strided, transposed, sliced) unless an op says otherwise.
 * Every tensor passed must belong to this backend: mixing backends is an error naming the op.
 *
 * <p>{@code ReferenceBackend} implements every op with plain loops and is the oracle other backends are tested
 * against.
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

    // ---- fused CRATE layers ------------------------------------------------------------------------------------

    /**
     * The attention of CRATE's multi-head subspace self-attention (MSSA), with Q = K = V tied: {@code w} [B, N, H·p]
     * is the projection Y·Uᵀ, split into H heads W_h [N, p]; per (batch, head) A = softmax(scale · W_h W_hᵀ) and
     * out_h = A · W_h. Writes {@code out} [B, N, H·p]; when {@code attn} is not null also A into it, [B, H, N, N].
     */
    void mssaForward(Tensor w, int heads, float scale, Tensor out, Tensor attn);

    /**
     * Gradient of {@link #mssaForward} with respect to w, overwriting {@code dw}: the tied projection gets three
     * contributions per head, Aᵀ·dO (values) and scale·(dS + dSᵀ)·W (queries and keys), dS = A ⊙ (dO Wᵀ − rowsum).
     * {@code attn} is the A saved by the forward, or null to recompute it (less memory, one more GEMM per head).
     */
    void mssaBackward(Tensor w, Tensor attn, Tensor dout, int heads, float scale, Tensor dw);

    /**
     * CRATE's ISTA block, one proximal-gradient step against dictionary D [d, d]:
     * out = ReLU(x + η·(x − x Dᵀ)·D − η·λ) for x [..., d], written in that two-GEMM form. When {@code residual} is
     * not null it receives R = x − x Dᵀ (shape of x) for the backward.
     */
    void istaForward(Tensor x, Tensor dict, float eta, float lambda, Tensor out, Tensor residual);

    /**
     * Gradients of {@link #istaForward}: with G = dout ⊙ [out > 0] and dR = G Dᵀ, writes dx = G + η(dR − dR·D) and
     * overwrites dDict = η(Rᵀ G − dRᵀ x). {@code out} is the forward's output (its sign is the ReLU mask);
     * {@code residual} is the saved R, or null to recompute it.
     */
    void istaBackward(Tensor x, Tensor dict, Tensor out, Tensor residual, Tensor dout, float eta,
                      Tensor dx, Tensor dDict);

    /**
     * accumulator += Σ x² over every element of x (any view), accumulator a one-element tensor: the squared norms
     * behind gradient clipping. By default a product, a reduction and an add; a backend may do it in one pass.
     */
    default void sumOfSquaresInto(Tensor x, Tensor accumulator) {
        OpChecks.sameBackend("sumOfSquaresInto", this, x);
        OpChecks.oneElement("sumOfSquaresInto", "accumulator", this, accumulator);
        Tensor sq = allocate(x.shape()), part = allocate(accumulator.shape());
        binary(BinaryOp.MUL, x, x, sq);
        reduce(ReduceOp.SUM, sq.reshape(-1), 0, part.reshape(1));
        binary(BinaryOp.ADD, accumulator, part, accumulator);
        release(sq);
        release(part);
    }

    /** {@link #sumOfSquaresInto(Tensor, Tensor)} over several tensors: one accumulator for all (a global norm). */
    default void sumOfSquaresInto(List<Tensor> xs, Tensor accumulator) {
        for (Tensor x : xs) sumOfSquaresInto(x, accumulator);
    }

    /** x ← x · factor for every x, factor a one-element tensor (clipping's rescale, without reading it back). */
    default void scaleAll(List<Tensor> xs, Tensor factor) {
        OpChecks.oneElement("scaleAll", "factor", this, factor);
        Tensor f = factor.reshape(1);
        for (Tensor x : xs) binary(BinaryOp.MUL, x, f, x);
    }

    // ---- fused optimizer steps ---------------------------------------------------------------------------------
    // Each updates a parameter w (and its state) in place from its gradient g, starting with the decoupled weight
    // decay w ← decay·w (decay = 1 − lr·weight_decay, or 1 for none). The defaults compose the elementwise ops above
    // (a dozen passes over each parameter); a backend may fuse a step into one pass. All tensors are whole,
    // contiguous and of one shape.

    /**
     * AdamW as torch.optim.AdamW: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², then
     * w ← w − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε) for step t (counted from 1).
     */
    default void adamWStep(Tensor w, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                           float decay, long step) {
        if (decay != 1f) affine(w, decay, 0f, w);
        Tensor t = allocate(w.shape());
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        affine(m, beta1, 0f, m);
        affine(g, 1f - beta1, 0f, t);
        binary(BinaryOp.ADD, m, t, m);
        binary(BinaryOp.MUL, g, g, t);
        affine(t, 1f - beta2, 0f, t);
        affine(v, beta2, 0f, v);
        binary(BinaryOp.ADD, v, t, v);
        unary(UnaryOp.SQRT, v, t);                         // denominator √v/√bc₂ + ε
        affine(t, (float) (1 / Math.sqrt(bc2)), eps, t);
        binary(BinaryOp.DIV, m, t, t);
        affine(t, (float) (-lr / bc1), 0f, t);
        binary(BinaryOp.ADD, w, t, w);
        release(t);
    }

    /**
     * {@link #adamWStep} for many parameters at once, decays[i] for parameter i (a backend may update them all in
     * one pass); the lists are parallel.
     */
    default void adamWSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, List<Tensor> vs, float[] decays,
                            float lr, float beta1, float beta2, float eps, long step) {
        OpChecks.parallelLists("adamWSteps", ws.size(), gs.size(), ms.size(), vs.size(), decays.length);
        for (int i = 0; i < ws.size(); i++) {
            adamWStep(ws.get(i), gs.get(i), ms.get(i), vs.get(i), lr, beta1, beta2, eps, decays[i], step);
        }
    }

    /** Lion (lion-pytorch): w ← w − lr·sign(β₁m + (1 − β₁)g), then m ← β₂m + (1 − β₂)g. */
    default void lionStep(Tensor w, Tensor g, Tensor m, float lr, float beta1, float beta2, float decay) {
        if (decay != 1f) affine(w, decay, 0f, w);
        Tensor t = allocate(w.shape()), gs = allocate(w.shape());
        affine(m, beta1, 0f, t);
        affine(g, 1f - beta1, 0f, gs);
        binary(BinaryOp.ADD, t, gs, t);
        unary(UnaryOp.SIGN, t, t);
        affine(t, -lr, 0f, t);
        binary(BinaryOp.ADD, w, t, w);
        affine(m, beta2, 0f, m);
        affine(g, 1f - beta2, 0f, gs);
        binary(BinaryOp.ADD, m, gs, m);
        release(t);
        release(gs);
    }

    /** {@link #lionStep} for many parameters at once (parallel lists, decays[i] per parameter). */
    default void lionSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, float[] decays, float lr, float beta1,
                           float beta2) {
        OpChecks.parallelLists("lionSteps", ws.size(), gs.size(), ms.size(), decays.length);
        for (int i = 0; i < ws.size(); i++) lionStep(ws.get(i), gs.get(i), ms.get(i), lr, beta1, beta2, decays[i]);
    }

    /**
     * {@link #sgdStep} for many parameters at once (parallel lists; {@code buffers} null when μ = 0, else one
     * momentum buffer per parameter).
     */
    default void sgdSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> buffers, float[] decays, float lr,
                          float momentum, boolean nesterov) {
        OpChecks.parallelLists("sgdSteps", ws.size(), gs.size(), buffers == null ? ws.size() : buffers.size(),
                decays.length);
        for (int i = 0; i < ws.size(); i++) {
            sgdStep(ws.get(i), gs.get(i), buffers == null ? null : buffers.get(i), lr, momentum, nesterov, decays[i]);
        }
    }

    /**
     * SGD as torch.optim.SGD with dampening 0: b ← μb + g (a zero b makes the first step b = g), then
     * w ← w − lr·b, or w ← w − lr·(g + μb) with Nesterov. {@code momentumBuffer} is null when μ = 0.
     */
    default void sgdStep(Tensor w, Tensor g, Tensor momentumBuffer, float lr, float momentum, boolean nesterov,
                         float decay) {
        if (decay != 1f) affine(w, decay, 0f, w);
        Tensor t = allocate(w.shape());
        if (momentumBuffer == null) {
            affine(g, -lr, 0f, t);
        } else {
            affine(momentumBuffer, momentum, 0f, momentumBuffer);
            binary(BinaryOp.ADD, momentumBuffer, g, momentumBuffer);
            if (nesterov) {
                affine(momentumBuffer, momentum, 0f, t);
                binary(BinaryOp.ADD, t, g, t);
                affine(t, -lr, 0f, t);
            } else {
                affine(momentumBuffer, -lr, 0f, t);
            }
        }
        binary(BinaryOp.ADD, w, t, w);
        release(t);
    }
}

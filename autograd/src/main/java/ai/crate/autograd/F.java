package ai.crate.autograd;

import ai.crate.engine.Backend;
import ai.crate.engine.BinaryOp;
import ai.crate.engine.FusedOps;
import ai.crate.engine.Layout;
import ai.crate.engine.ReduceOp;
import ai.crate.engine.Shapes;
import ai.crate.engine.Tensor;
import ai.crate.engine.UnaryOp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Differentiable ops on {@link Variable}s. Each forward calls backend ops into a fresh output and records one
 * {@link BackwardRule}, also made of backend ops. Broadcasting follows NumPy; a gradient that was broadcast in the
 * forward is summed back to its input's shape ({@link #sumToShape}). Every op rejects misuse with an
 * {@link IllegalArgumentException} naming the op and the shapes involved, before computing anything.
 */
public final class F {
    private F() {}

    // ---- matrix products ---------------------------------------------------------------------------------------

    /** a · b over the last two dimensions, batch dimensions broadcasting (a weight [K, N] serves every batch). */
    public static Variable matmul(Variable a, Variable b) {
        return matmul(a, false, b, false);
    }

    /**
     * op(a) · op(b) over the last two dimensions, op(X) = Xᵀ when its flag is set; batch dimensions broadcast. The
     * transposes are gemm flags, in the forward and in the backward: no transposed copy is ever made.
     */
    public static Variable matmul(Variable a, boolean transA, Variable b, boolean transB) {
        Backend be = backend("matmul", a, b);
        Tensor av = a.value(), bv = b.value();
        Shapes.requireRankAtLeast("matmul", "a", av, 2);
        Shapes.requireRankAtLeast("matmul", "b", bv, 2);
        int ka = transA ? av.dim(-2) : av.dim(-1);
        int kb = transB ? bv.dim(-1) : bv.dim(-2);
        if (ka != kb) {
            throw new IllegalArgumentException("matmul: inner dimensions differ: a " + Arrays.toString(av.shape())
                    + (transA ? "ᵀ" : "") + " · b " + Arrays.toString(bv.shape()) + (transB ? "ᵀ" : ""));
        }
        int[] batch = Shapes.broadcast("matmul (batch dimensions)", batchShape(av), batchShape(bv));
        Tensor c = be.allocate(withMatrix(batch, transA ? av.dim(-1) : av.dim(-2), transB ? bv.dim(-2) : bv.dim(-1)));
        be.gemm(1f, av, transA, bv, transB, 0f, c);
        return Variable.fromOp("matmul", c, List.of(a, b), (dc, needs) -> new Tensor[] {
                needs[0] ? matmulGradA(av, transA, bv, transB, dc) : null,
                needs[1] ? matmulGradB(av, transA, bv, transB, dc) : null});
    }

    private static Tensor matmulGradA(Tensor a, boolean transA, Tensor b, boolean transB, Tensor dc) {
        Backend be = a.backend();
        Tensor da = be.allocate(withMatrix(batchShape(dc), a.dim(-2), a.dim(-1)));
        if (transA) be.gemm(1f, b, transB, dc, true, 0f, da);     // A = (dC · op(B)ᵀ)ᵀ = op(B) · dCᵀ
        else be.gemm(1f, dc, false, b, !transB, 0f, da);          // A = dC · op(B)ᵀ
        return sumToShape(da, a.shape());
    }

    private static Tensor matmulGradB(Tensor a, boolean transA, Tensor b, boolean transB, Tensor dc) {
        Backend be = a.backend();
        if (b.rank() == 2 && a.rank() > 2 && !transA) {
            // A weight shared by every batch: fold the batches into rows, so one GEMM sums over them. Folding needs
            // dense rows; a strided dC (a concat's slice, say) is copied, and the copy handed back right after.
            Tensor ac = a.contiguous(), dcc = dc.contiguous();
            Tensor db = be.allocate(b.shape());
            if (transB) be.gemm(1f, dcc.reshape(-1, dc.dim(-1)), true, ac.reshape(-1, a.dim(-1)), false, 0f, db);
            else be.gemm(1f, ac.reshape(-1, a.dim(-1)), true, dcc.reshape(-1, dc.dim(-1)), false, 0f, db);
            if (ac != a) be.release(ac);
            if (dcc != dc) be.release(dcc);
            return db;
        }
        Tensor db = be.allocate(withMatrix(batchShape(dc), b.dim(-2), b.dim(-1)));
        if (transB) be.gemm(1f, dc, true, a, transA, 0f, db);     // B = (op(A)ᵀ · dC)ᵀ = dCᵀ · op(A)
        else be.gemm(1f, a, !transA, dc, false, 0f, db);          // B = op(A)ᵀ · dC
        return sumToShape(db, b.shape());
    }

    /** x · weightᵀ + bias as PyTorch's {@code nn.Linear}: x [..., in], weight [out, in], bias [out] or null. */
    public static Variable linear(Variable x, Variable weight, Variable bias) {
        Tensor w = weight.value();
        if (w.rank() != 2 || x.value().rank() < 1 || x.value().dim(-1) != w.dim(1)
                || (bias != null && !Arrays.equals(bias.shape(), new int[] {w.dim(0)}))) {
            throw new IllegalArgumentException("linear: expected x [..., in], weight [out, in], bias [out]; got x "
                    + Arrays.toString(x.shape()) + ", weight " + Arrays.toString(w.shape()) + ", bias "
                    + (bias == null ? "none" : Arrays.toString(bias.shape())));
        }
        if (!Variable.willRecord(bias == null ? List.of(x, weight) : List.of(x, weight, bias)) && x.value().rank() > 1) {
            return untapedLinear(x.value(), w, bias == null ? null : bias.value());
        }
        Variable y = x.value().rank() == 1
                ? reshape(matmul(reshape(x, 1, -1), false, weight, true), w.dim(0))
                : matmul(x, false, weight, true);
        return bias == null ? y : add(y, bias);
    }

    /** Without a tape: the product and the bias in one output (the bias added in place), the same numbers. */
    private static Variable untapedLinear(Tensor x, Tensor w, Tensor bias) {
        Backend be = x.backend();
        int[] shape = x.shape();
        shape[shape.length - 1] = w.dim(0);
        Tensor y = be.allocate(shape);
        be.gemm(1f, x, false, w, true, 0f, y);
        if (bias != null) be.binary(BinaryOp.ADD, y, bias, y);
        return Variable.untaped("linear", y);
    }

    // ---- elementwise, two arguments ----------------------------------------------------------------------------

    public static Variable add(Variable a, Variable b) {
        Tensor out = binary("add", BinaryOp.ADD, a, b);
        int[] as = a.shape(), bs = b.shape();
        return Variable.fromOp("add", out, List.of(a, b), (dy, needs) -> new Tensor[] {
                needs[0] ? sumToShape(dy, as) : null,
                needs[1] ? sumToShape(dy, bs) : null});
    }

    public static Variable sub(Variable a, Variable b) {
        Tensor out = binary("sub", BinaryOp.SUB, a, b);
        int[] as = a.shape(), bs = b.shape();
        return Variable.fromOp("sub", out, List.of(a, b), (dy, needs) -> new Tensor[] {
                needs[0] ? sumToShape(dy, as) : null,
                needs[1] ? scaled(sumToShape(dy, bs), -1f) : null});
    }

    public static Variable mul(Variable a, Variable b) {
        Tensor av = a.value(), bv = b.value();
        Tensor out = binary("mul", BinaryOp.MUL, a, b);
        return Variable.fromOp("mul", out, List.of(a, b), (dy, needs) -> new Tensor[] {
                needs[0] ? sumToShape(apply(BinaryOp.MUL, dy, bv), av.shape()) : null,
                needs[1] ? sumToShape(apply(BinaryOp.MUL, dy, av), bv.shape()) : null});
    }

    public static Variable div(Variable a, Variable b) {
        Tensor av = a.value(), bv = b.value();
        Tensor y = binary("div", BinaryOp.DIV, a, b);
        // d(a/b)/db = −a/b² = −y/b, which reuses the output instead of squaring b
        return Variable.fromOp("div", y, List.of(a, b), (dy, needs) -> new Tensor[] {
                needs[0] ? sumToShape(apply(BinaryOp.DIV, dy, bv), av.shape()) : null,
                needs[1] ? scaled(sumToShape(apply(BinaryOp.DIV, apply(BinaryOp.MUL, dy, y), bv), bv.shape()), -1f)
                        : null});
    }

    private static Tensor binary(String op, BinaryOp kind, Variable a, Variable b) {
        Backend be = backend(op, a, b);
        Tensor out = be.allocate(Shapes.broadcast(op, a.shape(), b.shape()));
        be.binary(kind, a.value(), b.value(), out);
        return out;
    }

    // ---- elementwise, one argument -----------------------------------------------------------------------------

    /** {@code op} applied elementwise; the gradient is dy · op'(x) from {@link Backend#unaryBackward}. */
    public static Variable unary(UnaryOp op, Variable x) {
        Tensor xv = x.value();
        Backend be = xv.backend();
        Tensor out = be.allocate(xv.shape());
        be.unary(op, xv, out);
        return Variable.fromOp(op.name().toLowerCase(Locale.ROOT), out, List.of(x), (dy, needs) -> {
            Tensor dx = be.allocate(xv.shape());
            be.unaryBackward(op, xv, dy, dx);
            return new Tensor[] {dx};
        });
    }

    public static Variable neg(Variable x) { return unary(UnaryOp.NEG, x); }

    public static Variable exp(Variable x) { return unary(UnaryOp.EXP, x); }

    public static Variable log(Variable x) { return unary(UnaryOp.LOG, x); }

    public static Variable sqrt(Variable x) { return unary(UnaryOp.SQRT, x); }

    public static Variable tanh(Variable x) { return unary(UnaryOp.TANH, x); }

    public static Variable sigmoid(Variable x) { return unary(UnaryOp.SIGMOID, x); }

    /** |x|; the gradient at 0 is 0. */
    public static Variable abs(Variable x) { return unary(UnaryOp.ABS, x); }

    public static Variable square(Variable x) { return unary(UnaryOp.SQUARE, x); }

    public static Variable reciprocal(Variable x) { return unary(UnaryOp.RECIPROCAL, x); }

    /** max(x, 0); the gradient at 0 is 0. */
    public static Variable relu(Variable x) { return unary(UnaryOp.RELU, x); }

    /** The exact GELU x·Φ(x) (PyTorch's default). */
    public static Variable gelu(Variable x) { return unary(UnaryOp.GELU, x); }

    /** x · scale + shift. */
    public static Variable affine(Variable x, float scale, float shift) {
        Tensor xv = x.value();
        Tensor out = xv.backend().allocate(xv.shape());
        xv.backend().affine(xv, scale, shift, out);
        return Variable.fromOp("affine", out, List.of(x), (dy, needs) -> new Tensor[] {scaled(dy, scale)});
    }

    // ---- reductions --------------------------------------------------------------------------------------------

    /** The sum of all elements, as a scalar (shape []). */
    public static Variable sum(Variable x) {
        Tensor xv = x.value();
        Backend be = xv.backend();
        int[] shape = xv.shape();
        int n = (int) xv.size();
        Tensor out = be.allocate();
        be.reduce(ReduceOp.SUM, xv.reshape(n), 0, out);
        return Variable.fromOp("sum", out, List.of(x), (dy, needs) -> new Tensor[] {
                repeatAlong(dy.reshape(1), 0, n).reshape(shape)});
    }

    /** Sums along {@code axis}, keeping it with size 1 when {@code keepDim}. */
    public static Variable sum(Variable x, int axis, boolean keepDim) {
        return reduceAlong("sum", ReduceOp.SUM, x, axis, keepDim);
    }

    /** Averages along {@code axis}, keeping it with size 1 when {@code keepDim}. */
    public static Variable mean(Variable x, int axis, boolean keepDim) {
        return reduceAlong("mean", ReduceOp.MEAN, x, axis, keepDim);
    }

    private static Variable reduceAlong(String name, ReduceOp op, Variable x, int axis, boolean keepDim) {
        Tensor xv = x.value();
        Backend be = xv.backend();
        int[] shape = xv.shape();
        int ax = Shapes.axis(axis, shape, name);
        int len = shape[ax];
        Tensor out = be.allocate(keepDim ? Shapes.keep(shape, ax) : Shapes.drop(shape, ax));
        be.reduce(op, xv, ax, out);
        float scale = op == ReduceOp.MEAN ? 1f / len : 1f;
        return Variable.fromOp(name, out, List.of(x), (dy, needs) -> {
            Tensor dx = repeatAlong(dy.reshape(Shapes.keep(shape, ax)), ax, len);
            if (scale != 1f) be.affine(dx, scale, 0f, dx);   // scaled in place: no intermediate to hand back
            return new Tensor[] {dx};
        });
    }

    /**
     * The maximum along {@code axis}. The gradient goes entirely to the first occurrence of the maximum (the
     * argmax PyTorch's {@code max(dim)} returns); tied elements after it get none. The backward reads x back to the
     * host to find the argmax (there is no argmax op), so on a GPU it waits for the queued work: keep it off hot paths.
     */
    public static Variable max(Variable x, int axis, boolean keepDim) {
        Tensor xv = x.value();
        Backend be = xv.backend();
        int[] shape = xv.shape();
        int ax = Shapes.axis(axis, shape, "max");
        Tensor out = be.allocate(keepDim ? Shapes.keep(shape, ax) : Shapes.drop(shape, ax));
        be.reduce(ReduceOp.MAX, xv, ax, out);
        return Variable.fromOp("max", out, List.of(x), (dy, needs) -> {
            // Swap the axis with the last one so each row of xT is one reduced line; the index is per row.
            int last = shape.length - 1, len = shape[ax];
            Tensor xT = xv.transpose(ax, last);
            Tensor dyT = dy.reshape(Shapes.keep(shape, ax)).transpose(ax, last);
            int rows = (int) (xv.size() / len);
            Tensor dxT = zeros(be, xT.shape());
            be.scatterAdd(dyT.reshape(rows, 1), 1, firstArgmaxPerRow(be.toArray(xT), len), dxT.reshape(rows, len));
            return new Tensor[] {dxT.transpose(ax, last)};
        });
    }

    /** Host-side: the backend has no argmax op, and the index is a small int array like crossEntropy's labels. */
    private static int[] firstArgmaxPerRow(float[] rows, int len) {
        int[] index = new int[rows.length / len];
        for (int r = 0; r < index.length; r++) {
            int best = 0;
            for (int j = 1; j < len; j++) if (rows[r * len + j] > rows[r * len + best]) best = j;
            index[r] = best;
        }
        return index;
    }

    // ---- softmax family (last axis) ----------------------------------------------------------------------------

    public static Variable softmax(Variable x) {
        Tensor xv = x.value();
        Backend be = xv.backend();
        Tensor y = be.allocate(xv.shape());
        be.softmax(xv, y);
        return Variable.fromOp("softmax", y, List.of(x), (dy, needs) -> {
            Tensor dx = be.allocate(y.shape());
            be.softmaxBackward(y, dy, dx);
            return new Tensor[] {dx};
        });
    }

    public static Variable logSoftmax(Variable x) {
        Tensor xv = x.value();
        Backend be = xv.backend();
        Tensor y = be.allocate(xv.shape());
        be.logSoftmax(xv, y);
        return Variable.fromOp("logSoftmax", y, List.of(x), (dy, needs) -> {
            Tensor dx = be.allocate(y.shape());
            be.logSoftmaxBackward(y, dy, dx);
            return new Tensor[] {dx};
        });
    }

    // ---- normalisation and loss --------------------------------------------------------------------------------

    /** LayerNorm over the last axis (width C) with gamma and beta [C]; biased variance, as PyTorch. */
    public static Variable layerNorm(Variable x, Variable gamma, Variable beta, float eps) {
        Backend be = backend("layerNorm", x, gamma, beta);
        Tensor xv = x.value(), g = gamma.value(), b = beta.value();
        Shapes.requireRankAtLeast("layerNorm", "x", xv, 1);
        if (!(eps >= 0f)) throw new IllegalArgumentException("layerNorm: eps " + eps + " must be >= 0");
        int[] rowShape = Shapes.drop(xv.shape(), xv.rank() - 1);
        Tensor out = be.allocate(xv.shape()), mean = be.allocate(rowShape), rstd = be.allocate(rowShape);
        be.layerNorm(xv, g, b, eps, out, mean, rstd);
        return Variable.fromOp("layerNorm", out, List.of(x, gamma, beta), (dy, needs) -> {
            Tensor dx = be.allocate(xv.shape()), dg = be.allocate(g.shape()), db = be.allocate(b.shape());
            be.layerNormBackward(dy, xv, g, mean, rstd, dx, dg, db);
            return new Tensor[] {dx, dg, db};
        }, mean, rstd);
    }

    /**
     * The mean over rows of the cross-entropy of logits [N, C] against class indices, with label smoothing ε as
     * PyTorch defines it (target = (1 − ε)·onehot + ε/C). A scalar (shape []).
     */
    public static Variable crossEntropy(Variable logits, int[] labels, float smoothing) {
        Tensor z = logits.value();
        Backend be = z.backend();
        if (z.rank() != 2) {
            throw new IllegalArgumentException("crossEntropy: logits must be [N, C], got "
                    + Arrays.toString(z.shape()));
        }
        int[] y = labels.clone();
        int n = z.dim(0);
        Tensor losses = be.allocate(n), loss = be.allocate();
        be.crossEntropy(z, y, smoothing, losses);
        be.reduce(ReduceOp.MEAN, losses, 0, loss);
        be.release(losses);
        return Variable.fromOp("crossEntropy", loss, List.of(logits), (dy, needs) -> {
            Tensor perRow = scaled(dy.reshape(1), 1f / n), dlosses = repeatAlong(perRow, 0, n);
            Tensor dz = be.allocate(z.shape());
            be.crossEntropyBackward(z, y, smoothing, dlosses, dz);
            be.release(dlosses);
            if (n != 1) be.release(perRow);   // scaled returned a new tensor (it returns dy itself for a scale of 1)
            return new Tensor[] {dz};
        });
    }

    // ---- fused CRATE layers ------------------------------------------------------------------------------------

    /**
     * The attention of CRATE's MSSA on w = Y·Uᵀ [B, N, H·p] with Q = K = V tied: per head softmax(scale·W_h W_hᵀ)·W_h
     * (see {@link ai.crate.engine.FusedOps#mssaForward}). With {@code keepAttention} the forward saves A (B·H·N²
     * floats) for the backward; without it the backward recomputes A (one more N×N×p GEMM per head). No-grad scopes
     * save nothing.
     */
    public static Variable mssa(Variable w, int heads, float scale, boolean keepAttention) {
        return mssa(w, heads, scale, keepAttention, null);
    }

    /**
     * As {@link #mssa(Variable, int, float, boolean)}, also writing the attention maps A into {@code maps}
     * [B, H, N, N] when it is not null (the caller's tensor: the graph neither keeps nor releases it).
     */
    public static Variable mssa(Variable w, int heads, float scale, boolean keepAttention, Tensor maps) {
        Tensor wv = w.value();
        Backend be = wv.backend();
        Tensor out = be.allocate(wv.shape());
        boolean save = keepAttention && maps == null && Variable.willRecord(List.of(w));
        Tensor attn = save ? be.allocate(wv.dim(0), heads, wv.dim(1), wv.dim(1)) : maps;
        be.fused().mssaForward(wv, heads, scale, out, attn);
        return Variable.fromOp("mssa", out, List.of(w), (dy, needs) -> {
            Tensor dw = be.allocate(wv.shape());
            be.fused().mssaBackward(wv, save ? attn : null, dy, heads, scale, dw);
            return new Tensor[] {dw};
        }, save ? attn : null);
    }

    /**
     * Multi-head self-attention with untied queries, keys and values on {@code qkv} [B, N, 3·H·p] (timm's qkv
     * projection: queries | keys | values), giving [B, N, H·p] (see {@link ai.crate.engine.FusedOps#mhsaForward}).
     * With {@code keepAttention} the forward saves A for the backward, else the backward recomputes it; {@code maps}
     * (the caller's [B, H, N, N], or null) receives A.
     */
    public static Variable mhsa(Variable qkv, int heads, float scale, boolean keepAttention, Tensor maps) {
        Tensor xv = qkv.value();
        Backend be = xv.backend();
        int[] s = xv.shape();
        if (s.length != 3 || s[2] % 3 != 0) {
            throw new IllegalArgumentException("mhsa: qkv must be [batch, tokens, 3·width], got " + Arrays.toString(s));
        }
        Tensor out = be.allocate(s[0], s[1], s[2] / 3);
        boolean save = keepAttention && maps == null && Variable.willRecord(List.of(qkv));
        Tensor attn = save ? be.allocate(s[0], heads, s[1], s[1]) : maps;
        be.fused().mhsaForward(xv, heads, scale, out, attn);
        return Variable.fromOp("mhsa", out, List.of(qkv), (dy, needs) -> {
            Tensor dqkv = be.allocate(s);
            be.fused().mhsaBackward(xv, save ? attn : null, dy, heads, scale, dqkv);
            return new Tensor[] {dqkv};
        }, save ? attn : null);
    }

    /**
     * CRATE's ISTA block: ReLU(x + η(x D − x Dᵀ D) − ηλ) for x [..., d] and dictionary D [d, d] (see {@link
     * FusedOps#istaForward}). The backward needs only x, D and the output, which the tape holds anyway.
     */
    public static Variable ista(Variable x, Variable dict, float eta, float lambda) {
        Backend be = backend("ista", x, dict);
        Tensor xv = x.value(), dv = dict.value();
        Tensor out = be.allocate(xv.shape());
        be.fused().istaForward(xv, dv, eta, lambda, out);
        return Variable.fromOp("ista", out, List.of(x, dict), (dy, needs) -> {
            Tensor dx = needs[0] ? be.allocate(xv.shape()) : null, dd = needs[1] ? be.allocate(dv.shape()) : null;
            be.fused().istaBackward(xv, dv, out, dy, eta, dx, dd);
            return new Tensor[] {dx, dd};
        });
    }

    /**
     * CRATE-α's overcomplete ISTA block: out = ReLU(a1 − η(a1 Dᵀ − x)D − ηλ)·D1ᵀ with a1 = ReLU(η·x D − ηλ), for x
     * [..., d] and dictionaries D, D1 [d, p] (see {@link FusedOps#overcompleteIstaForward}). The codes a1, a2 and the
     * residual are saved for the backward when a gradient is recorded; without a tape nothing is kept.
     */
    public static Variable overcompleteIsta(Variable x, Variable dict, Variable dict1, float eta, float lambda) {
        Backend be = backend("overcompleteIsta", x, dict, dict1);
        Tensor xv = x.value(), dv = dict.value(), d1v = dict1.value();
        Tensor out = be.allocate(xv.shape());
        boolean save = Variable.willRecord(List.of(x, dict, dict1));
        if (!save) {
            be.fused().overcompleteIstaForward(xv, dv, d1v, eta, lambda, out, null, null, null);
            return Variable.untaped("overcompleteIsta", out);
        }
        int[] codeShape = xv.shape();
        codeShape[codeShape.length - 1] = dv.dim(1);
        Tensor a1 = be.allocate(codeShape), a2 = be.allocate(codeShape), r = be.allocate(xv.shape());
        be.fused().overcompleteIstaForward(xv, dv, d1v, eta, lambda, out, a1, a2, r);
        return Variable.fromOp("overcompleteIsta", out, List.of(x, dict, dict1), (dy, needs) -> {
            Tensor dx = needs[0] ? be.allocate(xv.shape()) : null;
            Tensor dd = needs[1] ? be.allocate(dv.shape()) : null, dd1 = needs[2] ? be.allocate(d1v.shape()) : null;
            be.fused().overcompleteIstaBackward(xv, dv, d1v, a1, a2, r, dy, eta, lambda, dx, dd, dd1);
            return new Tensor[] {dx, dd, dd1};
        }, a1, a2, r);
    }

    // ---- indexing and layout -----------------------------------------------------------------------------------

    /**
     * Picks entries along {@code axis}: out[i₀…j…] = x[i₀…index[i₀…j]…], {@code index} row-major over the dimensions
     * up to and including {@code axis} (see {@link Backend#gather}). Its gradient scatters back, adding where an
     * index repeats.
     */
    public static Variable gather(Variable x, int axis, int[] index) {
        Tensor xv = x.value();
        Backend be = xv.backend();
        int[] shape = xv.shape();
        int ax = Shapes.axis(axis, shape, "gather");
        int outer = Layout.outer(shape, ax);
        if (outer == 0 || index.length % outer != 0) {
            throw new IllegalArgumentException("gather: " + index.length + " indices do not divide evenly over the "
                    + outer + " positions before axis " + ax + " of " + Arrays.toString(shape));
        }
        int[] idx = index.clone();
        int[] outShape = shape.clone();
        outShape[ax] = idx.length / outer;
        Tensor out = be.allocate(outShape);
        be.gather(xv, ax, idx, out);
        return Variable.fromOp("gather", out, List.of(x), (dy, needs) -> {
            Tensor dx = zeros(be, shape);
            be.scatterAdd(dy, ax, idx, dx);
            return new Tensor[] {dx};
        });
    }

    /** The inputs joined along {@code axis}; the gradient of each is a view of its part of the output's. */
    public static Variable concat(List<Variable> xs, int axis) {
        if (xs.isEmpty()) throw new IllegalArgumentException("concat: no inputs");
        Backend be = backend("concat", xs.toArray(Variable[]::new));
        int[] shape = xs.getFirst().shape();
        int ax = Shapes.axis(axis, shape, "concat");
        List<Tensor> values = new ArrayList<>();
        int[] sizes = new int[xs.size()];
        int total = 0;
        for (int i = 0; i < xs.size(); i++) {
            Tensor v = xs.get(i).value();
            if (v.rank() != shape.length) {
                throw new IllegalArgumentException("concat: input " + i + " " + Arrays.toString(v.shape())
                        + " differs in rank from input 0 " + Arrays.toString(shape));
            }
            values.add(v);
            sizes[i] = v.dim(ax);
            total += sizes[i];
        }
        int[] outShape = shape.clone();
        outShape[ax] = total;
        Tensor out = be.allocate(outShape);
        be.concat(values, ax, out);
        return Variable.fromOp("concat", out, xs, (dy, needs) -> {
            Tensor[] grads = new Tensor[sizes.length];
            for (int i = 0, at = 0; i < sizes.length; at += sizes[i++]) grads[i] = dy.slice(ax, at, at + sizes[i]);
            return grads;
        });
    }

    /** Indices [start, end) along {@code axis}, copied; the gradient is zero outside the slice. */
    public static Variable slice(Variable x, int axis, int start, int end) {
        Tensor xv = x.value();
        Backend be = xv.backend();
        int[] shape = xv.shape();
        int ax = Shapes.axis(axis, shape, "slice");
        if (start < 0 || end > shape[ax] || start > end) {
            throw new IllegalArgumentException("slice: range [" + start + ", " + end + ") out of bounds for axis "
                    + ax + " of shape " + Arrays.toString(shape));
        }
        int[] outShape = shape.clone();
        outShape[ax] = end - start;
        Tensor out = be.allocate(outShape);
        be.slice(xv, ax, start, out);
        return Variable.fromOp("slice", out, List.of(x), (dy, needs) -> {
            Tensor dx = zeros(be, shape);
            be.copy(dy, dx.slice(ax, start, end));
            return new Tensor[] {dx};
        });
    }

    /** A view with a new shape (one dimension may be -1); copies only when x's value is not contiguous. */
    public static Variable reshape(Variable x, int... shape) {
        int[] from = x.shape();
        return Variable.fromOp("reshape", x.value().reshape(shape), List.of(x),
                (dy, needs) -> new Tensor[] {dy.reshape(from)});
    }

    /** A view swapping the last two dimensions. */
    public static Variable transpose(Variable x) {
        return transpose(x, -2, -1);
    }

    /** A view swapping two dimensions. */
    public static Variable transpose(Variable x, int axisA, int axisB) {
        return Variable.fromOp("transpose", x.value().transpose(axisA, axisB), List.of(x),
                (dy, needs) -> new Tensor[] {dy.transpose(axisA, axisB)});
    }

    // ---- tensor helpers for backward rules ---------------------------------------------------------------------

    /**
     * Sums {@code grad} over the axes along which a tensor of {@code shape} was broadcast to produce it (extra leading
     * axes, and axes where {@code shape} has 1): the adjoint of broadcasting, for backward rules including custom
     * ones. Returns {@code grad} itself when the shapes already agree.
     */
    public static Tensor sumToShape(Tensor grad, int... shape) {
        int[] from = grad.shape();
        if (Arrays.equals(from, shape)) return grad;
        int lead = from.length - shape.length;
        boolean ok = lead >= 0;
        for (int i = 0; ok && i < shape.length; i++) ok = shape[i] == from[lead + i] || shape[i] == 1;
        if (!ok) {
            throw new IllegalArgumentException("sumToShape: " + Arrays.toString(from) + " is not a broadcast of "
                    + Arrays.toString(shape));
        }
        Backend be = grad.backend();
        Tensor t = grad;
        if (lead > 0) {
            int[] folded = new int[shape.length + 1];
            folded[0] = Layout.outer(from, lead);
            System.arraycopy(from, lead, folded, 1, shape.length);
            Tensor s = be.allocate(Arrays.copyOfRange(from, lead, from.length));
            Tensor dense = t.contiguous();             // folding needs dense rows; a strided grad is copied
            be.reduce(ReduceOp.SUM, dense.reshape(folded), 0, s);
            if (dense != t) be.release(dense);
            t = s;
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1 && t.dim(i) != 1) {
                Tensor s = be.allocate(Shapes.keep(t.shape(), i));
                be.reduce(ReduceOp.SUM, t, i, s);
                if (t != grad) be.release(t);          // an intermediate sum of ours, not the caller's grad
                t = s;
            }
        }
        return t;
    }

    /** {@code t} (size 1 along {@code axis}) repeated {@code len} times along it: a gather with an all-zero index. */
    private static Tensor repeatAlong(Tensor t, int axis, int len) {
        int[] shape = t.shape();
        shape[axis] = len;
        Tensor out = t.backend().allocate(shape);
        t.backend().gather(t, axis, new int[Layout.outer(shape, axis) * len], out);
        return out;
    }

    private static Tensor scaled(Tensor t, float scale) {
        if (scale == 1f) return t;
        Tensor out = t.backend().allocate(t.shape());
        t.backend().affine(t, scale, 0f, out);
        return out;
    }

    private static Tensor apply(BinaryOp op, Tensor a, Tensor b) {
        Tensor out = a.backend().allocate(Shapes.broadcast("binary " + op, a.shape(), b.shape()));
        a.backend().binary(op, a, b, out);
        return out;
    }

    /** A zero-filled tensor (allocate may hand back a reused buffer). */
    private static Tensor zeros(Backend be, int[] shape) {
        Tensor t = be.allocate(shape);
        be.fill(t, 0f);
        return t;
    }

    private static Backend backend(String op, Variable... xs) {
        Tensor first = xs[0].value();
        Variable.requireSameBackend(op, first, List.of(xs));
        return first.backend();
    }

    private static int[] batchShape(Tensor t) {
        return Arrays.copyOf(t.shape(), t.rank() - 2);
    }

    private static int[] withMatrix(int[] batch, int rows, int cols) {
        int[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = rows;
        s[batch.length + 1] = cols;
        return s;
    }
}

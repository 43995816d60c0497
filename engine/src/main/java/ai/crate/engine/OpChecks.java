package ai.crate.engine;

import java.util.Arrays;
import java.util.List;

/**
 * Argument validation for every {@link Backend} op, shared so all backends reject the same misuse with the same
 * message: the op, the argument and the shapes involved.
 */
public final class OpChecks {
    private OpChecks() {}

    public static void sameBackend(String op, Backend backend, Tensor... tensors) {
        for (Tensor t : tensors) {
            if (t.backend() != backend) {
                String owner = t.backend().name().equals(backend.name())
                        ? "another '" + backend.name() + "' backend instance"
                        : "backend '" + t.backend().name() + "'";
                throw new IllegalArgumentException(op + ": " + t + " belongs to " + owner + ", not this '"
                        + backend.name() + "' backend; move it with tensor.to(backend)");
            }
        }
    }

    /** A one-element tensor of this backend (an accumulator, a factor). */
    public static void oneElement(String op, String what, Backend backend, Tensor t) {
        sameBackend(op, backend, t);
        if (t.size() != 1) {
            throw new IllegalArgumentException(op + ": the " + what + " must have one element, got shape "
                    + Arrays.toString(t.shape()));
        }
    }

    /** Lists (and arrays) that pair up element by element must have one length. */
    public static void parallelLists(String op, int... sizes) {
        for (int s : sizes) {
            if (s != sizes[0]) {
                throw new IllegalArgumentException(op + ": the lists must have one length, got " + Arrays.toString(sizes));
            }
        }
    }

    /** fromArray: the values fill the shape exactly; returns the element count. */
    public static long fromArray(float[] data, int[] shape) {
        long n = Shapes.numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("fromArray: " + data.length + " values do not fill shape "
                    + Arrays.toString(shape) + " (" + n + " elements)");
        }
        return n;
    }

    /** copyToHost / copyFromHost: the tensor's elements fit the host array from {@code offset}. */
    public static void hostRange(String op, Tensor t, float[] host, int offset) {
        if (offset < 0 || offset > host.length || t.size() > host.length - offset) {
            throw new IllegalArgumentException(op + ": " + t.size() + " elements of shape "
                    + Arrays.toString(t.shape()) + " do not fit a host array of " + host.length + " from offset "
                    + offset);
        }
    }

    public static void contiguous(String op, String what, Tensor t) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + what + " must be contiguous, got shape "
                    + Arrays.toString(t.shape()) + " strides " + Arrays.toString(t.strides()));
        }
    }

    public static void elementwise(String op, Tensor x, Tensor out) {
        Shapes.requireSameShape(op, x, "input", out, "output");
        contiguous(op, "output", out);
    }

    public static int[] binary(String op, Tensor a, Tensor b, Tensor out) {
        int[] shape = Shapes.broadcast(op, a.shape(), b.shape());
        if (!Arrays.equals(shape, out.shape())) {
            throw new IllegalArgumentException(op + ": output shape " + Arrays.toString(out.shape())
                    + " is not the broadcast shape " + Arrays.toString(shape) + " of " + Arrays.toString(a.shape())
                    + " and " + Arrays.toString(b.shape()));
        }
        contiguous(op, "output", out);
        return shape;
    }

    /** Returns the normalised axis. */
    public static int reduce(String op, Tensor x, int axis, Tensor out) {
        int a = Shapes.axis(axis, x.shape(), op);
        int[] shape = x.shape();
        if (!Arrays.equals(out.shape(), Shapes.drop(shape, a)) && !Arrays.equals(out.shape(), Shapes.keep(shape, a))) {
            throw new IllegalArgumentException(op + ": output shape " + Arrays.toString(out.shape())
                    + " does not match input " + Arrays.toString(shape) + " reduced along axis " + a);
        }
        if (shape[a] == 0) throw new IllegalArgumentException(op + ": cannot reduce an empty axis " + a);
        contiguous(op, "output", out);
        return a;
    }

    /** Checks a last-axis row op (softmax family) and returns the row width. */
    public static int rows(String op, Tensor x, Tensor out) {
        Shapes.requireRankAtLeast(op, "input", x, 1);
        elementwise(op, x, out);
        return x.dim(-1);
    }

    /** Checks a last-axis row op's backward (y and dy of one shape, dx contiguous) and returns the row width. */
    public static int rowsBackward(String op, Tensor y, Tensor dy, Tensor dx) {
        int c = rows(op, y, dx);
        Shapes.requireSameShape(op, y, "y", dy, "dy");
        return c;
    }

    public static void layerNorm(String op, Tensor x, Tensor gamma, Tensor beta, Tensor out, Tensor mean,
                                 Tensor rstd) {
        Shapes.requireRankAtLeast(op, "x", x, 1);
        int c = x.dim(-1);
        Shapes.requireShape(op, "gamma", gamma, c);
        Shapes.requireShape(op, "beta", beta, c);
        rowStatistics(op, x, mean, rstd);
        Shapes.requireSameShape(op, x, "x", out, "output");
        for (Tensor t : new Tensor[] {out, mean, rstd}) contiguous(op, "outputs", t);
    }

    /** LayerNorm's saved statistics: one mean and one rstd per row of x. */
    private static void rowStatistics(String op, Tensor x, Tensor mean, Tensor rstd) {
        long rows = x.size() / Math.max(x.dim(-1), 1);
        if (mean.size() != rows || rstd.size() != rows) {
            throw new IllegalArgumentException(op + ": mean " + Arrays.toString(mean.shape()) + " and rstd "
                    + Arrays.toString(rstd.shape()) + " must hold one value per row (" + rows + ") of x "
                    + Arrays.toString(x.shape()));
        }
    }

    public static void layerNormBackward(String op, Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                         Tensor dx, Tensor dgamma, Tensor dbeta) {
        Shapes.requireRankAtLeast(op, "x", x, 1);
        int c = x.dim(-1);
        Shapes.requireSameShape(op, x, "x", dy, "dy");
        Shapes.requireSameShape(op, x, "x", dx, "dx");
        Shapes.requireShape(op, "gamma", gamma, c);
        Shapes.requireShape(op, "dgamma", dgamma, c);
        Shapes.requireShape(op, "dbeta", dbeta, c);
        rowStatistics(op, x, mean, rstd);
        contiguous(op, "dx", dx);
        contiguous(op, "dgamma", dgamma);
        contiguous(op, "dbeta", dbeta);
    }

    /** Logits [N, C], N labels in [0, C), smoothing in [0, 1], and a per-row tensor [N] (losses or their gradient). */
    public static void crossEntropy(String op, Tensor logits, int[] labels, float smoothing, Tensor perRow) {
        if (!(smoothing >= 0f && smoothing <= 1f)) {
            throw new IllegalArgumentException(op + ": label smoothing " + smoothing + " is outside [0, 1]");
        }
        if (logits.rank() != 2) {
            throw new IllegalArgumentException(op + ": logits must be [N, C], got " + Arrays.toString(logits.shape()));
        }
        int n = logits.dim(0), c = logits.dim(1);
        if (labels.length != n) {
            throw new IllegalArgumentException(op + ": " + labels.length + " labels for " + n + " rows of logits "
                    + Arrays.toString(logits.shape()));
        }
        for (int i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= c) {
                throw new IllegalArgumentException(op + ": label " + labels[i] + " at row " + i
                        + " is outside [0, " + c + ")");
            }
        }
        Shapes.requireShape(op, "per-row losses", perRow, n);
    }

    /**
     * Checks gather/scatter geometry: {@code big} is the tensor indexed along {@code axis}, {@code small} the
     * gathered one. Returns the normalised axis.
     */
    public static int gather(String op, Tensor big, int axis, int[] index, Tensor small) {
        int a = Shapes.axis(axis, big.shape(), op);
        int[] bs = big.shape(), ss = small.shape();
        boolean ok = bs.length == ss.length;
        for (int i = 0; ok && i < bs.length; i++) ok = i == a || bs[i] == ss[i];
        if (!ok) {
            throw new IllegalArgumentException(op + ": shapes " + Arrays.toString(bs) + " and " + Arrays.toString(ss)
                    + " must agree except along axis " + a);
        }
        long expected = (long) Layout.outer(ss, a) * ss[a];
        if (index.length != expected) {
            throw new IllegalArgumentException(op + ": index has " + index.length + " entries, expected "
                    + expected + " (shape " + Arrays.toString(Arrays.copyOf(ss, a + 1)) + ")");
        }
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= bs[a]) {
                throw new IllegalArgumentException(op + ": index[" + i + "] = " + index[i] + " is outside [0, "
                        + bs[a] + ") along axis " + a + " of " + Arrays.toString(bs));
            }
        }
        return a;
    }

    /** Returns the normalised axis. */
    public static int concat(String op, List<Tensor> xs, int axis, Tensor out) {
        if (xs.isEmpty()) throw new IllegalArgumentException(op + ": no inputs");
        int a = Shapes.axis(axis, out.shape(), op);
        int[] os = out.shape();
        long total = 0;
        for (Tensor x : xs) {
            int[] s = x.shape();
            boolean ok = s.length == os.length;
            for (int i = 0; ok && i < s.length; i++) ok = i == a || s[i] == os[i];
            if (!ok) {
                throw new IllegalArgumentException(op + ": input " + Arrays.toString(s)
                        + " does not match output " + Arrays.toString(os) + " except along axis " + a);
            }
            total += s[a];
        }
        if (total != os[a]) {
            throw new IllegalArgumentException(op + ": inputs sum to " + total + " along axis " + a
                    + " but output has " + os[a]);
        }
        contiguous(op, "output", out);
        return a;
    }

    /** Returns the normalised axis. */
    public static int slice(String op, Tensor x, int axis, int start, Tensor out) {
        int a = Shapes.axis(axis, x.shape(), op);
        int[] xs = x.shape(), os = out.shape();
        boolean ok = xs.length == os.length;
        for (int i = 0; ok && i < xs.length; i++) ok = i == a || xs[i] == os[i];
        if (!ok || start < 0 || start + os[a] > xs[a]) {
            throw new IllegalArgumentException(op + ": cannot take " + Arrays.toString(os) + " from "
                    + Arrays.toString(xs) + " at start " + start + " along axis " + a);
        }
        return a;
    }

    /** Checks MSSA's arguments ({@code grad} is dout for the backward, else null); returns the head width p. */
    public static int mssa(Backend backend, String op, Tensor w, int heads, float scale, Tensor grad, Tensor out,
                           Tensor attn) {
        sameBackend(op, backend, w, out);
        if (grad != null) sameBackend(op, backend, grad);
        if (attn != null) sameBackend(op, backend, attn);
        if (w.rank() != 3) {
            throw new IllegalArgumentException(op + ": w must be [batch, tokens, heads·headDim], got "
                    + Arrays.toString(w.shape()));
        }
        if (heads < 1 || w.dim(2) % heads != 0) {
            throw new IllegalArgumentException(op + ": width " + w.dim(2) + " of w " + Arrays.toString(w.shape())
                    + " does not split into " + heads + " heads");
        }
        if (!Float.isFinite(scale)) throw new IllegalArgumentException(op + ": scale must be finite, got " + scale);
        int b = w.dim(0), n = w.dim(1);
        if (grad != null) Shapes.requireSameShape(op, w, "w", grad, "dout");
        Shapes.requireSameShape(op, w, "w", out, grad == null ? "output" : "dw");
        contiguous(op, grad == null ? "output" : "dw", out);
        if (attn != null) {
            Shapes.requireShape(op, "attn", attn, b, heads, n, n);
            contiguous(op, "attn", attn);
        }
        return w.dim(2) / heads;
    }

    /**
     * Checks multi-head self-attention's arguments: {@code qkv} [B, N, 3·H·p] (queries, keys, values side by side),
     * {@code dout} the backward's output gradient [B, N, H·p] (null for the forward), {@code out} the forward's
     * output [B, N, H·p] or the backward's dqkv (shape of qkv), {@code attn} [B, H, N, N] or null. Returns p.
     */
    public static int mhsa(Backend backend, String op, Tensor qkv, int heads, float scale, Tensor dout, Tensor out,
                           Tensor attn) {
        sameBackend(op, backend, qkv, out);
        if (dout != null) sameBackend(op, backend, dout);
        if (attn != null) sameBackend(op, backend, attn);
        if (qkv.rank() != 3) {
            throw new IllegalArgumentException(op + ": qkv must be [batch, tokens, 3·heads·headDim], got "
                    + Arrays.toString(qkv.shape()));
        }
        if (heads < 1 || qkv.dim(2) % (3 * heads) != 0) {
            throw new IllegalArgumentException(op + ": width " + qkv.dim(2) + " of qkv " + Arrays.toString(qkv.shape())
                    + " does not split into queries, keys and values of " + heads + " heads");
        }
        if (!Float.isFinite(scale)) throw new IllegalArgumentException(op + ": scale must be finite, got " + scale);
        int b = qkv.dim(0), n = qkv.dim(1), width = qkv.dim(2) / 3;
        if (dout != null) {
            Shapes.requireShape(op, "dout", dout, b, n, width);
            Shapes.requireSameShape(op, qkv, "qkv", out, "dqkv");
            contiguous(op, "dqkv", out);
        } else {
            Shapes.requireShape(op, "output", out, b, n, width);
            contiguous(op, "output", out);
        }
        if (attn != null) {
            Shapes.requireShape(op, "attn", attn, b, heads, n, n);
            contiguous(op, "attn", attn);
        }
        return width / heads;
    }

    /** Every check of {@link FusedOps#istaForward}; returns the width d. */
    public static int istaForward(Backend backend, Tensor x, Tensor dict, float eta, float lambda, Tensor out) {
        String op = "istaForward";
        sameBackend(op, backend, x, dict, out);
        int d = ista(op, x, dict, eta, lambda, null, out);
        contiguous(op, "output", out);
        return d;
    }

    /** Every check of {@link FusedOps#istaBackward}; returns the width d. */
    public static int istaBackward(Backend backend, Tensor x, Tensor dict, Tensor out, Tensor dout, float eta,
                                   Tensor dx, Tensor dDict) {
        String op = "istaBackward";
        if (dx == null && dDict == null) throw new IllegalArgumentException(op + ": dx and dDict are both null");
        sameBackend(op, backend, x, dict, out, dout);
        int d = ista(op, x, dict, eta, 0f, dout, out);
        if (dx != null) {
            sameBackend(op, backend, dx);
            Shapes.requireSameShape(op, x, "x", dx, "dx");
            contiguous(op, "dx", dx);
        }
        if (dDict != null) {
            sameBackend(op, backend, dDict);
            Shapes.requireShape(op, "dDict", dDict, d, d);
            contiguous(op, "dDict", dDict);
        }
        return d;
    }

    private static int ista(String op, Tensor x, Tensor dict, float eta, float lambda, Tensor dout, Tensor out) {
        if (x.rank() < 1) throw new IllegalArgumentException(op + ": x must have rank >= 1, got a scalar");
        int d = x.dim(-1);
        Shapes.requireShape(op, "dictionary", dict, d, d);
        if (!Float.isFinite(eta) || !Float.isFinite(lambda)) {
            throw new IllegalArgumentException(op + ": eta and lambda must be finite, got " + eta + ", " + lambda);
        }
        if (dout != null) Shapes.requireSameShape(op, x, "x", dout, "dout");
        Shapes.requireSameShape(op, x, "x", out, "output");
        return d;
    }

    /**
     * Every check of {@link FusedOps#overcompleteIstaForward} and {@link FusedOps#overcompleteIstaBackward} ({@code
     * dout} null for the forward): x [..., d], D and D1 [d, p], the codes [..., p] and the residual [..., d] where given,
     * all contiguous; returns p.
     */
    public static int overcompleteIsta(Backend backend, String op, Tensor x, Tensor dict, Tensor dict1, float eta,
                                       float lambda, Tensor dout, Tensor out, Tensor code1, Tensor code2,
                                       Tensor residual) {
        sameBackend(op, backend, x, dict, dict1);
        if (x.rank() < 1) throw new IllegalArgumentException(op + ": x must have rank >= 1, got a scalar");
        int d = x.dim(-1);
        if (dict.rank() != 2 || dict.dim(0) != d) {
            throw new IllegalArgumentException(op + ": dictionary D must be [" + d + ", p] for x " + Arrays.toString(x.shape())
                    + ", got " + Arrays.toString(dict.shape()));
        }
        int p = dict.dim(1);
        Shapes.requireShape(op, "dictionary D1", dict1, d, p);
        if (!Float.isFinite(eta) || !Float.isFinite(lambda)) {
            throw new IllegalArgumentException(op + ": eta and lambda must be finite, got " + eta + ", " + lambda);
        }
        int[] codeShape = x.shape();
        codeShape[codeShape.length - 1] = p;
        Tensor[] given = {out, dout, residual};
        String[] names = {"output", "dout", "residual"};
        for (int i = 0; i < given.length; i++) {
            if (given[i] == null) continue;
            sameBackend(op, backend, given[i]);
            Shapes.requireSameShape(op, x, "x", given[i], names[i]);
            if (given[i] != dout) contiguous(op, names[i], given[i]);
        }
        for (Tensor code : new Tensor[] {code1, code2}) {
            if (code == null) continue;
            sameBackend(op, backend, code);
            Shapes.requireShape(op, code == code1 ? "code a1" : "code a2", code, codeShape);
            contiguous(op, code == code1 ? "code a1" : "code a2", code);
        }
        return p;
    }

    /**
     * What {@link FusedOps#overcompleteIstaBackward} needs besides the forward's arguments: the saved a1, a2 and
     * residual, and the gradients it writes, dx like x, dD and dD1 [d, p], not all null.
     */
    public static void overcompleteIstaGradients(Backend backend, String op, Tensor x, Tensor dict, Tensor code1,
                                                 Tensor code2, Tensor residual, Tensor dx, Tensor dDict, Tensor dDict1) {
        if (code1 == null || code2 == null || residual == null) {
            throw new IllegalArgumentException(op + ": needs the forward's a1, a2 and residual");
        }
        if (dx == null && dDict == null && dDict1 == null) {
            throw new IllegalArgumentException(op + ": dx, dD and dD1 are all null");
        }
        if (dx != null) {
            sameBackend(op, backend, dx);
            Shapes.requireSameShape(op, x, "x", dx, "dx");
            contiguous(op, "dx", dx);
        }
        for (Tensor g : new Tensor[] {dDict, dDict1}) {
            if (g == null) continue;
            sameBackend(op, backend, g);
            Shapes.requireShape(op, g == dDict ? "dD" : "dD1", g, dict.shape());
            contiguous(op, g == dDict ? "dD" : "dD1", g);
        }
    }
}

package ai.crate.engine;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The optional fused ops of a {@link Backend}: CRATE's layers (MSSA, ISTA), norms over many tensors and the optimizer
 * steps. Each is composed here from the backend's primitives, so a backend that implements only the primitives runs
 * every model; a backend with a faster kernel subclasses this, overrides the ops it makes faster, and returns its
 * subclass from {@link Backend#fused()}. {@code BackendContractTest} holds every override, and these compositions
 * (on a backend of primitives alone), to the reference oracle.
 */
public class FusedOps {
    protected final Backend be;

    public FusedOps(Backend backend) { this.be = backend; }

    public Backend backend() { return be; }

    // ---- CRATE layers ------------------------------------------------------------------------------------------

    /**
     * The attention of CRATE's multi-head subspace self-attention (MSSA), with Q = K = V tied: {@code w} [B, N, H·p]
     * is the projection Y·Uᵀ, split into H heads W_h [N, p]; per (batch, head) A = softmax(scale · W_h W_hᵀ) and
     * out_h = A · W_h. Writes {@code out} [B, N, H·p]; when {@code attn} is not null also A into it, [B, H, N, N].
     * Composed: two batched GEMMs over the heads as strided views and a softmax.
     */
    public void mssaForward(Tensor w, int heads, float scale, Tensor out, Tensor attn) {
        int p = OpChecks.mssa(be, "mssaForward", w, heads, scale, null, out, attn);
        if (w.size() == 0) return;
        Tensor wc = w.contiguous(), wh = headsView(wc, heads, p);
        attend(wh, wh, wh, scale, out, attn);
        if (wc != w) be.release(wc);
    }

    /** out (heads as a view) = softmax(scale · q kᵀ) · v for [B, H, N, p] views; A into attn when not null. */
    private void attend(Tensor q, Tensor k, Tensor v, float scale, Tensor out, Tensor attn) {
        Tensor a = attention(q, k, scale, attn);
        Tensor o = be.allocate(q.dim(0), q.dim(1), q.dim(2), q.dim(3));
        be.gemm(1f, a, false, v, false, 0f, o);
        be.copy(o, headsView(out, q.dim(1), q.dim(3)));
        be.release(o);
        if (a != attn) be.release(a);
    }

    /**
     * Gradient of {@link #mssaForward} with respect to w, overwriting {@code dw}: the tied projection gets three
     * contributions per head, Aᵀ·dO (values) and scale·(dS + dSᵀ)·W (queries and keys), dS = A ⊙ (dO Wᵀ − rowsum).
     * {@code attn} is the A saved by the forward, or null to recompute it (less memory, one more GEMM per head).
     */
    public void mssaBackward(Tensor w, Tensor attn, Tensor dout, int heads, float scale, Tensor dw) {
        int p = OpChecks.mssa(be, "mssaBackward", w, heads, scale, dout, dw, attn);
        if (w.size() == 0) return;
        int batch = w.dim(0), n = w.dim(1);
        Tensor wc = w.contiguous(), dc = dout.contiguous();
        Tensor wh = headsView(wc, heads, p), doh = headsView(dc, heads, p);
        Tensor a = attn != null ? attn : attention(wh, wh, scale, null);
        Tensor ds = be.allocate(batch, heads, n, n);
        be.gemm(1f, doh, false, wh, true, 0f, ds);          // dA = dO·Wᵀ, then dS = softmax backward
        be.softmaxBackward(a, ds, ds);
        Tensor t = be.allocate(batch, heads, n, p);
        be.gemm(1f, a, true, doh, false, 0f, t);
        be.gemm(scale, ds, false, wh, false, 1f, t);
        be.gemm(scale, ds, true, wh, false, 1f, t);
        be.copy(t, headsView(dw, heads, p));
        be.release(t);
        be.release(ds);
        if (a != attn) be.release(a);
        if (wc != w) be.release(wc);
        if (dc != dout) be.release(dc);
    }

    /** A = softmax(scale · Q_h K_hᵀ) for [B, H, N, p] views into {@code into}, or a new [B, H, N, N] tensor when null. */
    private Tensor attention(Tensor q, Tensor k, float scale, Tensor into) {
        Tensor a = into != null ? into : be.allocate(q.dim(0), q.dim(1), q.dim(2), q.dim(2));
        be.gemm(scale, q, false, k, true, 0f, a);
        be.softmax(a, a);
        return a;
    }

    /** The heads of a contiguous [B, N, H·p] tensor as a [B, H, N, p] view. */
    protected static Tensor headsView(Tensor t, int heads, int p) {
        return t.reshape(t.dim(0), t.dim(1), heads, p).permute(0, 2, 1, 3);
    }

    /**
     * Multi-head self-attention with untied queries, keys and values (ViT's): {@code qkv} [B, N, 3·H·p] is the
     * projection x·W_qkvᵀ + b laid out as timm's {@code qkv} Linear, queries | keys | values, each split into H heads
     * [N, p]; per (batch, head) A = softmax(scale · Q_h K_hᵀ) and out_h = A · V_h. Writes {@code out} [B, N, H·p];
     * when {@code attn} is not null also A into it, [B, H, N, N]. Composed: two batched GEMMs over strided head views
     * and a softmax.
     */
    public void mhsaForward(Tensor qkv, int heads, float scale, Tensor out, Tensor attn) {
        int p = OpChecks.mhsa(be, "mhsaForward", qkv, heads, scale, null, out, attn);
        if (qkv.size() == 0) return;
        Tensor c = qkv.contiguous();
        attend(qkvPart(c, 0, heads, p), qkvPart(c, 1, heads, p), qkvPart(c, 2, heads, p), scale, out, attn);
        if (c != qkv) be.release(c);
    }

    /**
     * Gradient of {@link #mhsaForward} with respect to qkv, overwriting {@code dqkv} (shape of qkv): with
     * dS = A ⊙ (dO Vᵀ − rowsum), dQ = scale·dS·K, dK = scale·dSᵀ·Q and dV = Aᵀ·dO. {@code attn} is the A saved by the
     * forward, or null to recompute it.
     */
    public void mhsaBackward(Tensor qkv, Tensor attn, Tensor dout, int heads, float scale, Tensor dqkv) {
        int p = OpChecks.mhsa(be, "mhsaBackward", qkv, heads, scale, dout, dqkv, attn);
        if (qkv.size() == 0) return;
        int batch = qkv.dim(0), n = qkv.dim(1);
        Tensor c = qkv.contiguous(), dc = dout.contiguous();
        Tensor q = qkvPart(c, 0, heads, p), k = qkvPart(c, 1, heads, p), v = qkvPart(c, 2, heads, p);
        Tensor a = attn != null ? attn : attention(q, k, scale, null);
        Tensor doh = headsView(dc, heads, p);
        Tensor ds = be.allocate(batch, heads, n, n);
        be.gemm(1f, doh, false, v, true, 0f, ds);           // dA = dO·Vᵀ, then dS = softmax backward
        be.softmaxBackward(a, ds, ds);
        Tensor t = be.allocate(batch, heads, n, p);
        be.gemm(scale, ds, false, k, false, 0f, t);
        be.copy(t, qkvPart(dqkv, 0, heads, p));
        be.gemm(scale, ds, true, q, false, 0f, t);
        be.copy(t, qkvPart(dqkv, 1, heads, p));
        be.gemm(1f, a, true, doh, false, 0f, t);
        be.copy(t, qkvPart(dqkv, 2, heads, p));
        be.release(t);
        be.release(ds);
        if (a != attn) be.release(a);
        if (c != qkv) be.release(c);
        if (dc != dout) be.release(dc);
    }

    /** Queries (0), keys (1) or values (2) of a contiguous [B, N, 3·H·p] tensor as a [B, H, N, p] view. */
    protected static Tensor qkvPart(Tensor t, int part, int heads, int p) {
        return t.reshape(t.dim(0), t.dim(1), 3, heads, p).permute(2, 0, 3, 1, 4).select(part);
    }

    /**
     * CRATE's ISTA block, one proximal-gradient step against dictionary D [d, d]:
     * out = ReLU(x + η(x D − x Dᵀ D) − ηλ) for x [..., d]. The step is linear in x, so it is one GEMM against
     * M = I + η(D − DᵀD) ({@link #istaMatrix}) instead of the official form's two (x Dᵀ, then (x − x Dᵀ) D), and its
     * backward needs only x and the output: nothing else is saved.
     */
    public void istaForward(Tensor x, Tensor dict, float eta, float lambda, Tensor out) {
        int d = OpChecks.istaForward(be, x, dict, eta, lambda, out);
        if (x.size() == 0) return;
        Tensor x2 = x.contiguous().reshape(-1, d), out2 = out.reshape(-1, d), m = istaMatrix(dict, eta);
        be.gemm(1f, x2, false, m, false, 0f, out2);
        be.affine(out2, 1f, -eta * lambda, out2);
        be.unary(UnaryOp.RELU, out2, out2);
        be.release(m);
        if (x2.storage() != x.storage()) be.release(x2);
    }

    /**
     * M = I + η(D − DᵀD) as a new [d, d] tensor: x·M is the ISTA step's pre-activation before the shrinkage. The
     * inference path of a CRATE layer caches it; the fused ops rebuild it per call (d³, against rows·d² for the step).
     */
    public Tensor istaMatrix(Tensor dict, float eta) {
        int d = dict.dim(0);
        Tensor m = be.allocate(d, d), scaled = be.allocate(d, d);
        be.gemm(-eta, dict, true, dict, false, 0f, m);
        be.affine(dict, eta, 0f, scaled);
        be.binary(BinaryOp.ADD, m, scaled, m);
        be.binary(BinaryOp.ADD, m, identity(d), m);
        be.release(scaled);
        return m;
    }

    /** The d×d identities {@link #istaMatrix} adds, made once per width: two fresh d² arrays per call were half of a
     * d = 384 train step's garbage (BENCHMARKS.md, speed-work item 9). */
    private final Map<Integer, Tensor> identities = new ConcurrentHashMap<>();

    private Tensor identity(int d) {
        return identities.computeIfAbsent(d, n -> {
            float[] eye = new float[n * n];
            for (int i = 0; i < n; i++) eye[i * n + i] = 1f;
            return be.fromArray(eye, n, n);
        });
    }

    /**
     * Gradients of {@link #istaForward}: with G = dout ⊙ [out > 0], dx = G Mᵀ and, through dM = xᵀG, overwrites
     * dDict = η(dM − D(dM + dMᵀ)); either may be null when that gradient is not needed (not both). {@code out} is the
     * forward's output (its sign is the ReLU mask).
     */
    public void istaBackward(Tensor x, Tensor dict, Tensor out, Tensor dout, float eta, Tensor dx, Tensor dDict) {
        int d = OpChecks.istaBackward(be, x, dict, out, dout, eta, dx, dDict);
        if (x.size() == 0) {
            if (dDict != null) be.fill(dDict, 0f);
            return;
        }
        Tensor x2 = x.contiguous().reshape(-1, d), g = be.allocate(x2.shape());
        be.unaryBackward(UnaryOp.RELU, out.reshape(-1, d), dout.reshape(-1, d), g);
        if (dDict != null) {
            Tensor dm = be.allocate(d, d);
            be.gemm(1f, x2, true, g, false, 0f, dm);
            istaDictionaryGradient(dict, dm, eta, dDict);
            be.release(dm);
        }
        if (dx != null) {
            Tensor m = istaMatrix(dict, eta);
            be.gemm(1f, g, false, m, true, 0f, dx.reshape(-1, d));
            be.release(m);
        }
        be.release(g);
        if (x2.storage() != x.storage()) be.release(x2);
    }

    /** dDict = η(dM − D(dM + dMᵀ)): the chain rule through M = I + η(D − DᵀD), given dM [d, d]. */
    protected void istaDictionaryGradient(Tensor dict, Tensor dm, float eta, Tensor dDict) {
        int d = dict.dim(0);
        Tensor sym = be.allocate(d, d);
        be.binary(BinaryOp.ADD, dm, dm.transpose(), sym);
        be.affine(dm, eta, 0f, dDict);
        be.gemm(-eta, dict, false, sym, false, 1f, dDict);
        be.release(sym);
    }

    /**
     * CRATE-α's overcomplete ISTA block, two proximal steps against D [d, p] (p = 4d in the paper) and a decoding
     * through D1 [d, p], for x [..., d]: a1 = ReLU(η·x D − ηλ), r = a1 Dᵀ − x, a2 = ReLU(a1 − η·r D − ηλ),
     * out = a2 D1ᵀ. Four GEMMs. {@code code1}, {@code code2} ([..., p]) and {@code residual} ([..., d]) receive a1, a2
     * and r where not null: the backward needs all three, the white-box tools a2.
     */
    public void overcompleteIstaForward(Tensor x, Tensor dict, Tensor dict1, float eta, float lambda, Tensor out,
                                        Tensor code1, Tensor code2, Tensor residual) {
        int p = OpChecks.overcompleteIsta(be, "overcompleteIstaForward", x, dict, dict1, eta, lambda, null, out,
                code1, code2, residual);
        if (x.size() == 0) return;
        int d = x.dim(-1);
        Tensor x2 = x.contiguous().reshape(-1, d);
        int rows = x2.dim(0);
        Tensor a1 = code1 != null ? code1.reshape(rows, p) : be.allocate(rows, p);
        Tensor a2 = code2 != null ? code2.reshape(rows, p) : be.allocate(rows, p);
        Tensor r = residual != null ? residual.reshape(rows, d) : be.allocate(rows, d);
        be.gemm(eta, x2, false, dict, false, 0f, a1);           // η·x D
        be.affine(a1, 1f, -eta * lambda, a1);
        be.unary(UnaryOp.RELU, a1, a1);
        be.copy(x2, r);                                        // r = a1 Dᵀ − x
        be.gemm(1f, a1, false, dict, true, -1f, r);
        be.affine(a1, 1f, -eta * lambda, a2);                  // a2 = ReLU(a1 − ηλ − η·r D)
        be.gemm(-eta, r, false, dict, false, 1f, a2);
        be.unary(UnaryOp.RELU, a2, a2);
        be.gemm(1f, a2, false, dict1, true, 0f, out.reshape(rows, d));
        if (code1 == null) be.release(a1);
        if (code2 == null) be.release(a2);
        if (residual == null) be.release(r);
        if (x2.storage() != x.storage()) be.release(x2);
    }

    /**
     * Gradients of {@link #overcompleteIstaForward} from the saved a1, a2 and r: with G2 = (dout·D1) ⊙ [a2 > 0],
     * dr = −η·G2 Dᵀ and G1 = (G2 + dr·D) ⊙ [a1 > 0], writes dD1 = doutᵀ a2, dD = −η·rᵀ G2 + drᵀ a1 + η·xᵀ G1 and
     * dx = −dr + η·G1 Dᵀ, overwriting each that is not null (not all null). λ is the forward's (the saved codes carry
     * its effect; the reference backend recomputes them from x).
     */
    public void overcompleteIstaBackward(Tensor x, Tensor dict, Tensor dict1, Tensor code1, Tensor code2,
                                         Tensor residual, Tensor dout, float eta, float lambda, Tensor dx,
                                         Tensor dDict, Tensor dDict1) {
        String op = "overcompleteIstaBackward";
        int p = OpChecks.overcompleteIsta(be, op, x, dict, dict1, eta, lambda, dout, null, code1, code2, residual);
        OpChecks.overcompleteIstaGradients(be, op, x, dict, code1, code2, residual, dx, dDict, dDict1);
        if (x.size() == 0) {
            for (Tensor g : new Tensor[] {dx, dDict, dDict1}) if (g != null) be.fill(g, 0f);
            return;
        }
        int d = x.dim(-1);
        Tensor x2 = x.contiguous().reshape(-1, d), dy = dout.contiguous().reshape(-1, d);
        int rows = x2.dim(0);
        Tensor a1 = code1.reshape(rows, p), a2 = code2.reshape(rows, p), r = residual.reshape(rows, d);
        if (dDict1 != null) be.gemm(1f, dy, true, a2, false, 0f, dDict1);
        if (dx != null || dDict != null) {
            Tensor g = be.allocate(rows, p);
            be.gemm(1f, dy, false, dict1, false, 0f, g);          // dout·D1, then G2
            be.unaryBackward(UnaryOp.RELU, a2, g, g);
            Tensor dr = be.allocate(rows, d);
            be.gemm(-eta, g, false, dict, true, 0f, dr);
            if (dDict != null) be.gemm(-eta, r, true, g, false, 0f, dDict);
            be.gemm(1f, dr, false, dict, false, 1f, g);           // G2 + dr·D, then G1
            be.unaryBackward(UnaryOp.RELU, a1, g, g);
            if (dDict != null) {
                be.gemm(1f, dr, true, a1, false, 1f, dDict);
                be.gemm(eta, x2, true, g, false, 1f, dDict);
            }
            if (dx != null) {
                Tensor dx2 = dx.reshape(rows, d);
                be.affine(dr, -1f, 0f, dx2);
                be.gemm(eta, g, false, dict, true, 1f, dx2);
            }
            be.release(g);
            be.release(dr);
        }
        if (x2.storage() != x.storage()) be.release(x2);
        if (dy.storage() != dout.storage()) be.release(dy);
    }

    // ---- norms over many tensors -------------------------------------------------------------------------------

    /**
     * accumulator += Σ x² over every element of x (any view), accumulator a one-element tensor: the squared norms
     * behind gradient clipping. By default a product, a reduction and an add; a backend may do it in one pass.
     */
    public void sumOfSquaresInto(Tensor x, Tensor accumulator) {
        OpChecks.sameBackend("sumOfSquaresInto", be, x);
        OpChecks.oneElement("sumOfSquaresInto", "accumulator", be, accumulator);
        Tensor sq = be.allocate(x.shape()), part = be.allocate(accumulator.shape());
        be.binary(BinaryOp.MUL, x, x, sq);
        be.reduce(ReduceOp.SUM, sq.reshape(-1), 0, part.reshape(1));
        be.binary(BinaryOp.ADD, accumulator, part, accumulator);
        be.release(sq);
        be.release(part);
    }

    /** {@link #sumOfSquaresInto(Tensor, Tensor)} over several tensors: one accumulator for all (a global norm). */
    public void sumOfSquaresInto(List<Tensor> xs, Tensor accumulator) {
        for (Tensor x : xs) sumOfSquaresInto(x, accumulator);
    }

    /** x ← x · factor for every x, factor a one-element tensor (clipping's rescale, without reading it back). */
    public void scaleAll(List<Tensor> xs, Tensor factor) {
        OpChecks.oneElement("scaleAll", "factor", be, factor);
        Tensor f = factor.reshape(1);
        for (Tensor x : xs) be.binary(BinaryOp.MUL, x, f, x);
    }

    // ---- optimizer steps ---------------------------------------------------------------------------------------
    // Each updates a parameter w (and its state) in place from its gradient g, starting with the decoupled weight
    // decay w ← decay·w (decay = 1 − lr·weight_decay, or 1 for none). The defaults compose the elementwise ops above
    // (a dozen passes over each parameter); a backend may fuse a step into one pass. All tensors are whole,
    // contiguous and of one shape.

    /**
     * AdamW as torch.optim.AdamW: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², then
     * w ← w − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε) for step t (counted from 1).
     */
    public void adamWStep(Tensor w, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                           float decay, long step) {
        if (decay != 1f) be.affine(w, decay, 0f, w);
        Tensor t = be.allocate(w.shape());
        double bc1 = 1 - StrictMath.pow(beta1, step), bc2 = 1 - StrictMath.pow(beta2, step);
        be.affine(m, beta1, 0f, m);
        be.affine(g, 1f - beta1, 0f, t);
        be.binary(BinaryOp.ADD, m, t, m);
        be.binary(BinaryOp.MUL, g, g, t);
        be.affine(t, 1f - beta2, 0f, t);
        be.affine(v, beta2, 0f, v);
        be.binary(BinaryOp.ADD, v, t, v);
        be.unary(UnaryOp.SQRT, v, t);                         // denominator √v/√bc₂ + ε
        be.affine(t, (float) (1 / Math.sqrt(bc2)), eps, t);
        be.binary(BinaryOp.DIV, m, t, t);
        be.affine(t, (float) (-lr / bc1), 0f, t);
        be.binary(BinaryOp.ADD, w, t, w);
        be.release(t);
    }

    /**
     * {@link #adamWStep} for many parameters at once, decays[i] for parameter i (a backend may update them all in
     * one pass); the lists are parallel.
     */
    public void adamWSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, List<Tensor> vs, float[] decays,
                            float lr, float beta1, float beta2, float eps, long step) {
        OpChecks.parallelLists("adamWSteps", ws.size(), gs.size(), ms.size(), vs.size(), decays.length);
        for (int i = 0; i < ws.size(); i++) {
            adamWStep(ws.get(i), gs.get(i), ms.get(i), vs.get(i), lr, beta1, beta2, eps, decays[i], step);
        }
    }

    /** Lion (lion-pytorch): w ← w − lr·sign(β₁m + (1 − β₁)g), then m ← β₂m + (1 − β₂)g. */
    public void lionStep(Tensor w, Tensor g, Tensor m, float lr, float beta1, float beta2, float decay) {
        if (decay != 1f) be.affine(w, decay, 0f, w);
        Tensor t = be.allocate(w.shape()), gs = be.allocate(w.shape());
        be.affine(m, beta1, 0f, t);
        be.affine(g, 1f - beta1, 0f, gs);
        be.binary(BinaryOp.ADD, t, gs, t);
        be.unary(UnaryOp.SIGN, t, t);
        be.affine(t, -lr, 0f, t);
        be.binary(BinaryOp.ADD, w, t, w);
        be.affine(m, beta2, 0f, m);
        be.affine(g, 1f - beta2, 0f, gs);
        be.binary(BinaryOp.ADD, m, gs, m);
        be.release(t);
        be.release(gs);
    }

    /** {@link #lionStep} for many parameters at once (parallel lists, decays[i] per parameter). */
    public void lionSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> ms, float[] decays, float lr, float beta1,
                           float beta2) {
        OpChecks.parallelLists("lionSteps", ws.size(), gs.size(), ms.size(), decays.length);
        for (int i = 0; i < ws.size(); i++) lionStep(ws.get(i), gs.get(i), ms.get(i), lr, beta1, beta2, decays[i]);
    }

    /**
     * {@link #sgdStep} for many parameters at once (parallel lists; {@code buffers} null when μ = 0, else one
     * momentum buffer per parameter).
     */
    public void sgdSteps(List<Tensor> ws, List<Tensor> gs, List<Tensor> buffers, float[] decays, float lr,
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
    public void sgdStep(Tensor w, Tensor g, Tensor momentumBuffer, float lr, float momentum, boolean nesterov,
                         float decay) {
        if (decay != 1f) be.affine(w, decay, 0f, w);
        Tensor t = be.allocate(w.shape());
        if (momentumBuffer == null) {
            be.affine(g, -lr, 0f, t);
        } else {
            be.affine(momentumBuffer, momentum, 0f, momentumBuffer);
            be.binary(BinaryOp.ADD, momentumBuffer, g, momentumBuffer);
            if (nesterov) {
                be.affine(momentumBuffer, momentum, 0f, t);
                be.binary(BinaryOp.ADD, t, g, t);
                be.affine(t, -lr, 0f, t);
            } else {
                be.affine(momentumBuffer, -lr, 0f, t);
            }
        }
        be.binary(BinaryOp.ADD, w, t, w);
        be.release(t);
    }
}

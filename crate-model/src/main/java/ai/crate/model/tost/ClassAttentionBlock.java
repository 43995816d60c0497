package ai.crate.model.tost;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.model.nn.Init;
import ai.crate.model.nn.LayerNorm;
import ai.crate.model.nn.Linear;
import ai.crate.model.nn.Module;
import java.util.List;

/**
 * One of ToST's two {@code cls_attn_blocks} (CaiT's class attention with {@code tokens_norm}), exactly as tost.py
 * computes it: y = norm1(x); the CLS row's query attends over every row's key and value, c = attn.proj(softmax(q_cls
 * Kᵀ·(d/h)^−½)·V); x = x + γ₁ ⊙ [c; y_patches] (the patch rows gain γ₁·y, not an attention output); x = norm2(x) over
 * all rows, without a residual; x = x + [γ₂ ⊙ mlp(x_cls); x_patches], which doubles the patch rows.
 */
public final class ClassAttentionBlock extends Module {
    private final LayerNorm norm1;
    private final Linear qkv;
    private final Linear proj;
    private final Variable gamma1;
    private final LayerNorm norm2;
    private final Linear fc1;
    private final Linear fc2;
    private final Variable gamma2;
    private final int heads;

    public ClassAttentionBlock(Init init, int dim, int heads, float layerScale) {
        this.norm1 = child("norm1", new LayerNorm(init, dim, Tost.EPS));
        this.qkv = child("attn.qkv", new Linear(init, dim, 3 * dim, true));
        this.proj = child("attn.proj", new Linear(init, dim, dim, true));
        this.gamma1 = parameter("gamma1", init.constant(layerScale, dim));
        this.norm2 = child("norm2", new LayerNorm(init, dim, Tost.EPS));
        this.fc1 = child("mlp.fc1", new Linear(init, dim, 4 * dim, true));
        this.fc2 = child("mlp.fc2", new Linear(init, 4 * dim, dim, true));
        this.gamma2 = parameter("gamma2", init.constant(layerScale, dim));
        this.heads = heads;
    }

    /** Tokens [B, N, d], CLS first, to the same shape. */
    public Variable forward(Variable x) {
        int[] s = x.shape();
        int b = s[0], n = s[1], d = s[2], p = d / heads;
        Variable y = norm1.forward(x);
        Variable qkvs = qkv.forward(y);
        Variable v = F.transpose(F.reshape(F.slice(qkvs, 2, 2 * d, 3 * d), b, n, heads, p), 1, 2);   // [B, H, N, p]
        Variable attended = F.matmul(clsAttention(qkvs, b, n, d), v);                             // [B, H, 1, p]
        Variable c = proj.forward(F.reshape(F.transpose(attended, 1, 2), b, 1, d));
        Variable branch = F.concat(List.of(c, F.slice(y, 1, 1, n)), 1);
        Variable x1 = F.add(x, F.mul(branch, gamma1));
        Variable x2 = norm2.forward(x1);
        Variable cls = F.slice(x2, 1, 0, 1);
        Variable hidden = F.gelu(fc1.forward(cls));
        Variable mlp = F.mul(fc2.forward(hidden), gamma2);
        return F.add(x2, F.concat(List.of(mlp, F.slice(x2, 1, 1, n)), 1));
    }

    /** The CLS row's attention over all rows of tokens x [B, N, d], [B, H, N], for the white-box tools. */
    public Variable classAttention(Variable x) {
        int[] s = x.shape();
        return F.reshape(clsAttention(qkv.forward(norm1.forward(x)), s[0], s[1], s[2]), s[0], heads, s[1]);
    }

    /** softmax(q_cls·Kᵀ·p^−½) per head from the projections [B, N, 3d] (q | k | v): [B, H, 1, N]. */
    private Variable clsAttention(Variable qkvs, int b, int n, int d) {
        int p = d / heads;
        Variable q = F.transpose(F.reshape(F.slice(F.slice(qkvs, 2, 0, d), 1, 0, 1), b, 1, heads, p), 1, 2);
        Variable k = F.transpose(F.reshape(F.slice(qkvs, 2, d, 2 * d), b, n, heads, p), 1, 2);     // [B, H, N, p]
        return F.softmax(F.affine(F.matmul(q, false, k, true), (float) (1 / Math.sqrt(p)), 0f));
    }

    /** Parameters of one block of width d. */
    static long parameterCount(long d) {
        return 2 * d + 3 * d * d + 3 * d + d * d + d + d + 2 * d + 4 * d * d + 4 * d + 4 * d * d + d + d;
    }

    /** FLOPs for n tokens: qkv over all rows, the CLS row's attention, proj and the MLP on one row. */
    static double flops(double n, double d) { return 2 * n * d * 3 * d + 2 * 2 * n * d + 2 * d * d + 2 * 8 * d * d; }
}

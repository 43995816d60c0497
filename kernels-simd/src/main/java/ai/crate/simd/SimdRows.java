package ai.crate.simd;

import ai.crate.engine.ReduceOp;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row-wise kernels: axis reductions, softmax and log-softmax, LayerNorm, cross-entropy — each forward beside its
 * backward. Rows are independent, so they are split across threads; LayerNorm's parameter gradients are summed
 * from per-chunk partials.
 */
final class SimdRows {
    private static final VectorSpecies<Float> S = VectorMath.S;
    private static final int L = S.length();
    /** n rounded up to whole vectors. */
    static int wholeVectors(int n) { return (n + L - 1) / L * L; }

    /** Floats of scratch {@link #softmaxColumnsOfSymmetric} needs: L partial sums of L lanes. */
    static final int COLUMN_PARTIALS = L * L;

    private final Parallel parallel;

    SimdRows(Parallel parallel) { this.parallel = parallel; }

    /**
     * The c values at src[off…] in a fresh array padded to whole vectors. Per-channel parameters (γ, β) are read once
     * per row; a masked tail load that would pass the end of their own c-float array leaves the fast intrinsic path.
     */
    static float[] padded(float[] src, int off, int c) {
        float[] out = new float[(c + L - 1) / L * L];
        System.arraycopy(src, off, out, 0, c);
        return out;
    }

    // ---- reductions ----------------------------------------------------------------------------------------------

    void reduce(ReduceOp op, float[] x, int xo, int outer, int len, int inner, float[] o, int oo) {
        boolean max = op == ReduceOp.MAX;
        float scale = op == ReduceOp.MEAN ? 1f / len : 1f;
        if (inner == 1) {
            parallel.forRows(outer, len, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    float v = max ? rowMax(x, xo + r * len, len) : rowSum(x, xo + r * len, len);
                    o[oo + r] = v * scale;
                }
            });
            return;
        }
        // Reduce along a middle axis: stream the len rows of each [len, inner] slab, accumulating a padded scratch
        // row (so every masked access stays inside its array and on the intrinsic path). Slabs and column ranges
        // are the parallel tasks, so a single slab (the bias gradient: a sum over all rows) still uses every thread.
        int vectors = (inner + L - 1) / L;
        int columnChunks = (long) outer * len * inner < Parallel.PARALLEL_ELEMENTS ? 1
                : Math.max(1, Math.min(vectors, parallel.threads() * 2 / Math.max(outer, 1)));
        Parallel.RangeBody slabs = (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int p = t / columnChunks, chunk = t % columnChunks;
                int q0 = vectors * chunk / columnChunks * L;
                int q1 = Math.min(inner, vectors * (chunk + 1) / columnChunks * L);
                reduceColumns(max, scale, x, xo + p * len * inner, len, inner, q0, q1, o, oo + p * inner);
            }
        };
        parallel.forRows(outer * columnChunks, len * inner / columnChunks, slabs);
    }

    /** o[q] = reduce_j x[base + j·inner + q] for q in [q0, q1), times scale. */
    private static void reduceColumns(boolean max, float scale, float[] x, int base, int len, int inner, int q0,
                                      int q1, float[] o, int oo) {
        int width = q1 - q0, padded = (width + L - 1) / L * L;
        float[] acc = new float[padded];
        System.arraycopy(x, base + q0, acc, 0, width);
        for (int j = 1; j < len; j++) {
            int row = base + j * inner + q0;
            int q = 0;
            for (; q <= width - L; q += L) {
                FloatVector v = FloatVector.fromArray(S, x, row + q);
                FloatVector a = FloatVector.fromArray(S, acc, q);
                (max ? a.max(v) : a.add(v)).intoArray(acc, q);
            }
            if (q < width) {
                VectorMask<Float> m = S.indexInRange(q, width);
                FloatVector v = FloatVector.fromArray(S, x, row + q, m);
                FloatVector a = FloatVector.fromArray(S, acc, q);
                (max ? a.max(v) : a.add(v)).intoArray(acc, q);
            }
        }
        FloatVector scaleV = FloatVector.broadcast(S, scale);
        for (int q = 0; q < width; q += L) {
            VectorMask<Float> m = S.indexInRange(q, width);
            FloatVector.fromArray(S, acc, q).mul(scaleV).intoArray(o, oo + q0 + q, m);
        }
    }

    static float rowSum(float[] x, int off, int len) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= len - L; i += L) acc = acc.add(FloatVector.fromArray(S, x, off + i));
        if (i < len) acc = acc.add(FloatVector.fromArray(S, x, off + i, S.indexInRange(i, len)));
        return VectorMath.sum(acc);
    }

    static float rowMax(float[] x, int off, int len) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY), acc1 = acc, acc2 = acc, acc3 = acc;
        int i = 0;
        for (; i <= len - 4 * L; i += 4 * L) {   // four chains, as in softmaxColumnsOfSymmetric
            acc = acc.max(FloatVector.fromArray(S, x, off + i));
            acc1 = acc1.max(FloatVector.fromArray(S, x, off + i + L));
            acc2 = acc2.max(FloatVector.fromArray(S, x, off + i + 2 * L));
            acc3 = acc3.max(FloatVector.fromArray(S, x, off + i + 3 * L));
        }
        acc = acc.max(acc1).max(acc2.max(acc3));
        for (; i <= len - L; i += L) acc = acc.max(FloatVector.fromArray(S, x, off + i));
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            acc = acc.blend(acc.max(FloatVector.fromArray(S, x, off + i, m)), m);
        }
        return acc.reduceLanes(VectorOperators.MAX);
    }

    static float rowDot(float[] a, int ao, float[] b, int bo, int len) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= len - L; i += L) {
            acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
        }
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            acc = FloatVector.fromArray(S, a, ao + i, m).fma(FloatVector.fromArray(S, b, bo + i, m), acc);
        }
        return VectorMath.sum(acc);
    }

    /**
     * o[i] = exp(x[i] − shift). Their sum is {@link #rowSum} of o, a pass of its own: the exps and the sum in one
     * method outgrew C2's inlining budget and VectorMath.sum boxed (crate-tiny training). The same lanes are added in
     * the same order as in one pass, and +0 in the masked lanes of the tail changes none of these positive sums.
     */
    static void expShift(float[] x, int xo, float[] o, int oo, int len, float shift) {
        FloatVector shiftV = FloatVector.broadcast(S, shift);
        int i = 0;
        for (; i <= len - L; i += L) VectorMath.exp(FloatVector.fromArray(S, x, xo + i).sub(shiftV)).intoArray(o, oo + i);
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            VectorMath.exp(FloatVector.fromArray(S, x, xo + i, m).sub(shiftV)).intoArray(o, oo + i, m);
        }
    }

    /** Σ exp(x[i] − shift) without storing. */
    static float expShiftSum(float[] x, int xo, int len, float shift) {
        FloatVector acc = FloatVector.zero(S), shiftV = FloatVector.broadcast(S, shift);
        int i = 0;
        for (; i <= len - L; i += L) {
            acc = acc.add(VectorMath.exp(FloatVector.fromArray(S, x, xo + i).sub(shiftV)));
        }
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            acc = acc.add(VectorMath.exp(FloatVector.fromArray(S, x, xo + i, m).sub(shiftV)), m);
        }
        return VectorMath.sum(acc);
    }

    /** o[i] = x[i]·scale + shift over a row. */
    static void affineRow(float[] x, int xo, float[] o, int oo, int len, float scale, float shift) {
        FloatVector scaleV = FloatVector.broadcast(S, scale), shiftV = FloatVector.broadcast(S, shift);
        int i = 0;
        for (; i <= len - L; i += L) FloatVector.fromArray(S, x, xo + i).fma(scaleV, shiftV).intoArray(o, oo + i);
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            FloatVector.fromArray(S, x, xo + i, m).fma(scaleV, shiftV).intoArray(o, oo + i, m);
        }
    }

    // ---- softmax and log-softmax ----------------------------------------------------------------------------------

    void softmax(float[] x, int xo, float[] o, int oo, int rows, int c, boolean log) {
        parallel.forRows(rows, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xr = xo + r * c, or = oo + r * c;
                if (log) {
                    float max = rowMax(x, xr, c);
                    float lse = max + (float) StrictMath.log(expShiftSum(x, xr, c, max));
                    affineRow(x, xr, o, or, c, 1f, -lse);
                } else {
                    softmaxRow(x, xr, o, or, c);
                }
            }
        });
    }

    /** o[or..or+c) = softmax of x[xr..xr+c): the row every softmax here computes, and the bits the others match. */
    static void softmaxRow(float[] x, int xr, float[] o, int or, int c) {
        float carry = 0f;
        for (RowPass pass : SOFTMAX_ROW_PASSES) carry = pass.run(x, xr, o, or, c, carry);
    }

    /**
     * A pass of {@link #softmaxRow}, taking and returning the float the next pass needs: the max, the max again (the
     * exps written to o), then 1 / their sum. Called through this interface for the reason given at {@link
     * ColumnPass}: called directly, C2 inlined the passes into the attention's row loop and then boxed the exp pass's
     * vectors (crate-tiny training).
     */
    private interface RowPass {
        float run(float[] x, int xr, float[] o, int or, int c, float carry);
    }

    private static final RowPass[] SOFTMAX_ROW_PASSES = {
            (x, xr, o, or, c, unused) -> rowMax(x, xr, c),
            (x, xr, o, or, c, max) -> {
                expShift(x, xr, o, or, c, max);
                return max;
            },
            (x, xr, o, or, c, unused) -> 1f / rowSum(o, or, c),
            (x, xr, o, or, c, inverse) -> {
                affineRow(o, or, o, or, c, inverse, 0f);
                return 0f;
            }};

    /**
     * The n×n softmax by rows of a <em>symmetric</em> s, written transposed: s ← Aᵀ, A = softmax(s) by rows. Row i
     * of s is its column i, so sixteen rows are normalised at once, a lane each, walking down the columns: no
     * horizontal reductions and one masked block per matrix instead of a masked tail per row (at MSSA's 50–200
     * tokens those dominated the row-wise softmax). Bit for bit {@link #softmaxRow}: each lane keeps the row version's
     * L partial sums (element j into partial j mod L, in order, in {@code partials}, L·L floats) and adds them up in
     * {@link VectorMath#sum}'s pairing tree. Rows are {@code ld} ≥ n floats apart; columns n..ld, when ld is padded,
     * are normalised too (their lanes are garbage and stay apart from the rest) rather than masked.
     */
    static void softmaxColumnsOfSymmetric(float[] s, int off, int n, int ld, float[] partials) {
        for (int c = 0; c < n; c += L) {
            for (ColumnPass pass : COLUMN_PASSES) pass.run(s, off + c, n, ld, c, partials);
        }
    }

    /**
     * One of the column softmax's three passes over sixteen columns, handing over through partials[0, L) rather than
     * as a vector or mask argument, which would be boxed wherever C2 declines to inline. They are called through this
     * interface, three classes at one call site, which C2 leaves a virtual call, so that it compiles each pass on its
     * own: called directly, C2 inlined the max and exp passes into their caller and then, at its node limit, declined
     * exp itself — every vector of the exp pass boxed for the rest of the run (2.5 GB/s of garbage at fmnist-small
     * inference; BENCHMARKS.md, speed-work item 9).
     */
    private interface ColumnPass {
        void run(float[] s, int at, int n, int ld, int c, float[] partials);
    }

    private static final ColumnPass[] COLUMN_PASSES = {SimdRows::columnMax, SimdRows::columnExp, SimdRows::columnScale};

    /**
     * partials[0, L) = the max down n rows (ld apart from at) of columns c.. (masked at ld), in four independent
     * chains: a float max is several instructions deep (Java's NaN and signed-zero rules), so one chain would wait on
     * it every row; max is exact, so the order changes no bit.
     */
    private static void columnMax(float[] s, int at, int n, int ld, int c, float[] partials) {
        VectorMask<Float> m = S.indexInRange(c, ld);
        FloatVector m0 = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY), m1 = m0, m2 = m0, m3 = m0;
        int j = 0;
        for (; j + 4 <= n; j += 4, at += 4 * ld) {
            m0 = m0.max(FloatVector.fromArray(S, s, at, m));
            m1 = m1.max(FloatVector.fromArray(S, s, at + ld, m));
            m2 = m2.max(FloatVector.fromArray(S, s, at + 2 * ld, m));
            m3 = m3.max(FloatVector.fromArray(S, s, at + 3 * ld, m));
        }
        for (; j < n; j++, at += ld) m0 = m0.max(FloatVector.fromArray(S, s, at, m));
        m0.max(m1).max(m2.max(m3)).intoArray(partials, 0);
    }

    /** The columns ← exp(column − max), max read from partials[0, L); partials[0, L) ← 1 / the columns' sums. */
    private static void columnExp(float[] s, int at, int n, int ld, int c, float[] partials) {
        VectorMask<Float> m = S.indexInRange(c, ld);
        FloatVector max = FloatVector.fromArray(S, partials, 0);
        Arrays.fill(partials, 0, L * L, 0f);
        for (int j = 0; j < n; j++, at += ld) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, s, at, m).sub(max));
            e.intoArray(s, at, m);
            int k = (j & (L - 1)) * L;
            FloatVector.fromArray(S, partials, k).add(e).intoArray(partials, k);
        }
        for (int half = L / 2; half > 0; half >>= 1) {
            for (int k = 0; k < half; k++) {
                FloatVector.fromArray(S, partials, k * L).add(FloatVector.fromArray(S, partials, (k + half) * L))
                        .intoArray(partials, k * L);
            }
        }
        FloatVector.broadcast(S, 1f).div(FloatVector.fromArray(S, partials, 0)).intoArray(partials, 0);
    }

    /** The columns ← column · partials[0, L). */
    private static void columnScale(float[] s, int at, int n, int ld, int c, float[] partials) {
        VectorMask<Float> m = S.indexInRange(c, ld);
        FloatVector inv = FloatVector.fromArray(S, partials, 0);
        for (int j = 0; j < n; j++, at += ld) FloatVector.fromArray(S, s, at, m).mul(inv).intoArray(s, at, m);
    }

    /** softmax: dx = y ⊙ (dy − ⟨dy, y⟩); log-softmax: dx = dy − exp(y)·Σdy. */
    void softmaxBackward(float[] y, int yo, float[] dy, int dyo, float[] dx, int dxo, int rows, int c, boolean log) {
        parallel.forRows(rows, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int yr = yo + r * c, dr = dyo + r * c, xr = dxo + r * c;
                if (log) logSoftmaxBackwardRow(y, yr, dy, dr, dx, xr, c, rowSum(dy, dr, c));
                else softmaxBackwardRow(y, yr, dy, dr, dx, xr, c, rowDot(dy, dr, y, yr, c));
            }
        });
    }

    static void softmaxBackwardRow(float[] y, int yr, float[] dy, int dr, float[] dx, int xr, int c, float dot) {
        FloatVector dotV = FloatVector.broadcast(S, dot);
        int i = 0;
        for (; i <= c - L; i += L) {
            FloatVector.fromArray(S, dy, dr + i).sub(dotV).mul(FloatVector.fromArray(S, y, yr + i)).intoArray(dx, xr + i);
        }
        if (i < c) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector.fromArray(S, dy, dr + i, m).sub(dotV).mul(FloatVector.fromArray(S, y, yr + i, m))
                    .intoArray(dx, xr + i, m);
        }
    }

    private static void logSoftmaxBackwardRow(float[] y, int yr, float[] dy, int dr, float[] dx, int xr, int c,
                                              float sum) {
        FloatVector minusSum = FloatVector.broadcast(S, -sum);
        int i = 0;
        for (; i <= c - L; i += L) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, y, yr + i));
            e.mul(minusSum).add(FloatVector.fromArray(S, dy, dr + i)).intoArray(dx, xr + i);
        }
        if (i < c) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, y, yr + i, m));
            e.mul(minusSum).add(FloatVector.fromArray(S, dy, dr + i, m)).intoArray(dx, xr + i, m);
        }
    }

    // ---- LayerNorm -----------------------------------------------------------------------------------------------

    void layerNorm(float[] x, int xo, float[] gamma, int gammaOff, float[] beta, int betaOff, float eps, float[] o,
                   int oo, float[] mean, int mo, float[] rstd, int ro, int rows, int c) {
        float[] g = padded(gamma, gammaOff, c), b = padded(beta, betaOff, c);
        int go = 0, bo = 0;
        parallel.forRows(rows, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xr = xo + r * c;
                float mu = rowSum(x, xr, c) / c;
                float inv = (float) (1.0 / Math.sqrt(rowSquaredDeviation(x, xr, c, mu) / c + (double) eps));
                layerNormRow(x, xr, mu, inv, g, go, b, bo, o, oo + r * c, c);
                mean[mo + r] = mu;
                rstd[ro + r] = inv;
            }
        });
    }

    /** Σ (x[i] − mu)², two-pass variance for accuracy. */
    private static float rowSquaredDeviation(float[] x, int off, int len, float mu) {
        FloatVector acc = FloatVector.zero(S), muV = FloatVector.broadcast(S, mu);
        int i = 0;
        for (; i <= len - L; i += L) {
            FloatVector d = FloatVector.fromArray(S, x, off + i).sub(muV);
            acc = d.fma(d, acc);
        }
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            FloatVector d = FloatVector.fromArray(S, x, off + i, m).lanewise(VectorOperators.SUB, muV, m);
            acc = d.fma(d, acc);                                   // masked-off lanes stay 0
        }
        return VectorMath.sum(acc);
    }

    /** o = (x − mu)·inv·γ + β over one row. */
    private static void layerNormRow(float[] x, int xr, float mu, float inv, float[] g, int go, float[] b, int bo,
                                     float[] o, int or, int c) {
        FloatVector muV = FloatVector.broadcast(S, mu), invV = FloatVector.broadcast(S, inv);
        int i = 0;
        for (; i <= c - L; i += L) {
            FloatVector xhat = FloatVector.fromArray(S, x, xr + i).sub(muV).mul(invV);
            xhat.fma(FloatVector.fromArray(S, g, go + i), FloatVector.fromArray(S, b, bo + i)).intoArray(o, or + i);
        }
        if (i < c) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector xhat = FloatVector.fromArray(S, x, xr + i, m).sub(muV).mul(invV);
            xhat.fma(FloatVector.fromArray(S, g, go + i, m), FloatVector.fromArray(S, b, bo + i, m))
                    .intoArray(o, or + i, m);
        }
    }

    /** dx = rstd·(dŷ − mean(dŷ) − x̂·mean(dŷ ⊙ x̂)) with dŷ = dy ⊙ γ; dγ = Σ dy ⊙ x̂, dβ = Σ dy over rows. */
    void layerNormBackward(float[] dy, int dyo, float[] x, int xo, float[] gamma, int gammaOff, float[] mean,
                           int mo, float[] rstd, int ro, float[] dx, int dxo, float[] dg, int dgo, float[] db,
                           int dbo, int rows, int c) {
        float[] g = padded(gamma, gammaOff, c);
        int parts = (long) rows * c < Parallel.PARALLEL_ELEMENTS ? 1 : Math.min(rows, parallel.threads() * 4);
        int chunk = (rows + parts - 1) / parts;
        // Per-chunk partial sums of dγ and dβ, padded to whole vectors so every access takes the intrinsic path.
        // Each task allocates its own, so two threads never write one cache line (false sharing, which made this
        // op 1.7x slower in some runs when the arrays were allocated side by side up front).
        int padded = (c + L - 1) / L * L;
        float[][] dgPart = new float[parts][], dbPart = new float[parts][];
        parallel.forEach(parts, part -> {
            dgPart[part] = new float[padded];
            dbPart[part] = new float[padded];
            float[] scratch = new float[4 * L];
            for (int r = part * chunk, end = Math.min(rows, r + chunk); r < end; r++) {
                layerNormBackwardRow(dy, dyo + r * c, x, xo + r * c, g, mean[mo + r], rstd[ro + r],
                        dx, dxo + r * c, dgPart[part], dbPart[part], c, scratch);
            }
        });
        for (int i = 0; i < c; i += L) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector sg = FloatVector.zero(S), sb = FloatVector.zero(S);
            for (int p = 0; p < parts; p++) {
                sg = sg.add(FloatVector.fromArray(S, dgPart[p], i));
                sb = sb.add(FloatVector.fromArray(S, dbPart[p], i));
            }
            sg.intoArray(dg, dgo + i, m);
            sb.intoArray(db, dbo + i, m);
        }
    }

    /**
     * One row of {@link #layerNormBackward}. Both passes run only over whole vectors; the last c mod L elements are
     * copied into zero-padded scratch and sent through the same loops (a zero dy adds nothing to any sum). A
     * separate masked tail block made C2 compile these loops 2–3x slower whenever the tail was taken while profiling.
     * γ, pg and pb are padded to whole vectors by the caller; scratch holds 4·L floats.
     */
    private static void layerNormBackwardRow(float[] dy, int dr, float[] x, int xr, float[] g, float mu, float inv,
                                             float[] dx, int outr, float[] pg, float[] pb, int c, float[] scratch) {
        int full = c - c % L, tail = c - full;
        FloatVector muV = FloatVector.broadcast(S, mu), invV = FloatVector.broadcast(S, inv);
        FloatVector sumD = FloatVector.zero(S), sumDX = FloatVector.zero(S);
        for (int i = 0; i < full; i += L) {
            FloatVector xh = FloatVector.fromArray(S, x, xr + i).sub(muV).mul(invV);
            FloatVector dyv = FloatVector.fromArray(S, dy, dr + i);
            FloatVector dh = dyv.mul(FloatVector.fromArray(S, g, i));
            sumD = sumD.add(dh);
            sumDX = dh.fma(xh, sumDX);
            xh.fma(dyv, FloatVector.fromArray(S, pg, i)).intoArray(pg, i);
            dyv.add(FloatVector.fromArray(S, pb, i)).intoArray(pb, i);
        }
        float totalD = VectorMath.sum(sumD), totalDX = VectorMath.sum(sumDX);
        if (tail > 0) {
            // scratch[0, L): x tail, [L, 2L): dy tail, zero beyond the tail; [2L, 3L): dx tail
            java.util.Arrays.fill(scratch, 0, 2 * L, 0f);
            System.arraycopy(x, xr + full, scratch, 0, tail);
            System.arraycopy(dy, dr + full, scratch, L, tail);
            FloatVector xh = FloatVector.fromArray(S, scratch, 0).sub(muV).mul(invV);
            FloatVector dyv = FloatVector.fromArray(S, scratch, L);
            FloatVector dh = dyv.mul(FloatVector.fromArray(S, g, full));
            totalD += VectorMath.sum(dh);
            totalDX += VectorMath.sum(dh.mul(xh));
            xh.fma(dyv, FloatVector.fromArray(S, pg, full)).intoArray(pg, full);
            dyv.add(FloatVector.fromArray(S, pb, full)).intoArray(pb, full);
        }
        FloatVector meanDV = FloatVector.broadcast(S, totalD / c), meanDXV = FloatVector.broadcast(S, totalDX / c);
        for (int i = 0; i < full; i += L) {
            FloatVector xh = FloatVector.fromArray(S, x, xr + i).sub(muV).mul(invV);
            FloatVector dh = FloatVector.fromArray(S, dy, dr + i).mul(FloatVector.fromArray(S, g, i));
            dh.sub(meanDV).sub(xh.mul(meanDXV)).mul(invV).intoArray(dx, outr + i);
        }
        if (tail > 0) {
            FloatVector xh = FloatVector.fromArray(S, scratch, 0).sub(muV).mul(invV);
            FloatVector dh = FloatVector.fromArray(S, scratch, L).mul(FloatVector.fromArray(S, g, full));
            dh.sub(meanDV).sub(xh.mul(meanDXV)).mul(invV).intoArray(scratch, 2 * L);
            System.arraycopy(scratch, 2 * L, dx, outr + full, tail);
        }
    }

    // ---- cross-entropy with label smoothing ------------------------------------------------------------------------

    /** loss = (1−ε)(lse − z_y) + ε·(lse − mean(z)). */
    void crossEntropy(float[] z, int zo, int[] labels, float eps, float[] o, int oo, int n, int c) {
        parallel.forRows(n, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int zr = zo + r * c;
                float max = rowMax(z, zr, c);
                float lse = max + (float) StrictMath.log(expShiftSum(z, zr, c, max));
                float nll = lse - z[zr + labels[r]];
                float smooth = lse - rowSum(z, zr, c) / c;
                o[oo + r] = (1f - eps) * nll + eps * smooth;
            }
        });
    }

    /** dz = (softmax(z) − target)·dloss, target = (1−ε)·onehot + ε/C. */
    void crossEntropyBackward(float[] z, int zo, int[] labels, float eps, float[] dl, int dlo, float[] dz, int dzo,
                              int n, int c) {
        parallel.forRows(n, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int zr = zo + r * c, dr = dzo + r * c;
                float max = rowMax(z, zr, c);
                expShift(z, zr, dz, dr, c, max);
                float scale = dl[dlo + r] / rowSum(dz, dr, c);
                affineRow(dz, dr, dz, dr, c, scale, -eps / c * dl[dlo + r]);
                dz[dr + labels[r]] -= (1f - eps) * dl[dlo + r];
            }
        });
    }
}

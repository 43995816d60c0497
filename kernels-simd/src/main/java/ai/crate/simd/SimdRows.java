package ai.crate.simd;

import ai.crate.engine.ReduceOp;
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

    private final Parallel parallel;

    SimdRows(Parallel parallel) { this.parallel = parallel; }

    /** Splits {@code rows} rows of width {@code width} across threads when there is enough work. */
    private void rows(int rows, int width, Parallel.RangeBody body) {
        long work = (long) rows * Math.max(width, 1);
        if (work < SimdElementwise.PARALLEL_ELEMENTS) body.run(0, rows);
        else parallel.forRange(rows, Math.max(1, SimdElementwise.PARALLEL_ELEMENTS / 4 / Math.max(width, 1)), body);
    }

    // ---- reductions ----------------------------------------------------------------------------------------------

    void reduce(ReduceOp op, float[] x, int xo, int outer, int len, int inner, float[] o, int oo) {
        boolean max = op == ReduceOp.MAX;
        float scale = op == ReduceOp.MEAN ? 1f / len : 1f;
        if (inner == 1) {
            rows(outer, len, (r0, r1) -> {
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
        int columnChunks = (long) outer * len * inner < SimdElementwise.PARALLEL_ELEMENTS ? 1
                : Math.max(1, Math.min(vectors, parallel.threads() * 2 / Math.max(outer, 1)));
        Parallel.RangeBody slabs = (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int p = t / columnChunks, chunk = t % columnChunks;
                int q0 = vectors * chunk / columnChunks * L;
                int q1 = Math.min(inner, vectors * (chunk + 1) / columnChunks * L);
                reduceColumns(max, scale, x, xo + p * len * inner, len, inner, q0, q1, o, oo + p * inner);
            }
        };
        rows(outer * columnChunks, len * inner / columnChunks, slabs);
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
        for (int q = 0; q < width; q += L) {
            VectorMask<Float> m = S.indexInRange(q, width);
            FloatVector.fromArray(S, acc, q).mul(scale).intoArray(o, oo + q0 + q, m);
        }
    }

    static float rowSum(float[] x, int off, int len) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= len - L; i += L) acc = acc.add(FloatVector.fromArray(S, x, off + i));
        if (i < len) acc = acc.add(FloatVector.fromArray(S, x, off + i, S.indexInRange(i, len)));
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float rowMax(float[] x, int off, int len) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
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
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** o[i] = exp(x[i] − shift), returning Σ o[i]. */
    static float expShiftSum(float[] x, int xo, float[] o, int oo, int len, float shift) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= len - L; i += L) {
            FloatVector e = FloatVector.fromArray(S, x, xo + i).sub(shift).lanewise(VectorOperators.EXP);
            e.intoArray(o, oo + i);
            acc = acc.add(e);
        }
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            FloatVector e = FloatVector.fromArray(S, x, xo + i, m).sub(shift).lanewise(VectorOperators.EXP);
            e.intoArray(o, oo + i, m);
            acc = acc.add(e, m);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Σ exp(x[i] − shift) without storing. */
    static float expShiftSum(float[] x, int xo, int len, float shift) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= len - L; i += L) {
            acc = acc.add(FloatVector.fromArray(S, x, xo + i).sub(shift).lanewise(VectorOperators.EXP));
        }
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            acc = acc.add(FloatVector.fromArray(S, x, xo + i, m).sub(shift).lanewise(VectorOperators.EXP), m);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** o[i] = x[i]·scale + shift over a row. */
    static void affineRow(float[] x, int xo, float[] o, int oo, int len, float scale, float shift) {
        int i = 0;
        for (; i <= len - L; i += L) FloatVector.fromArray(S, x, xo + i).fma(scale, shift).intoArray(o, oo + i);
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            FloatVector.fromArray(S, x, xo + i, m).fma(scale, shift).intoArray(o, oo + i, m);
        }
    }

    // ---- softmax and log-softmax ----------------------------------------------------------------------------------

    void softmax(float[] x, int xo, float[] o, int oo, int rows, int c, boolean log) {
        rows(rows, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xr = xo + r * c, or = oo + r * c;
                float max = rowMax(x, xr, c);
                if (log) {
                    float lse = max + (float) Math.log(expShiftSum(x, xr, c, max));
                    affineRow(x, xr, o, or, c, 1f, -lse);
                } else {
                    float sum = expShiftSum(x, xr, o, or, c, max);
                    affineRow(o, or, o, or, c, 1f / sum, 0f);
                }
            }
        });
    }

    /** softmax: dx = y ⊙ (dy − ⟨dy, y⟩); log-softmax: dx = dy − exp(y)·Σdy. */
    void softmaxBackward(float[] y, int yo, float[] dy, int dyo, float[] dx, int dxo, int rows, int c, boolean log) {
        rows(rows, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int yr = yo + r * c, dr = dyo + r * c, xr = dxo + r * c;
                if (log) logSoftmaxBackwardRow(y, yr, dy, dr, dx, xr, c, rowSum(dy, dr, c));
                else softmaxBackwardRow(y, yr, dy, dr, dx, xr, c, rowDot(dy, dr, y, yr, c));
            }
        });
    }

    private static void softmaxBackwardRow(float[] y, int yr, float[] dy, int dr, float[] dx, int xr, int c, float dot) {
        int i = 0;
        for (; i <= c - L; i += L) {
            FloatVector.fromArray(S, dy, dr + i).sub(dot).mul(FloatVector.fromArray(S, y, yr + i)).intoArray(dx, xr + i);
        }
        if (i < c) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector.fromArray(S, dy, dr + i, m).sub(dot).mul(FloatVector.fromArray(S, y, yr + i, m))
                    .intoArray(dx, xr + i, m);
        }
    }

    private static void logSoftmaxBackwardRow(float[] y, int yr, float[] dy, int dr, float[] dx, int xr, int c,
                                              float sum) {
        int i = 0;
        for (; i <= c - L; i += L) {
            FloatVector e = FloatVector.fromArray(S, y, yr + i).lanewise(VectorOperators.EXP);
            e.mul(-sum).add(FloatVector.fromArray(S, dy, dr + i)).intoArray(dx, xr + i);
        }
        if (i < c) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector e = FloatVector.fromArray(S, y, yr + i, m).lanewise(VectorOperators.EXP);
            e.mul(-sum).add(FloatVector.fromArray(S, dy, dr + i, m)).intoArray(dx, xr + i, m);
        }
    }

    // ---- LayerNorm -----------------------------------------------------------------------------------------------

    void layerNorm(float[] x, int xo, float[] g, int go, float[] b, int bo, float eps, float[] o, int oo,
                   float[] mean, int mo, float[] rstd, int ro, int rows, int c) {
        rows(rows, c, (r0, r1) -> {
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
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= len - L; i += L) {
            FloatVector d = FloatVector.fromArray(S, x, off + i).sub(mu);
            acc = d.fma(d, acc);
        }
        if (i < len) {
            VectorMask<Float> m = S.indexInRange(i, len);
            FloatVector d = FloatVector.fromArray(S, x, off + i, m).lanewise(VectorOperators.SUB, mu, m);
            acc = d.fma(d, acc);                                   // masked-off lanes stay 0
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** o = (x − mu)·inv·γ + β over one row. */
    private static void layerNormRow(float[] x, int xr, float mu, float inv, float[] g, int go, float[] b, int bo,
                                     float[] o, int or, int c) {
        int i = 0;
        for (; i <= c - L; i += L) {
            FloatVector xhat = FloatVector.fromArray(S, x, xr + i).sub(mu).mul(inv);
            xhat.fma(FloatVector.fromArray(S, g, go + i), FloatVector.fromArray(S, b, bo + i)).intoArray(o, or + i);
        }
        if (i < c) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector xhat = FloatVector.fromArray(S, x, xr + i, m).sub(mu).mul(inv);
            xhat.fma(FloatVector.fromArray(S, g, go + i, m), FloatVector.fromArray(S, b, bo + i, m))
                    .intoArray(o, or + i, m);
        }
    }

    /** dx = rstd·(dŷ − mean(dŷ) − x̂·mean(dŷ ⊙ x̂)) with dŷ = dy ⊙ γ; dγ = Σ dy ⊙ x̂, dβ = Σ dy over rows. */
    void layerNormBackward(float[] dy, int dyo, float[] x, int xo, float[] g, int go, float[] mean, int mo,
                           float[] rstd, int ro, float[] dx, int dxo, float[] dg, int dgo, float[] db, int dbo,
                           int rows, int c) {
        int parts = (long) rows * c < SimdElementwise.PARALLEL_ELEMENTS ? 1 : Math.min(rows, parallel.threads() * 4);
        int chunk = (rows + parts - 1) / parts;
        // Per-chunk partial sums of dγ and dβ, padded to whole vectors so every access takes the intrinsic path.
        int padded = (c + L - 1) / L * L;
        float[][] dgPart = new float[parts][padded], dbPart = new float[parts][padded];
        parallel.forEach(parts, part -> {
            for (int r = part * chunk, end = Math.min(rows, r + chunk); r < end; r++) {
                layerNormBackwardRow(dy, dyo + r * c, x, xo + r * c, g, go, mean[mo + r], rstd[ro + r],
                        dx, dxo + r * c, dgPart[part], dbPart[part], c);
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

    /** One row of {@link #layerNormBackward}: two passes, x̂ recomputed rather than stored; pg, pb padded. */
    private static void layerNormBackwardRow(float[] dy, int dr, float[] x, int xr, float[] g, int go, float mu,
                                             float inv, float[] dx, int outr, float[] pg, float[] pb, int c) {
        FloatVector sumD = FloatVector.zero(S), sumDX = FloatVector.zero(S);
        int i = 0;
        for (; i <= c - L; i += L) {
            FloatVector xh = FloatVector.fromArray(S, x, xr + i).sub(mu).mul(inv);
            FloatVector dyv = FloatVector.fromArray(S, dy, dr + i);
            FloatVector dh = dyv.mul(FloatVector.fromArray(S, g, go + i));
            sumD = sumD.add(dh);
            sumDX = dh.fma(xh, sumDX);
            xh.fma(dyv, FloatVector.fromArray(S, pg, i)).intoArray(pg, i);
            dyv.add(FloatVector.fromArray(S, pb, i)).intoArray(pb, i);
        }
        if (i < c) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector xh = FloatVector.fromArray(S, x, xr + i, m).sub(mu).mul(inv);
            FloatVector dyv = FloatVector.fromArray(S, dy, dr + i, m);
            FloatVector dh = dyv.mul(FloatVector.fromArray(S, g, go + i, m));
            sumD = sumD.add(dh);                                   // dh is 0 in masked-off lanes
            sumDX = dh.fma(xh, sumDX);
            xh.fma(dyv, FloatVector.fromArray(S, pg, i)).intoArray(pg, i);
            dyv.add(FloatVector.fromArray(S, pb, i)).intoArray(pb, i);
        }
        float meanD = sumD.reduceLanes(VectorOperators.ADD) / c;
        float meanDX = sumDX.reduceLanes(VectorOperators.ADD) / c;
        for (i = 0; i < c; i += L) {
            VectorMask<Float> m = S.indexInRange(i, c);
            FloatVector xh = FloatVector.fromArray(S, x, xr + i, m).sub(mu).mul(inv);
            FloatVector dh = FloatVector.fromArray(S, dy, dr + i, m).mul(FloatVector.fromArray(S, g, go + i, m));
            dh.sub(meanD).sub(xh.mul(meanDX)).mul(inv).intoArray(dx, outr + i, m);
        }
    }

    // ---- cross-entropy with label smoothing ------------------------------------------------------------------------

    /** loss = (1−ε)(lse − z_y) + ε·(lse − mean(z)). */
    void crossEntropy(float[] z, int zo, int[] labels, float eps, float[] o, int oo, int n, int c) {
        rows(n, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int zr = zo + r * c;
                float max = rowMax(z, zr, c);
                float lse = max + (float) Math.log(expShiftSum(z, zr, c, max));
                float nll = lse - z[zr + labels[r]];
                float smooth = lse - rowSum(z, zr, c) / c;
                o[oo + r] = (1f - eps) * nll + eps * smooth;
            }
        });
    }

    /** dz = (softmax(z) − target)·dloss, target = (1−ε)·onehot + ε/C. */
    void crossEntropyBackward(float[] z, int zo, int[] labels, float eps, float[] dl, int dlo, float[] dz, int dzo,
                              int n, int c) {
        rows(n, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int zr = zo + r * c, dr = dzo + r * c;
                float max = rowMax(z, zr, c);
                float sum = expShiftSum(z, zr, dz, dr, c, max);
                float scale = dl[dlo + r] / sum;
                affineRow(dz, dr, dz, dr, c, scale, -eps / c * dl[dlo + r]);
                dz[dr + labels[r]] -= (1f - eps) * dl[dlo + r];
            }
        });
    }
}

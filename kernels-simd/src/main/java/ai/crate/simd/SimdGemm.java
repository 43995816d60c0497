package ai.crate.simd;

import ai.crate.engine.Layout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Batched SGEMM, C = α·op(A)·op(B) + β·C, in the BLIS loop order: B is packed into KC×NR micro-panels (zero
 * padded), A is read in place through its (row, column) strides — so transposed flags and transposed views cost
 * nothing — and a register-blocked micro-kernel keeps an MR × NR tile of C (6 rows × 4 vectors = 24 accumulators)
 * in registers across the KC loop. Column tails use 2- and 1-vector kernels with masked stores, row tails a
 * 1-row kernel, so no size has to be a multiple of the lane count.
 *
 * <p>Work is split into independent tasks (batch × row chunks × column chunks); column chunks come first because
 * each task packs only the B columns it uses.
 *
 * <p>Measured and rejected (A/B in one JVM on the 2-core Zen 5 machine, see BENCHMARKS.md): packing A into
 * micro-panels (slower even when A is stored transposed), transposing B through registers with two-source lane
 * selections (no faster than the scalar packing loop), gathering B columns in the kernel instead of packing (slower),
 * and unrolling the k loop by two (no gain). A 4-row kernel ran as fast as this 6-row one; the 6-row one is kept for
 * its lower load-to-FMA ratio. Packing a transposed B by gathers, sixteen of its columns at once, beat the scalar loop
 * (1.4 → 1.0 µs for an MSSA head's 50×32 Wᵀ: sixteen rows' cache lines in flight instead of one).
 */
final class SimdGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    static final int MR = 6;
    static final int NR = 4 * L;
    static final int KC = 384;
    static final int MC = 192;
    static final int NC = 1024;
    /** Rows per panel of {@link #syrk}: four micro-tiles, small enough that the skipped upper triangle is most of it. */
    static final int SYRK_PANEL = 4 * MR;
    /** Below this many flops a GEMM runs on the calling thread: handing off costs more than it saves. */
    static final double PARALLEL_FLOPS = 4e6;

    private final Parallel parallel;
    private final ThreadLocal<float[]> packed = ThreadLocal.withInitial(() -> new float[KC * NC]);
    private final ThreadLocal<float[]> tiles = ThreadLocal.withInitial(() -> new float[MR * NR]);

    SimdGemm(Parallel parallel) { this.parallel = parallel; }

    void gemm(float alpha, float[] a, float[] b, float[] c, int cBase, Layout.Gemm g, float beta) {
        int m = g.m(), n = g.n(), k = g.k();
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f) {
            for (int p = 0; p < g.batch(); p++) scale(c, (int) g.cOffset(cBase, p), m * n, beta);
            return;
        }
        if (g.flops() < PARALLEL_FLOPS || parallel.threads() == 1) {
            for (int p = 0; p < g.batch(); p++) block(alpha, a, b, c, cBase, g, beta, p, 0, m, 0, n);
            return;
        }
        int threads = parallel.threads();
        // Tasks per batch entry: enough that the task count is a multiple of the thread count.
        int perBatch = threads / gcd(g.batch(), threads);
        int panels = (n + NR - 1) / NR, rowBlocks = (m + MR - 1) / MR;
        // Split columns when that balances as well as splitting rows: each task then packs only its own B columns.
        boolean splitColumns = imbalance(panels, perBatch) <= imbalance(rowBlocks, perBatch);
        int units = splitColumns ? panels : rowBlocks;
        int parts = Math.min(perBatch, units);
        parallel.forEach(g.batch() * parts, t -> {
            int p = t / parts, r = t % parts;
            int u0 = (int) ((long) units * r / parts), u1 = (int) ((long) units * (r + 1) / parts);
            if (splitColumns) block(alpha, a, b, c, cBase, g, beta, p, 0, m, u0 * NR, Math.min(n, u1 * NR));
            else block(alpha, a, b, c, cBase, g, beta, p, u0 * MR, Math.min(m, u1 * MR), 0, n);
        });
    }

    private static int gcd(int x, int y) { return y == 0 ? x : gcd(y, x % y); }

    /** Largest share over the mean share when {@code units} equal units are dealt to {@code parts} workers. */
    private static double imbalance(int units, int parts) {
        int used = Math.min(units, parts);
        return (double) ((units + used - 1) / used) * parts / units;
    }

    private static void scale(float[] c, int off, int len, float beta) {
        if (beta == 0f) {
            Arrays.fill(c, off, off + len, 0f);
            return;
        }
        FloatVector betaV = FloatVector.broadcast(S, beta);
        int i = 0;
        for (; i <= len - L; i += L) FloatVector.fromArray(S, c, off + i).mul(betaV).intoArray(c, off + i);
        for (; i < len; i++) c[off + i] *= beta;
    }

    /** C[p][m0:m1, n0:n1] for one batch entry. */
    private void block(float alpha, float[] a, float[] b, float[] c, int cBase, Layout.Gemm g, float beta,
                       int p, int m0, int m1, int n0, int n1) {
        block(alpha, a, (int) g.aOffsets()[p], g.aRowStride(), g.aColStride(), b, (int) g.bOffsets()[p],
                g.bRowStride(), g.bColStride(), beta, c, (int) g.cOffset(cBase, p), g.n(), g.k(), m0, m1, n0, n1);
    }

    /**
     * One small GEMM on the calling thread, for kernels that are already parallel at a coarser grain (MSSA runs one
     * per batch × head): C[m, n] (row stride ldc) = α·A[m, k]·B[k, n] + β·C, A and B given by offsets and strides.
     */
    void serial(float alpha, float[] a, int aOff, int aRow, int aCol, float[] b, int bOff, int bRow, int bCol,
                float beta, float[] c, int cOff, int ldc, int m, int n, int k) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            for (int r = 0; r < m; r++) scale(c, cOff + r * ldc, n, beta);
            return;
        }
        block(alpha, a, aOff, aRow, aCol, b, bOff, bRow, bCol, beta, c, cOff, ldc, k, 0, m, 0, n);
    }

    /**
     * BLAS's SYRK on the calling thread: C[n, n] (row stride ldc) = α·A Aᵀ, A [n, k] at aOff with row stride aRow.
     * Aᵀ is packed once; each panel of {@link #SYRK_PANEL} rows is multiplied only up to the end of its diagonal
     * block (rounded up to a vector), and the entries right of that are copied from below the diagonal — about half
     * the FLOPs of the general product once n is several panels. Falls back to it when Aᵀ outgrows the pack buffer.
     */
    void syrk(float alpha, float[] a, int aOff, int aRow, int n, int k, float[] c, int cOff, int ldc) {
        float[] bp = packed.get(), tile = tiles.get();
        if (n == 0) return;
        if (k == 0 || (long) k * ((n + NR - 1) / NR) * NR > bp.length) {
            serial(alpha, a, aOff, aRow, 1, a, aOff, 1, aRow, 0f, c, cOff, ldc, n, n, k);
            return;
        }
        packB(a, aOff, 1, aRow, k, n, bp);                                   // B = Aᵀ
        for (int i0 = 0; i0 < n; i0 += SYRK_PANEL) {
            int end = Math.min(n, i0 + SYRK_PANEL), cols = Math.min(n, (end + L - 1) / L * L);
            for (int jr = 0; jr < cols; jr += NR) {
                int w = Math.min(NR, cols - jr), bOff = (jr / NR) * k * NR;
                for (int ir = i0; ir < end; ir += MR) {
                    tile(a, aOff + ir * aRow, aRow, 1, bp, bOff, k, c, cOff + ir * ldc + jr, ldc, Math.min(MR, end - ir),
                            w, alpha, 0f, true, tile);
                }
            }
        }
        for (int i0 = 0; i0 < n; i0 += SYRK_PANEL) {                       // the rest, once every panel is done
            int end = Math.min(n, i0 + SYRK_PANEL), cols = Math.min(n, (end + L - 1) / L * L);
            for (int i = i0; i < end; i++) {
                for (int j = cols; j < n; j++) c[cOff + i * ldc + j] = c[cOff + j * ldc + i];
            }
        }
    }

    private void block(float alpha, float[] a, int ao, int aRow, int aCol, float[] b, int bo, int bRow, int bCol,
                       float beta, float[] c, int co, int ldc, int k, int m0, int m1, int n0, int n1) {
        float[] bp = packed.get(), tile = tiles.get();
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc);
            // Equal k-blocks of at most KC: fewer passes over C than a short last block would need.
            int kBlocks = (k + KC - 1) / KC, kStep = (k + kBlocks - 1) / kBlocks;
            for (int pc = 0; pc < k; pc += kStep) {
                int kc = Math.min(kStep, k - pc);
                packB(b, bo + pc * bRow + jc * bCol, bRow, bCol, kc, nc, bp);
                boolean first = pc == 0;
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    for (int jr = 0; jr < nc; jr += NR) {
                        int w = Math.min(NR, nc - jr);
                        int bOff = (jr / NR) * kc * NR;
                        for (int ir = 0; ir < mc; ir += MR) {
                            int rows = Math.min(MR, mc - ir);
                            int aOff = ao + (ic + ir) * aRow + pc * aCol;
                            int cOff = co + (ic + ir) * ldc + jc + jr;
                            tile(a, aOff, aRow, aCol, bp, bOff, kc, c, cOff, ldc, rows, w, alpha, beta, first, tile);
                        }
                    }
                }
            }
        }
    }

    /** Per thread: lane l's offset l·bCol for {@link #packB}'s gathers. */
    private static final ThreadLocal<int[]> COLUMN_OFFSETS = ThreadLocal.withInitial(() -> new int[L]);

    private static int[] columnOffsets(int bCol) {
        int[] columns = COLUMN_OFFSETS.get();
        if (columns[1] != bCol) for (int l = 0; l < L; l++) columns[l] = l * bCol;
        return columns;
    }

    /** Packs B[0:kc, 0:nc] (given strides) into NR-wide, k-major micro-panels, zero-padding the last. */
    static void packB(float[] b, int src, int bRow, int bCol, int kc, int nc, float[] bp) {
        for (int jr = 0, panel = 0; jr < nc; jr += NR, panel++) {
            int w = Math.min(NR, nc - jr);
            int dst = panel * kc * NR;
            int s0 = src + jr * bCol;
            if (bCol == 1) {
                for (int kk = 0; kk < kc; kk++) {
                    System.arraycopy(b, s0 + kk * bRow, bp, dst + kk * NR, w);
                    if (w < NR) Arrays.fill(bp, dst + kk * NR + w, dst + (kk + 1) * NR, 0f);
                }
            } else {
                if (w < NR) Arrays.fill(bp, dst, dst + kc * NR, 0f);
                int j = 0;
                if (bRow == 1) {   // B's columns are rows in memory (a transposed operand): sixteen at once by gathers
                    int[] columns = columnOffsets(bCol);
                    for (; j + L <= w; j += L) {
                        int s = s0 + j * bCol;
                        for (int kk = 0; kk < kc; kk++) {
                            FloatVector.fromArray(S, b, s + kk, columns, 0).intoArray(bp, dst + kk * NR + j);
                        }
                    }
                }
                for (; j < w; j++) {
                    int s = s0 + j * bCol;
                    for (int kk = 0; kk < kc; kk++) bp[dst + kk * NR + j] = b[s + kk * bRow];
                }
            }
        }
    }

    /** Computes one rows × w tile (rows ≤ MR, w ≤ NR) with the widest kernels that fit. */
    private static void tile(float[] a, int aOff, int aRow, int aCol, float[] bp, int bOff, int kc,
                             float[] c, int cOff, int ldc, int rows, int w, float alpha, float beta, boolean first,
                             float[] tile) {
        if (rows == MR) {
            if (w > 3 * L) {
                kernel6x4(a, aOff, aRow, aCol, bp, bOff, kc, c, cOff, ldc, w, alpha, beta, first, tile);
            } else {
                int done = 0;
                if (w > L) {
                    kernel6x2(a, aOff, aRow, aCol, bp, bOff, kc, c, cOff, ldc, Math.min(w, 2 * L), alpha, beta,
                            first, tile);
                    done = 2 * L;
                }
                if (w > done) {
                    kernel6x1(a, aOff, aRow, aCol, bp, bOff + done, kc, c, cOff + done, ldc, w - done,
                            alpha, beta, first, tile);
                }
            }
        } else {
            for (int r = 0; r < rows; r++) {
                kernel1x4(a, aOff + r * aRow, aCol, bp, bOff, kc, c, cOff + r * ldc, w, alpha, beta, first, tile);
            }
        }
    }

    /**
     * Writes a kernel's accumulators (rows × vectors, spilled row-major to {@code tile}) into C: α·acc, plus β·C
     * on the first k-block or plus C on later ones; the last vector of a row is masked to width w. The kernels hand
     * their registers over through {@code tile} rather than as arguments so no vector is ever boxed.
     */
    private static void update(float[] tile, int rows, int vectors, float[] c, int cOff, int ldc, int w,
                               float alpha, float beta, boolean first) {
        FloatVector alphaV = FloatVector.broadcast(S, alpha), betaV = FloatVector.broadcast(S, beta);
        for (int r = 0; r < rows; r++) {
            for (int v = 0; v < vectors; v++) {
                int width = w - v * L, off = cOff + r * ldc + v * L;
                if (width <= 0) break;
                FloatVector acc = FloatVector.fromArray(S, tile, (r * vectors + v) * L).mul(alphaV);
                VectorMask<Float> mask = S.indexInRange(0, Math.min(width, L));
                if (!first) acc = acc.add(FloatVector.fromArray(S, c, off, mask));
                else if (beta != 0f) acc = FloatVector.fromArray(S, c, off, mask).mul(betaV).add(acc);
                acc.intoArray(c, off, mask);
            }
        }
    }

    private static void kernel6x4(float[] a, int aOff, int aRow, int aCol, float[] bp, int bOff, int kc,
                                  float[] c, int cOff, int ldc, int w, float alpha, float beta, boolean first,
                                  float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        FloatVector c40 = c00, c41 = c00, c42 = c00, c43 = c00;
        FloatVector c50 = c00, c51 = c00, c52 = c00, c53 = c00;
        int a0 = aOff, a1 = aOff + 1 * aRow, a2 = aOff + 2 * aRow,
                a3 = aOff + 3 * aRow, a4 = aOff + 4 * aRow, a5 = aOff + 5 * aRow;
        for (int kk = 0; kk < kc; kk++) {
            int bi = bOff + kk * NR, ak = kk * aCol;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bi + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, bp, bi + 3 * L);
            FloatVector x = FloatVector.broadcast(S, a[a0 + ak]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(S, a[a1 + ak]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(S, a[a2 + ak]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(S, a[a3 + ak]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
            x = FloatVector.broadcast(S, a[a4 + ak]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42); c43 = x.fma(b3, c43);
            x = FloatVector.broadcast(S, a[a5 + ak]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52); c53 = x.fma(b3, c53);
        }
        if (first && beta == 0f && w == 4 * L) {
            // The common case, one k-block and full width: registers go straight to C.
            FloatVector alphaV = FloatVector.broadcast(S, alpha);
            c00.mul(alphaV).intoArray(c, cOff);
            c01.mul(alphaV).intoArray(c, cOff + L);
            c02.mul(alphaV).intoArray(c, cOff + 2 * L);
            c03.mul(alphaV).intoArray(c, cOff + 3 * L);
            c10.mul(alphaV).intoArray(c, cOff + 1 * ldc);
            c11.mul(alphaV).intoArray(c, cOff + 1 * ldc + L);
            c12.mul(alphaV).intoArray(c, cOff + 1 * ldc + 2 * L);
            c13.mul(alphaV).intoArray(c, cOff + 1 * ldc + 3 * L);
            c20.mul(alphaV).intoArray(c, cOff + 2 * ldc);
            c21.mul(alphaV).intoArray(c, cOff + 2 * ldc + L);
            c22.mul(alphaV).intoArray(c, cOff + 2 * ldc + 2 * L);
            c23.mul(alphaV).intoArray(c, cOff + 2 * ldc + 3 * L);
            c30.mul(alphaV).intoArray(c, cOff + 3 * ldc);
            c31.mul(alphaV).intoArray(c, cOff + 3 * ldc + L);
            c32.mul(alphaV).intoArray(c, cOff + 3 * ldc + 2 * L);
            c33.mul(alphaV).intoArray(c, cOff + 3 * ldc + 3 * L);
            c40.mul(alphaV).intoArray(c, cOff + 4 * ldc);
            c41.mul(alphaV).intoArray(c, cOff + 4 * ldc + L);
            c42.mul(alphaV).intoArray(c, cOff + 4 * ldc + 2 * L);
            c43.mul(alphaV).intoArray(c, cOff + 4 * ldc + 3 * L);
            c50.mul(alphaV).intoArray(c, cOff + 5 * ldc);
            c51.mul(alphaV).intoArray(c, cOff + 5 * ldc + L);
            c52.mul(alphaV).intoArray(c, cOff + 5 * ldc + 2 * L);
            c53.mul(alphaV).intoArray(c, cOff + 5 * ldc + 3 * L);
            return;
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, 1 * L);
        c02.intoArray(tile, 2 * L);
        c03.intoArray(tile, 3 * L);
        c10.intoArray(tile, 4 * L);
        c11.intoArray(tile, 5 * L);
        c12.intoArray(tile, 6 * L);
        c13.intoArray(tile, 7 * L);
        c20.intoArray(tile, 8 * L);
        c21.intoArray(tile, 9 * L);
        c22.intoArray(tile, 10 * L);
        c23.intoArray(tile, 11 * L);
        c30.intoArray(tile, 12 * L);
        c31.intoArray(tile, 13 * L);
        c32.intoArray(tile, 14 * L);
        c33.intoArray(tile, 15 * L);
        c40.intoArray(tile, 16 * L);
        c41.intoArray(tile, 17 * L);
        c42.intoArray(tile, 18 * L);
        c43.intoArray(tile, 19 * L);
        c50.intoArray(tile, 20 * L);
        c51.intoArray(tile, 21 * L);
        c52.intoArray(tile, 22 * L);
        c53.intoArray(tile, 23 * L);
        update(tile, 6, 4, c, cOff, ldc, w, alpha, beta, first);
    }

    private static void kernel6x2(float[] a, int aOff, int aRow, int aCol, float[] bp, int bOff, int kc,
                                  float[] c, int cOff, int ldc, int w, float alpha, float beta, boolean first,
                                  float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00;
        FloatVector c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00;
        FloatVector c40 = c00, c41 = c00;
        FloatVector c50 = c00, c51 = c00;
        int a0 = aOff, a1 = aOff + 1 * aRow, a2 = aOff + 2 * aRow,
                a3 = aOff + 3 * aRow, a4 = aOff + 4 * aRow, a5 = aOff + 5 * aRow;
        for (int kk = 0; kk < kc; kk++) {
            int bi = bOff + kk * NR, ak = kk * aCol;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector x = FloatVector.broadcast(S, a[a0 + ak]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[a1 + ak]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[a2 + ak]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[a3 + ak]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[a4 + ak]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[a5 + ak]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        if (first && beta == 0f && w == 2 * L) {
            // The common case, one k-block and full width: registers go straight to C.
            FloatVector alphaV = FloatVector.broadcast(S, alpha);
            c00.mul(alphaV).intoArray(c, cOff);
            c01.mul(alphaV).intoArray(c, cOff + L);
            c10.mul(alphaV).intoArray(c, cOff + 1 * ldc);
            c11.mul(alphaV).intoArray(c, cOff + 1 * ldc + L);
            c20.mul(alphaV).intoArray(c, cOff + 2 * ldc);
            c21.mul(alphaV).intoArray(c, cOff + 2 * ldc + L);
            c30.mul(alphaV).intoArray(c, cOff + 3 * ldc);
            c31.mul(alphaV).intoArray(c, cOff + 3 * ldc + L);
            c40.mul(alphaV).intoArray(c, cOff + 4 * ldc);
            c41.mul(alphaV).intoArray(c, cOff + 4 * ldc + L);
            c50.mul(alphaV).intoArray(c, cOff + 5 * ldc);
            c51.mul(alphaV).intoArray(c, cOff + 5 * ldc + L);
            return;
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, 1 * L);
        c10.intoArray(tile, 2 * L);
        c11.intoArray(tile, 3 * L);
        c20.intoArray(tile, 4 * L);
        c21.intoArray(tile, 5 * L);
        c30.intoArray(tile, 6 * L);
        c31.intoArray(tile, 7 * L);
        c40.intoArray(tile, 8 * L);
        c41.intoArray(tile, 9 * L);
        c50.intoArray(tile, 10 * L);
        c51.intoArray(tile, 11 * L);
        update(tile, 6, 2, c, cOff, ldc, w, alpha, beta, first);
    }

    private static void kernel6x1(float[] a, int aOff, int aRow, int aCol, float[] bp, int bOff, int kc,
                                  float[] c, int cOff, int ldc, int w, float alpha, float beta, boolean first,
                                  float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c10 = c00, c20 = c00, c30 = c00, c40 = c00, c50 = c00;
        int a0 = aOff, a1 = aOff + 1 * aRow, a2 = aOff + 2 * aRow,
                a3 = aOff + 3 * aRow, a4 = aOff + 4 * aRow, a5 = aOff + 5 * aRow;
        for (int kk = 0; kk < kc; kk++) {
            int bi = bOff + kk * NR, ak = kk * aCol;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector x = FloatVector.broadcast(S, a[a0 + ak]);
            c00 = x.fma(b0, c00);
            x = FloatVector.broadcast(S, a[a1 + ak]);
            c10 = x.fma(b0, c10);
            x = FloatVector.broadcast(S, a[a2 + ak]);
            c20 = x.fma(b0, c20);
            x = FloatVector.broadcast(S, a[a3 + ak]);
            c30 = x.fma(b0, c30);
            x = FloatVector.broadcast(S, a[a4 + ak]);
            c40 = x.fma(b0, c40);
            x = FloatVector.broadcast(S, a[a5 + ak]);
            c50 = x.fma(b0, c50);
        }
        c00.intoArray(tile, 0);
        c10.intoArray(tile, 1 * L);
        c20.intoArray(tile, 2 * L);
        c30.intoArray(tile, 3 * L);
        c40.intoArray(tile, 4 * L);
        c50.intoArray(tile, 5 * L);
        update(tile, 6, 1, c, cOff, ldc, w, alpha, beta, first);
    }

    private static void kernel1x4(float[] a, int aOff, int aCol, float[] bp, int bOff, int kc,
                                  float[] c, int cOff, int w, float alpha, float beta, boolean first, float[] tile) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int kk = 0, bi = bOff, ak = aOff; kk < kc; kk++, bi += NR, ak += aCol) {
            FloatVector x = FloatVector.broadcast(S, a[ak]);
            c0 = x.fma(FloatVector.fromArray(S, bp, bi), c0);
            c1 = x.fma(FloatVector.fromArray(S, bp, bi + L), c1);
            c2 = x.fma(FloatVector.fromArray(S, bp, bi + 2 * L), c2);
            c3 = x.fma(FloatVector.fromArray(S, bp, bi + 3 * L), c3);
        }
        c0.intoArray(tile, 0);
        c1.intoArray(tile, L);
        c2.intoArray(tile, 2 * L);
        c3.intoArray(tile, 3 * L);
        update(tile, 1, 4, c, cOff, 0, w, alpha, beta, first);
    }
}

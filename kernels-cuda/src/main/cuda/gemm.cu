// Batched SGEMM: C[b] = α·op(A[b])·op(B[b]) + β·C[b], C contiguous [M, N] per batch. op(A) is read through
// (row, column) strides over [M, K] and op(B) over [K, N], so transposes and transposed views cost nothing extra.
// Batch b's A starts at aOffsets[b] when a table is given (irregular broadcasting), else at b·aBatchStride.
//
// Tiling: a block computes a BM×BN tile of C with 256 threads, each a TM×TN register tile; K advances in slices of
// BK staged through two shared buffers (double buffering: the next slice's loads overlap this slice's FMAs), stored
// k-major so each thread reads its A column fragment and B row fragment as float4s. Loads into shared memory pick
// the thread mapping that makes consecutive threads read consecutive addresses for the operand's unit stride (k for
// a row-major A, m for a transposed one; likewise for B), four at a time (float4) when the host found every row
// start of the operand 16-byte aligned (vecA, vecB).
#include "crate_cuda.cuh"

template <int BM, int BN, int BK, int TM, int TN>
__device__ __forceinline__ void gemmTile(int m, int n, int k, float alpha, const float* __restrict__ a, int aRow,
                                         int aCol, const float* __restrict__ b, int bRow, int bCol, float beta,
                                         float* __restrict__ c, float (&as)[2][BK][BM + 4],
                                         float (&bs)[2][BK][BN + 4], bool vecA, bool vecB) {
    constexpr int THREADS = (BM / TM) * (BN / TN);
    constexpr int COLS = BN / TN;
    constexpr int A_LOADS = BM * BK / THREADS, B_LOADS = BK * BN / THREADS;   // elements each thread stages
    static_assert(A_LOADS == 4 && B_LOADS == 4, "each thread stages one float4 of A and one of B per slice");
    const int tid = threadIdx.x;
    const int ty = tid / COLS, tx = tid % COLS;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;

    // This thread's four staging slots in a K-slice, fixed for the whole loop: slot r sits at (base + r·step) in
    // (m, k) for A and (k, n) for B. Scalar loads: element tid + r·THREADS of the tile, mapped so consecutive
    // threads walk the operand's unit stride (k for a row-major A, m for a transposed one; likewise for B). Vector
    // loads (the host checked 16-byte alignment of every row start: vecA, vecB): four consecutive elements along
    // the unit stride, one float4 where all four lie inside the matrix.
    const bool aAlongK = aCol == 1, bAlongN = bCol == 1;
    int aMb, aKb, aDm, aDk, bKb, bNb, bDk, bDn;
    if (vecA) {
        const int q = aAlongK ? BK / 4 : BM / 4;   // float4s per line of the tile along the unit stride
        aMb = aAlongK ? tid / q : (tid % q) * 4;
        aKb = aAlongK ? (tid % q) * 4 : tid / q;
        aDm = aAlongK ? 0 : 1;
        aDk = aAlongK ? 1 : 0;
    } else {
        aMb = aAlongK ? tid / BK : tid % BM;
        aKb = aAlongK ? tid % BK : tid / BM;
        aDm = aAlongK ? THREADS / BK : 0;
        aDk = aAlongK ? 0 : THREADS / BM;
    }
    if (vecB) {
        const int q = bAlongN ? BN / 4 : BK / 4;
        bNb = bAlongN ? (tid % q) * 4 : tid / q;
        bKb = bAlongN ? tid / q : (tid % q) * 4;
        bDn = bAlongN ? 1 : 0;
        bDk = bAlongN ? 0 : 1;
    } else {
        bNb = bAlongN ? tid % BN : tid / BK;
        bKb = bAlongN ? tid / BN : tid % BK;
        bDn = bAlongN ? 0 : THREADS / BK;
        bDk = bAlongN ? THREADS / BN : 0;
    }

    // Global → registers for the slice at k0 (zeros outside the matrices), then registers → shared buffer s.
    float aReg[A_LOADS], bReg[B_LOADS];
    auto load = [&](int k0) {
        int am = m0 + aMb, ak = k0 + aKb;
        if (vecA && am + 3 * aDm < m && ak + 3 * aDk < k) {
            float4 v = loadFloat4(a + (long long) am * aRow + (long long) ak * aCol);
            aReg[0] = v.x; aReg[1] = v.y; aReg[2] = v.z; aReg[3] = v.w;
        } else {
#pragma unroll
            for (int r = 0; r < A_LOADS; r++) {
                int gm = am + r * aDm, gk = ak + r * aDk;
                aReg[r] = (gm < m && gk < k) ? a[(long long) gm * aRow + (long long) gk * aCol] : 0.0f;
            }
        }
        int bk = k0 + bKb, bn = n0 + bNb;
        if (vecB && bk + 3 * bDk < k && bn + 3 * bDn < n) {
            float4 v = loadFloat4(b + (long long) bk * bRow + (long long) bn * bCol);
            bReg[0] = v.x; bReg[1] = v.y; bReg[2] = v.z; bReg[3] = v.w;
        } else {
#pragma unroll
            for (int r = 0; r < B_LOADS; r++) {
                int gk = bk + r * bDk, gn = bn + r * bDn;
                bReg[r] = (gk < k && gn < n) ? b[(long long) gk * bRow + (long long) gn * bCol] : 0.0f;
            }
        }
    };
    auto store = [&](int s) {
#pragma unroll
        for (int r = 0; r < A_LOADS; r++) as[s][aKb + r * aDk][aMb + r * aDm] = aReg[r];
#pragma unroll
        for (int r = 0; r < B_LOADS; r++) bs[s][bKb + r * bDk][bNb + r * bDn] = bReg[r];
    };

    // Double buffering: while the block computes on one shared buffer, the next slice's global loads are in flight
    // into registers and then land in the other buffer; one barrier per slice separates the two.
    const int slices = (k + BK - 1) / BK;
    if (slices > 0) {
        load(0);
        store(0);
    }
    __syncthreads();
    for (int t = 0; t < slices; t++) {
        const int cur = t & 1;
        if (t + 1 < slices) load((t + 1) * BK);
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float af[TM], bf[TN];
            // Fragments in groups of 4: group g of a thread sits at g·(BM/(TM/4)) + ty·4, so a warp's float4 reads
            // cover consecutive addresses.
#pragma unroll
            for (int g = 0; g < TM / 4; g++) {
                float4 v = *reinterpret_cast<const float4*>(&as[cur][kk][g * (BM / (TM / 4)) + ty * 4]);
                af[g * 4] = v.x; af[g * 4 + 1] = v.y; af[g * 4 + 2] = v.z; af[g * 4 + 3] = v.w;
            }
#pragma unroll
            for (int g = 0; g < TN / 4; g++) {
                float4 v = *reinterpret_cast<const float4*>(&bs[cur][kk][g * (BN / (TN / 4)) + tx * 4]);
                bf[g * 4] = v.x; bf[g * 4 + 1] = v.y; bf[g * 4 + 2] = v.z; bf[g * 4 + 3] = v.w;
            }
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < TN; j++) acc[i][j] = fmaf(af[i], bf[j], acc[i][j]);
        }
        if (t + 1 < slices) store(cur ^ 1);   // the other buffer: everyone finished reading it before the last barrier
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < TM; i++) {
        int gm = m0 + (i / 4) * (BM / (TM / 4)) + ty * 4 + i % 4;
        if (gm >= m) continue;
#pragma unroll
        for (int j = 0; j < TN; j++) {
            int gn = n0 + (j / 4) * (BN / (TN / 4)) + tx * 4 + j % 4;
            if (gn >= n) continue;
            float* cp = c + (long long) gm * n + gn;
            *cp = beta == 0.0f ? alpha * acc[i][j] : fmaf(alpha, acc[i][j], beta * *cp);   // β = 0 ignores NaN in C
        }
    }
}

__device__ __forceinline__ long long batchOffset(const long long* offsets, long long stride, int batch) {
    return offsets != nullptr ? offsets[batch] : (long long) batch * stride;
}

// 128×128 tiles, 8×8 per thread: the large-problem kernel.
extern "C" __global__ void __launch_bounds__(256, 2) sgemm_128x128(int m, int n, int k, float alpha, const float* a,
        int aRow, int aCol, long long aBatchStride, const long long* aOffsets, const float* b, int bRow, int bCol,
        long long bBatchStride, const long long* bOffsets, float beta, float* c, int vecA, int vecB) {
    __shared__ __align__(16) float as[2][8][128 + 4];
    __shared__ __align__(16) float bs[2][8][128 + 4];
    int batch = blockIdx.z;
    gemmTile<128, 128, 8, 8, 8>(m, n, k, alpha, a + batchOffset(aOffsets, aBatchStride, batch), aRow, aCol,
                                b + batchOffset(bOffsets, bBatchStride, batch), bRow, bCol, beta,
                                c + (long long) batch * m * n, as, bs, vecA != 0, vecB != 0);
}

// 64×64 tiles, 4×4 per thread: four times the blocks, for problems that would leave most SMs idle at 128×128.
extern "C" __global__ void __launch_bounds__(256) sgemm_64x64(int m, int n, int k, float alpha, const float* a,
        int aRow, int aCol, long long aBatchStride, const long long* aOffsets, const float* b, int bRow, int bCol,
        long long bBatchStride, const long long* bOffsets, float beta, float* c, int vecA, int vecB) {
    __shared__ __align__(16) float as[2][16][64 + 4];
    __shared__ __align__(16) float bs[2][16][64 + 4];
    int batch = blockIdx.z;
    gemmTile<64, 64, 16, 4, 4>(m, n, k, alpha, a + batchOffset(aOffsets, aBatchStride, batch), aRow, aCol,
                               b + batchOffset(bOffsets, bBatchStride, batch), bRow, bCol, beta,
                               c + (long long) batch * m * n, as, bs, vecA != 0, vecB != 0);
}

// The end of a split-K GEMM: C = α·Σ_s partial[s] + β·C (β = 0 ignores C), the slices added in order.
extern "C" __global__ void gemm_sum_slices_f32(const float* partial, int parts, long long mn, float alpha, float beta,
                                               float* c) {
    FOR_EACH(i, mn) {
        float s = 0.0f;
        for (int p = 0; p < parts; p++) s += partial[p * mn + i];
        c[i] = beta == 0.0f ? alpha * s : fmaf(alpha, s, beta * c[i]);
    }
}

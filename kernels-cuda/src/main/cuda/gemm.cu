// Batched SGEMM: C[b] = α·op(A[b])·op(B[b]) + β·C[b], C contiguous [M, N] per batch. op(A) is read through
// (row, column) strides over [M, K] and op(B) over [K, N], so transposes and transposed views cost nothing extra.
// Batch b's A starts at aOffsets[b] when a table is given (irregular broadcasting), else at b·aBatchStride.
//
// Tiling: a block computes a BM×BN tile of C with 256 threads, each a TM×TN register tile; K advances in slices of
// BK staged through shared memory, stored k-major so each thread reads its A column fragment and B row fragment as
// float4s. Loads into shared memory pick the thread mapping that makes consecutive threads read consecutive
// addresses for the operand's unit stride (k for a row-major A, m for a transposed one; likewise for B).
#include "crate_cuda.cuh"

template <int BM, int BN, int BK, int TM, int TN>
__device__ __forceinline__ void gemmTile(int m, int n, int k, float alpha, const float* __restrict__ a, int aRow,
                                         int aCol, const float* __restrict__ b, int bRow, int bCol, float beta,
                                         float* __restrict__ c, float (&as)[BK][BM + 4], float (&bs)[BK][BN + 4]) {
    constexpr int THREADS = (BM / TM) * (BN / TN);
    constexpr int COLS = BN / TN;
    const int tid = threadIdx.x;
    const int ty = tid / COLS, tx = tid % COLS;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;

    const bool aAlongK = aCol == 1;   // row-major A: let consecutive threads walk k
    const bool bAlongN = bCol == 1;   // row-major B: let consecutive threads walk n

    for (int k0 = 0; k0 < k; k0 += BK) {
#pragma unroll
        for (int e = tid; e < BM * BK; e += THREADS) {
            int mm = aAlongK ? e / BK : e % BM;
            int kk = aAlongK ? e % BK : e / BM;
            int gm = m0 + mm, gk = k0 + kk;
            as[kk][mm] = (gm < m && gk < k) ? a[(long long) gm * aRow + (long long) gk * aCol] : 0.0f;
        }
#pragma unroll
        for (int e = tid; e < BK * BN; e += THREADS) {
            int nn = bAlongN ? e % BN : e / BK;
            int kk = bAlongN ? e / BN : e % BK;
            int gk = k0 + kk, gn = n0 + nn;
            bs[kk][nn] = (gk < k && gn < n) ? b[(long long) gk * bRow + (long long) gn * bCol] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float af[TM], bf[TN];
            // Fragments in groups of 4: group g of a thread sits at g·(BM/(TM/4)) + ty·4, so a warp's float4 reads
            // cover consecutive addresses.
#pragma unroll
            for (int g = 0; g < TM / 4; g++) {
                float4 v = *reinterpret_cast<const float4*>(&as[kk][g * (BM / (TM / 4)) + ty * 4]);
                af[g * 4] = v.x; af[g * 4 + 1] = v.y; af[g * 4 + 2] = v.z; af[g * 4 + 3] = v.w;
            }
#pragma unroll
            for (int g = 0; g < TN / 4; g++) {
                float4 v = *reinterpret_cast<const float4*>(&bs[kk][g * (BN / (TN / 4)) + tx * 4]);
                bf[g * 4] = v.x; bf[g * 4 + 1] = v.y; bf[g * 4 + 2] = v.z; bf[g * 4 + 3] = v.w;
            }
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < TN; j++) acc[i][j] = fmaf(af[i], bf[j], acc[i][j]);
        }
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
extern "C" __global__ void __launch_bounds__(256) sgemm_128x128(int m, int n, int k, float alpha, const float* a,
        int aRow, int aCol, long long aBatchStride, const long long* aOffsets, const float* b, int bRow, int bCol,
        long long bBatchStride, const long long* bOffsets, float beta, float* c) {
    __shared__ __align__(16) float as[8][128 + 4];
    __shared__ __align__(16) float bs[8][128 + 4];
    int batch = blockIdx.z;
    gemmTile<128, 128, 8, 8, 8>(m, n, k, alpha, a + batchOffset(aOffsets, aBatchStride, batch), aRow, aCol,
                                b + batchOffset(bOffsets, bBatchStride, batch), bRow, bCol, beta,
                                c + (long long) batch * m * n, as, bs);
}

// 64×64 tiles, 4×4 per thread: four times the blocks, for problems that would leave most SMs idle at 128×128.
extern "C" __global__ void __launch_bounds__(256) sgemm_64x64(int m, int n, int k, float alpha, const float* a,
        int aRow, int aCol, long long aBatchStride, const long long* aOffsets, const float* b, int bRow, int bCol,
        long long bBatchStride, const long long* bOffsets, float beta, float* c) {
    __shared__ __align__(16) float as[16][64 + 4];
    __shared__ __align__(16) float bs[16][64 + 4];
    int batch = blockIdx.z;
    gemmTile<64, 64, 16, 4, 4>(m, n, k, alpha, a + batchOffset(aOffsets, aBatchStride, batch), aRow, aCol,
                               b + batchOffset(bOffsets, bBatchStride, batch), bRow, bCol, beta,
                               c + (long long) batch * m * n, as, bs);
}

// Fused MSSA (tied Q = K = V) for one (head, batch) per block: the head's W [N, p] is staged in shared memory (rows
// padded to p + 1 floats so a warp reading column c of 32 different rows hits 32 different banks) and each warp
// takes query rows in turn, keeping the row of scores in its own slice of shared memory. Launch: grid (H, B),
// 256 threads, dynamic shared memory as mssaSharedFloats below (the host falls back to GEMMs when it exceeds the
// device's limit). w, out and dout are contiguous [B, N, H·p]; attn and ds are [B, H, N, N].
#include "crate_cuda.cuh"

#define MSSA_WARPS 8
#define MSSA_ROWS 4   // rows a warp takes at once (queries; keys in the backward's phase 2)

__device__ __forceinline__ void stageHead(const float* src, float* dst, int n, int heads, int p, int ld) {
    int b = blockIdx.y, h = blockIdx.x, width = heads * p;
    for (int e = threadIdx.x; e < n * p; e += blockDim.x) {
        int t = e / p, col = e % p;
        dst[t * ld + col] = src[((long long) b * n + t) * width + h * p + col];
    }
}

__device__ __forceinline__ long long headOffset(int n, int heads, int p, int t, int col) {
    return ((long long) blockIdx.y * n + t) * heads * p + blockIdx.x * p + col;
}

// dot[r] = q[r] · wj over p columns for a warp's MSSA_ROWS rows q[r] (broadcast reads): each wj element read once.
__device__ __forceinline__ void dotRows(const float* const (&q)[MSSA_ROWS], const float* wj, int p,
                                       float (&dot)[MSSA_ROWS]) {
#pragma unroll
    for (int r = 0; r < MSSA_ROWS; r++) dot[r] = 0.0f;
    for (int col = 0; col < p; col++) {
        float v = wj[col];
#pragma unroll
        for (int r = 0; r < MSSA_ROWS; r++) dot[r] = fmaf(q[r][col], v, dot[r]);
    }
}

// acc[r] = Σ_j rows[r·n + j] · W_j[col]: a column of (rows · W) for each of the MSSA_ROWS rows.
__device__ __forceinline__ void rowsTimesColumn(const float* rows, int n, const float* wh, int ld, int col,
                                                float (&acc)[MSSA_ROWS]) {
#pragma unroll
    for (int r = 0; r < MSSA_ROWS; r++) acc[r] = 0.0f;
    for (int j = 0; j < n; j++) {
        float v = wh[j * ld + col];
#pragma unroll
        for (int r = 0; r < MSSA_ROWS; r++) acc[r] = fmaf(rows[r * n + j], v, acc[r]);
    }
}

// out_h = softmax(scale·W_h W_hᵀ)·W_h; attn (when not null) receives the softmax; out may be null (only A wanted).
// A warp takes MSSA_ROWS query rows at a time, so each W_j element it reads from shared memory feeds MSSA_ROWS
// products (the query rows' elements are broadcasts): about 4 FMAs per 5 shared loads instead of 1 per 2.
extern "C" __global__ void __launch_bounds__(256) mssa_forward_f32(const float* w, int n, int heads, int p,
                                                                   float scale, float* out, float* attn) {
    DYNAMIC_SHARED(float, smem);
    const int ld = p + 1, warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    float* wh = smem;
    float* rows = smem + n * ld + warp * MSSA_ROWS * n;   // this warp's MSSA_ROWS rows of scores, then of A
    stageHead(w, wh, n, heads, p, ld);
    __syncthreads();
    long long attnBase = ((long long) blockIdx.y * heads + blockIdx.x) * n * n;
    for (int i0 = warp * MSSA_ROWS; i0 < n; i0 += MSSA_WARPS * MSSA_ROWS) {
        const int count = min(MSSA_ROWS, n - i0);   // rows past the end are computed as copies of row i0, unused
        const float* q[MSSA_ROWS];
#pragma unroll
        for (int r = 0; r < MSSA_ROWS; r++) q[r] = wh + (i0 + (r < count ? r : 0)) * ld;
        float mx[MSSA_ROWS];
#pragma unroll
        for (int r = 0; r < MSSA_ROWS; r++) mx[r] = -INFINITY;
        for (int j = lane; j < n; j += WARP) {
            float dot[MSSA_ROWS];
            dotRows(q, wh + j * ld, p, dot);
#pragma unroll
            for (int r = 0; r < MSSA_ROWS; r++) {
                float sc = scale * dot[r];
                rows[r * n + j] = sc;
                mx[r] = fmaxf(mx[r], sc);
            }
        }
#pragma unroll
        for (int r = 0; r < MSSA_ROWS; r++) {
            float m = warpMax(mx[r]), sum = 0.0f;
            for (int j = lane; j < n; j += WARP) {
                float e = expf(rows[r * n + j] - m);
                rows[r * n + j] = e;
                sum += e;
            }
            float inv = 1.0f / warpSum(sum);
            for (int j = lane; j < n; j += WARP) {
                float a = rows[r * n + j] * inv;
                rows[r * n + j] = a;
                if (attn != nullptr && r < count) attn[attnBase + (long long) (i0 + r) * n + j] = a;
            }
        }
        __syncwarp();
        if (out != nullptr) {
            for (int col = lane; col < p; col += WARP) {
                float acc[MSSA_ROWS];
                rowsTimesColumn(rows, n, wh, ld, col, acc);
#pragma unroll
                for (int r = 0; r < MSSA_ROWS; r++) {
                    if (r < count) out[headOffset(n, heads, p, i0 + r, col)] = acc[r];
                }
            }
        }
        __syncwarp();
    }
}

// dW_h = Aᵀ·dO + scale·(dS + dSᵀ)·W with dS = A ⊙ (dO·Wᵀ − rowsum(A ⊙ dO·Wᵀ)), without atomics: phase 1 gives each
// warp query rows i (MSSA_ROWS at a time), writes dS row i to the scratch ds and the row term scale·(dS·W)_i into dw;
// phase 2 gives each warp rows j (likewise) and adds the column terms Σ_i A_ij·dO_i + scale·dS_ij·W_i. attn must hold
// the forward's A.
extern "C" __global__ void __launch_bounds__(256) mssa_backward_f32(const float* w, const float* attn,
                                                                    const float* dout, int n, int heads, int p,
                                                                    float scale, float* ds, float* dw) {
    DYNAMIC_SHARED(float, smem);
    const int ld = p + 1, warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    float* wh = smem;
    float* doh = smem + n * ld;
    float* rows = smem + 2 * n * ld + warp * MSSA_ROWS * n;   // this warp's MSSA_ROWS rows of dO·Wᵀ, then of dS
    stageHead(w, wh, n, heads, p, ld);
    stageHead(dout, doh, n, heads, p, ld);
    __syncthreads();
    long long base = ((long long) blockIdx.y * heads + blockIdx.x) * n * n;
    const float* a = attn + base;
    float* dsb = ds + base;

    // Phase 1, MSSA_ROWS query rows per warp (each W_j element read feeds MSSA_ROWS products).
    for (int i0 = warp * MSSA_ROWS; i0 < n; i0 += MSSA_WARPS * MSSA_ROWS) {
        const int count = min(MSSA_ROWS, n - i0);   // rows past the end repeat row i0 and are never written
        const float* q[MSSA_ROWS];
        int row[MSSA_ROWS];
#pragma unroll
        for (int r = 0; r < MSSA_ROWS; r++) {
            row[r] = i0 + (r < count ? r : 0);
            q[r] = doh + row[r] * ld;
        }
        float rsum[MSSA_ROWS] = {};
        for (int j = lane; j < n; j += WARP) {
            float g[MSSA_ROWS];
            dotRows(q, wh + j * ld, p, g);
#pragma unroll
            for (int r = 0; r < MSSA_ROWS; r++) {
                rows[r * n + j] = g[r];
                rsum[r] = fmaf(a[(long long) row[r] * n + j], g[r], rsum[r]);
            }
        }
#pragma unroll
        for (int r = 0; r < MSSA_ROWS; r++) {
            float total = warpSum(rsum[r]);
            for (int j = lane; j < n; j += WARP) {
                float d = a[(long long) row[r] * n + j] * (rows[r * n + j] - total);
                rows[r * n + j] = d;
                if (r < count) dsb[(long long) row[r] * n + j] = d;
            }
        }
        __syncwarp();
        for (int col = lane; col < p; col += WARP) {
            float acc[MSSA_ROWS];
            rowsTimesColumn(rows, n, wh, ld, col, acc);
#pragma unroll
            for (int r = 0; r < MSSA_ROWS; r++) {
                if (r < count) dw[headOffset(n, heads, p, row[r], col)] = scale * acc[r];
            }
        }
        __syncwarp();
    }
    __syncthreads();   // every dS row and row term written (global writes are visible within the block after this)

    // Phase 2, MSSA_ROWS key rows j per warp: each dO_i and W_i element read feeds MSSA_ROWS products.
    for (int j0 = warp * MSSA_ROWS; j0 < n; j0 += MSSA_WARPS * MSSA_ROWS) {
        const int count = min(MSSA_ROWS, n - j0);
        int col4[MSSA_ROWS];
#pragma unroll
        for (int r = 0; r < MSSA_ROWS; r++) col4[r] = j0 + (r < count ? r : 0);
        for (int col = lane; col < p; col += WARP) {
            float values[MSSA_ROWS] = {}, keys[MSSA_ROWS] = {};
            for (int i = 0; i < n; i++) {
                float vo = doh[i * ld + col], vw = wh[i * ld + col];
                const float* ai = a + (long long) i * n;
                const float* di = dsb + (long long) i * n;
#pragma unroll
                for (int r = 0; r < MSSA_ROWS; r++) {
                    values[r] = fmaf(ai[col4[r]], vo, values[r]);
                    keys[r] = fmaf(di[col4[r]], vw, keys[r]);
                }
            }
#pragma unroll
            for (int r = 0; r < MSSA_ROWS; r++) {
                if (r < count) dw[headOffset(n, heads, p, col4[r], col)] += values[r] + scale * keys[r];
            }
        }
    }
}

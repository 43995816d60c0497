// Row-wise kernels over contiguous [rows, C] data, one warp per row (8 rows per 256-thread block): reductions along
// an axis, softmax and log-softmax with their backwards, LayerNorm forward/backward and cross-entropy.
#include "crate_cuda.cuh"

#define ROWS_PER_BLOCK 8   // blockDim.x = 256 = 8 warps

enum Reduce { SUM, MEAN, MAX };

__device__ __forceinline__ int warpRow() { return blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP; }

__device__ __forceinline__ int lane() { return threadIdx.x % WARP; }

// ---- reductions: x viewed as [outer, len, inner], out [outer, inner] ---------------------------------------------

// inner == 1: a warp per output, reading its row with consecutive lanes.
extern "C" __global__ void reduce_rows_f32(int op, const float* x, float* out, int rows, int len) {
    int r = warpRow();
    if (r >= rows) return;
    const float* row = x + (long long) r * len;
    float acc = op == MAX ? -INFINITY : 0.0f;
    for (int j = lane(); j < len; j += WARP) acc = op == MAX ? fmaxf(acc, row[j]) : acc + row[j];
    acc = op == MAX ? warpMax(acc) : warpSum(acc);
    if (lane() == 0) out[r] = op == MEAN ? acc / len : acc;
}

// inner > 1: a thread per output, consecutive threads on consecutive (coalesced) inner positions.
extern "C" __global__ void reduce_cols_f32(int op, const float* x, float* out, int outer, int len, int inner) {
    FOR_EACH(i, (long long) outer * inner) {
        long long o = i / inner, k = i % inner;
        const float* col = x + o * len * inner + k;
        float acc = op == MAX ? -INFINITY : 0.0f;
        for (int j = 0; j < len; j++) acc = op == MAX ? fmaxf(acc, col[(long long) j * inner]) : acc + col[(long long) j * inner];
        out[i] = op == MEAN ? acc / len : acc;
    }
}

// acc[0] += Σ x² over a view (gradient norms), in one launch and deterministically: each block writes its partial
// sum, and the last block to finish (counted by an atomic ticket, which it resets to 0 for the next call) adds the
// partials in block order. 256 threads per block; partials holds gridDim.x floats.
extern "C" __global__ void __launch_bounds__(256) sum_squares_f32(const float* x, View xv, long long n,
                                                                  float* partials, int* counter, float* acc) {
    __shared__ float warpSums[256 / WARP];
    __shared__ int isLast;
    float s = 0.0f;
    FOR_EACH(i, n) {
        float v = x[at(xv, i)];
        s = fmaf(v, v, s);
    }
    s = warpSum(s);
    if (lane() == 0) warpSums[threadIdx.x / WARP] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        float blockSum = 0.0f;
        for (int w = 0; w < (int) blockDim.x / WARP; w++) blockSum += warpSums[w];
        partials[blockIdx.x] = blockSum;
        __threadfence();   // the partial is visible to every block before the ticket says so
        isLast = atomicAdd(counter, 1) == (int) gridDim.x - 1;
    }
    __syncthreads();
    if (isLast && threadIdx.x == 0) {
        const volatile float* p = partials;
        float total = 0.0f;
        for (int b = 0; b < (int) gridDim.x; b++) total += p[b];
        acc[0] += total;
        *counter = 0;
    }
}

// acc[0] += Σ x² over every tensor of a table ({address, length} per entry, as TensorEntry in elementwise.cu), in one
// launch: grid (chunks, tensors), partials of gridDim.x·gridDim.y floats, the same last-block rule as above (block
// order: tensor by tensor), so the result does not depend on scheduling.
struct SquaresEntry {
    const float* x;
    long long n;
};

extern "C" __global__ void __launch_bounds__(256) sum_squares_multi_f32(const SquaresEntry* table, float* partials,
                                                                        int* counter, float* acc) {
    __shared__ float warpSums[256 / WARP];
    __shared__ int isLast;
    const SquaresEntry e = table[blockIdx.y];
    float s = 0.0f;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < e.n;
         i += (long long) gridDim.x * blockDim.x) {
        s = fmaf(e.x[i], e.x[i], s);
    }
    s = warpSum(s);
    if (lane() == 0) warpSums[threadIdx.x / WARP] = s;
    __syncthreads();
    int blocks = (int) (gridDim.x * gridDim.y), block = (int) (blockIdx.y * gridDim.x + blockIdx.x);
    if (threadIdx.x == 0) {
        float blockSum = 0.0f;
        for (int w = 0; w < (int) blockDim.x / WARP; w++) blockSum += warpSums[w];
        partials[block] = blockSum;
        __threadfence();
        isLast = atomicAdd(counter, 1) == blocks - 1;
    }
    __syncthreads();
    if (isLast && threadIdx.x == 0) {
        const volatile float* p = partials;
        float total = 0.0f;
        for (int b = 0; b < blocks; b++) total += p[b];
        acc[0] += total;
        *counter = 0;
    }
}

// ---- softmax family ----------------------------------------------------------------------------------------------

// out = softmax(x) or, when logOut, log-softmax(x); max subtracted first.
extern "C" __global__ void softmax_f32(const float* x, float* out, int rows, int c, int logOut) {
    int r = warpRow();
    if (r >= rows) return;
    const float* xr = x + (long long) r * c;
    float* yr = out + (long long) r * c;
    float mx = -INFINITY;
    for (int j = lane(); j < c; j += WARP) mx = fmaxf(mx, xr[j]);
    mx = warpMax(mx);
    float sum = 0.0f;
    for (int j = lane(); j < c; j += WARP) sum += expf(xr[j] - mx);
    sum = warpSum(sum);
    if (logOut) {
        float shift = mx + logf(sum);
        for (int j = lane(); j < c; j += WARP) yr[j] = xr[j] - shift;
    } else {
        float inv = 1.0f / sum;
        for (int j = lane(); j < c; j += WARP) yr[j] = expf(xr[j] - mx) * inv;
    }
}

// softmax: dx = y ⊙ (dy − Σ dy ⊙ y); log-softmax (fromLog): dx = dy − exp(y)·Σ dy.
extern "C" __global__ void softmax_backward_f32(const float* y, const float* dy, float* dx, int rows, int c,
                                                int fromLog) {
    int r = warpRow();
    if (r >= rows) return;
    long long base = (long long) r * c;
    float dot = 0.0f;
    for (int j = lane(); j < c; j += WARP) dot += fromLog ? dy[base + j] : dy[base + j] * y[base + j];
    dot = warpSum(dot);
    for (int j = lane(); j < c; j += WARP) {
        dx[base + j] = fromLog ? dy[base + j] - expf(y[base + j]) * dot : y[base + j] * (dy[base + j] - dot);
    }
}

// ---- LayerNorm ---------------------------------------------------------------------------------------------------

extern "C" __global__ void layer_norm_f32(const float* x, const float* gamma, const float* beta, float eps,
                                          float* out, float* mean, float* rstd, int rows, int c) {
    int r = warpRow();
    if (r >= rows) return;
    const float* xr = x + (long long) r * c;
    float s = 0.0f;
    for (int j = lane(); j < c; j += WARP) s += xr[j];
    float mu = warpSum(s) / c;
    float ss = 0.0f;
    for (int j = lane(); j < c; j += WARP) { float d = xr[j] - mu; ss += d * d; }   // two passes: no cancellation
    float rs = 1.0f / sqrtf(warpSum(ss) / c + eps);
    float* yr = out + (long long) r * c;
    for (int j = lane(); j < c; j += WARP) yr[j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
    if (lane() == 0) { mean[r] = mu; rstd[r] = rs; }
}

// LayerNorm backward for a chunk of rowsPerChunk rows per block (blockIdx.x): first dx = rstd·(g − mean(g) −
// x̂·mean(g ⊙ x̂)) with g = dy ⊙ γ and x̂ = (x − μ)·rstd, a warp per row; then the chunk's column sums for
// dγ = Σ dy ⊙ x̂ and dβ = Σ dy into partials[chunk][0..c) and [c..2c), a thread per column so every read is
// coalesced (the rows were just read, so mostly from cache; they read only inputs, so no barrier between). layer_norm_backward_params_finish_f32 adds the chunks.
extern "C" __global__ void layer_norm_backward_f32(const float* dy, const float* x, const float* gamma,
                                                   const float* mean, const float* rstd, float* dx,
                                                   float* partials, int rows, int c, int rowsPerChunk) {
    const int r0 = blockIdx.x * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk);
    for (int r = r0 + (int) threadIdx.x / WARP; r < r1; r += ROWS_PER_BLOCK) {
        long long base = (long long) r * c;
        float mu = mean[r], rs = rstd[r];
        float sg = 0.0f, sgx = 0.0f;
        for (int j = lane(); j < c; j += WARP) {
            float g = dy[base + j] * gamma[j];
            sg += g;
            sgx += g * (x[base + j] - mu) * rs;
        }
        float mg = warpSum(sg) / c, mgx = warpSum(sgx) / c;
        for (int j = lane(); j < c; j += WARP) {
            float xhat = (x[base + j] - mu) * rs;
            dx[base + j] = rs * (dy[base + j] * gamma[j] - mg - xhat * mgx);
        }
    }
    for (int j = threadIdx.x; j < c; j += blockDim.x) {
        float dg = 0.0f, db = 0.0f;
        for (int r = r0; r < r1; r++) {
            long long k = (long long) r * c + j;
            dg += dy[k] * (x[k] - mean[r]) * rstd[r];
            db += dy[k];
        }
        partials[(long long) blockIdx.x * 2 * c + j] = dg;
        partials[(long long) blockIdx.x * 2 * c + c + j] = db;
    }
}

extern "C" __global__ void layer_norm_backward_params_finish_f32(const float* partials, int chunks, int c,
                                                                 float* dgamma, float* dbeta) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    float dg = 0.0f, db = 0.0f;
    for (int k = 0; k < chunks; k++) {
        dg += partials[(long long) k * 2 * c + j];
        db += partials[(long long) k * 2 * c + c + j];
    }
    dgamma[j] = dg;
    dbeta[j] = db;
}

// ---- cross-entropy with label smoothing: target = (1 − ε)·onehot + ε/C ------------------------------------------

extern "C" __global__ void cross_entropy_f32(const float* logits, const int* labels, float smoothing, float* losses,
                                             int rows, int c) {
    int r = warpRow();
    if (r >= rows) return;
    const float* z = logits + (long long) r * c;
    float mx = -INFINITY;
    for (int j = lane(); j < c; j += WARP) mx = fmaxf(mx, z[j]);
    mx = warpMax(mx);
    float sum = 0.0f, zsum = 0.0f;
    for (int j = lane(); j < c; j += WARP) { sum += expf(z[j] - mx); zsum += z[j]; }
    sum = warpSum(sum);
    zsum = warpSum(zsum);
    if (lane() == 0) {
        float logZ = mx + logf(sum);
        float nllTarget = logZ - z[labels[r]];
        float nllMean = logZ - zsum / c;   // −(1/C)·Σ log p
        losses[r] = (1.0f - smoothing) * nllTarget + smoothing * nllMean;
    }
}

extern "C" __global__ void cross_entropy_backward_f32(const float* logits, const int* labels, float smoothing,
                                                      const float* dlosses, float* dlogits, int rows, int c) {
    int r = warpRow();
    if (r >= rows) return;
    long long base = (long long) r * c;
    float mx = -INFINITY;
    for (int j = lane(); j < c; j += WARP) mx = fmaxf(mx, logits[base + j]);
    mx = warpMax(mx);
    float sum = 0.0f;
    for (int j = lane(); j < c; j += WARP) sum += expf(logits[base + j] - mx);
    float inv = 1.0f / warpSum(sum);
    float d = dlosses[r], off = smoothing / c;
    int label = labels[r];
    for (int j = lane(); j < c; j += WARP) {
        float target = (j == label ? 1.0f - smoothing : 0.0f) + off;
        dlogits[base + j] = (expf(logits[base + j] - mx) * inv - target) * d;
    }
}

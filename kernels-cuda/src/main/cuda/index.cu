// Gather and scatter-add along one axis of contiguous data viewed as [outer, len, inner]; index holds, per outer
// position, the source (gather) or target (scatter) position along the axis for each of the small side's len.
#include "crate_cuda.cuh"

// out[o, j, k] = x[o, index[o·outLen + j], k]
extern "C" __global__ void gather_f32(const float* x, const int* index, float* out, int outer, int xLen,
                                      int outLen, int inner) {
    FOR_EACH(i, (long long) outer * outLen * inner) {
        long long k = i % inner, oj = i / inner;
        long long o = oj / outLen;
        out[i] = x[(o * xLen + index[oj]) * inner + k];
    }
}

// out[o, index[o·srcLen + j], k] += src[o, j, k]; indices may repeat, so the adds are atomic.
extern "C" __global__ void scatter_add_f32(const float* src, const int* index, float* out, int outer, int srcLen,
                                           int outLen, int inner) {
    FOR_EACH(i, (long long) outer * srcLen * inner) {
        long long k = i % inner, oj = i / inner;
        long long o = oj / srcLen;
        atomicAdd(&out[(o * outLen + index[oj]) * inner + k], src[i]);
    }
}

// Shared definitions for every CRATE kernel. Kernels keep to the subset of CUDA that the CPU emulator used by the
// tests understands (src/test/emu/cuda_emu.h): thread/block indices, __syncthreads, full-warp shuffles, static and
// DYNAMIC_SHARED shared memory, float atomicAdd, float4, and the usual float math functions.
#pragma once

#ifdef CRATE_EMULATION
#include "cuda_emu.h"
#else
#define DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

#define CRATE_MAX_RANK 6
#define WARP 32

// A strided view: element i (row-major over shape) lives at Σ index_d · strides[d] from the pointer passed beside
// it (the view's start). 13 ints, passed by value; unused dimensions are size 1.
struct View {
    int rank;
    int shape[CRATE_MAX_RANK];
    int strides[CRATE_MAX_RANK];
};

// Element offset of row-major linear index i in view v. Unrolled over the fixed maximum rank so every index into
// the struct is a constant: with a loop bounded by v.rank the compiler copies the struct to local memory (a stack
// frame in every elementwise kernel, measured with ptxas --resource-usage).
__device__ __forceinline__ long long viewOffset(const View& v, long long i) {
    long long off = 0;
#pragma unroll
    for (int d = CRATE_MAX_RANK - 1; d >= 0; d--) {
        if (d < v.rank) {
            int size = v.shape[d];
            off += (i % size) * (long long) v.strides[d];
            i /= size;
        }
    }
    return off;
}

// A 16-byte load of four consecutive floats; p must be 16-byte aligned (the emulator checks every one).
__device__ __forceinline__ float4 loadFloat4(const float* p) {
#ifdef CRATE_EMULATION
    crate_emu_require_aligned(p, 16, __FILE__, __LINE__);
#endif
    return *reinterpret_cast<const float4*>(p);
}

__device__ __forceinline__ float warpSum(float v) {
    for (int m = WARP / 2; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}

__device__ __forceinline__ float warpMax(float v) {
    for (int m = WARP / 2; m > 0; m >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, m));
    return v;
}

// Position of element i of a view: a rank-0 view stands for "contiguous, same shape as the output", so the common
// case costs no index arithmetic.
__device__ __forceinline__ long long at(const View& v, long long i) { return v.rank == 0 ? i : viewOffset(v, i); }

// Grid-stride loop over n elements for 1-D launches.
#define FOR_EACH(i, n) for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
                            i += (long long) gridDim.x * blockDim.x)

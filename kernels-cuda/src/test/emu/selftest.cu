// Test-only kernels for EmulatorSelfTest: each exercises one part of the emulator (built-in indices, barriers,
// shuffles, shared memory, atomics, argument passing) or one error it must report.
#include "crate_cuda.cuh"

// For the thread numbered t over the whole grid (x fastest, threads within blocks within the grid):
// out[6t..6t+5] = threadIdx.xyz, blockIdx.xyz; thread 0 of block 0 also writes dims = blockDim.xyz, gridDim.xyz.
extern "C" __global__ void emu_record_indices(int* out, int* dims) {
    long long block = blockIdx.x + (long long) gridDim.x * (blockIdx.y + (long long) gridDim.y * blockIdx.z);
    long long thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    int* o = out + 6 * (block * blockDim.x * blockDim.y * blockDim.z + thread);
    o[0] = threadIdx.x;
    o[1] = threadIdx.y;
    o[2] = threadIdx.z;
    o[3] = blockIdx.x;
    o[4] = blockIdx.y;
    o[5] = blockIdx.z;
    if (block == 0 && thread == 0) {
        dims[0] = blockDim.x;
        dims[1] = blockDim.y;
        dims[2] = blockDim.z;
        dims[3] = gridDim.x;
        dims[4] = gridDim.y;
        dims[5] = gridDim.z;
    }
}

// out[y][x] = in[y][x] · scale + y over a w×h matrix, on a 2-D grid of 2-D blocks that may overhang it.
extern "C" __global__ void emu_scale_2d(const float* in, float* out, int w, int h, float scale) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < w && y < h) out[(long long) y * w + x] = in[(long long) y * w + x] * scale + y;
}

// out[b] = the sum of in[256b .. 256b+255] (zeros past n), by a tree over static shared memory. 256 threads.
extern "C" __global__ void emu_block_sum(const float* in, float* out, int n) {
    __shared__ float partial[256];
    int t = threadIdx.x;
    long long i = (long long) blockIdx.x * 256 + t;
    partial[t] = i < n ? in[i] : 0.0f;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
        if (t < s) partial[t] += partial[t + s];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = partial[0];
}

// Every thread writes the warpSum and warpMax of its warp's 32 values: each lane must receive the whole result.
extern "C" __global__ void emu_warp_reduce(const float* in, float* sums, float* maxes) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    sums[i] = warpSum(in[i]);
    maxes[i] = warpMax(in[i]);
}

// The shuffle variants on ints, five results per thread: from lane 7·lane mod 32, up 3, down 5, xor 9 within groups
// of 8 (leaving the group for a later one returns the own value), down 1 within groups of 16.
extern "C" __global__ void emu_shuffles(const int* in, int* out) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    int v = in[i];
    int* o = out + 5 * i;
    o[0] = __shfl_sync(0xffffffffu, v, (threadIdx.x * 7) % 32);
    o[1] = __shfl_up_sync(0xffffffffu, v, 3);
    o[2] = __shfl_down_sync(0xffffffffu, v, 5);
    o[3] = __shfl_xor_sync(0xffffffffu, v, 9, 8);
    o[4] = __shfl_down_sync(0xffffffffu, v, 1, 16);
}

// Reverses each block's slice of blockDim.x values through dynamic shared memory (blockDim.x floats); fresh gets
// what each thread's slot held before anything was written to it.
extern "C" __global__ void emu_reverse_dynamic(const float* in, float* out, float* fresh) {
    DYNAMIC_SHARED(float, buf);
    int t = threadIdx.x, n = blockDim.x;
    long long base = (long long) blockIdx.x * n;
    fresh[base + t] = buf[t];
    __syncthreads();
    buf[t] = in[base + t];
    __syncthreads();
    out[base + t] = buf[n - 1 - t];
}

// Atomics from every thread of every block: *total += in[i] (float), *count += 1, *maxValue = max(in[i]) (ints).
extern "C" __global__ void emu_atomics(const float* in, long long n, float* total, int* count, int* maxValue) {
    FOR_EACH(i, n) {
        atomicAdd(total, in[i]);
        atomicAdd(count, 1);
        atomicMax(maxValue, (int) in[i]);
    }
}

// out[i] = x[at(v, i)]: a View struct and a 64-bit count passed by value.
extern "C" __global__ void emu_view_gather(const float* x, View v, float* out, long long n) {
    FOR_EACH(i, n) out[i] = x[at(v, i)];
}

// Declares at most 64 threads per block, which a GPU enforces at launch.
extern "C" __global__ void __launch_bounds__(64) emu_bounded(int* out) { out[threadIdx.x] = threadIdx.x; }

// ---- errors the emulator must report ----------------------------------------------------------------------------

// Threads 0..15 return while the others wait at __syncthreads: a deadlock on a GPU.
extern "C" __global__ void emu_divergent_sync(float* out) {
    if (threadIdx.x < 16) return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

// Even and odd threads wait at two different __syncthreads.
extern "C" __global__ void emu_mismatched_sync(float* out) {
    if (threadIdx.x % 2 == 0) {
        out[threadIdx.x] = 1.0f;
        __syncthreads();
    } else {
        __syncthreads();
        out[threadIdx.x] = 2.0f;
    }
}

// Writes out[n], one float past an n-float allocation.
extern "C" __global__ void emu_write_past_end(float* out, int n) {
    if (blockIdx.x == 0 && threadIdx.x == 0) out[n] = 1.0f;
}

// Writes one float past its blockDim.x floats of dynamic shared memory.
extern "C" __global__ void emu_shared_overrun(float* out) {
    DYNAMIC_SHARED(float, buf);
    buf[threadIdx.x + 1] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = buf[threadIdx.x];
}

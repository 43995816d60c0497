// CUDA emulation for tests: makes the kernel sources of src/main/cuda compile as host C++20 (g++, -DCRATE_EMULATION)
// and run on the CPU through emu_runtime.cpp. Blocks run one after another; inside a block every CUDA thread is a
// fiber, and the fibers switch only at __syncthreads, __syncwarp and the warp shuffles. So plain memory operations
// need no atomicity, and a function-local static is exactly one block's shared memory.
//
// The subset: threadIdx/blockIdx/blockDim/gridDim, __syncthreads, __syncwarp and the __shfl_*_sync family with the
// full-warp mask, static and DYNAMIC_SHARED shared memory, atomicAdd/atomicMax, __threadfence, float4/int4, the
// float math of <cmath> plus the __expf-style intrinsics. Anything else fails to compile here, which is the point: a kernel that
// leaves the subset is caught before it reaches a GPU untested.
#pragma once

#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

// ---- qualifiers -------------------------------------------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)   // EmulatorBuild reads the thread bound from the source; the runtime enforces it
#define __align__(n) __attribute__((aligned(n)))
// Blocks run one at a time, so one static per variable is the shared memory of the block that is running. It keeps
// the previous block's contents (a GPU leaves them undefined), unlike DYNAMIC_SHARED memory, which is NaN-filled.
#define __shared__ static
#define DYNAMIC_SHARED(type, name) type* name = (type*) crate_emu_dynamic_shared()

// ---- built-in variables (set by the scheduler before each fiber resumes) ----------------------------------------

struct uint3 {
    unsigned x, y, z;
};

extern uint3 threadIdx, blockIdx, blockDim, gridDim;
constexpr int warpSize = 32;

// ---- runtime entry points (emu_runtime.cpp) ---------------------------------------------------------------------

extern "C" {
void* crate_emu_dynamic_shared();
void crate_emu_syncthreads(const char* file, int line);
void crate_emu_syncwarp(unsigned mask);
// kind: CRATE_EMU_SHFL_*; lane: the source lane, delta or xor mask, as the intrinsic takes it.
std::uint64_t crate_emu_shuffle(unsigned mask, std::uint64_t value, int kind, int lane, int width);
// Fails the launch, as a GPU faults on a misaligned vector access, unless p is a multiple of bytes.
void crate_emu_require_aligned(const void* p, int bytes, const char* file, int line);
}

enum { CRATE_EMU_SHFL_IDX, CRATE_EMU_SHFL_UP, CRATE_EMU_SHFL_DOWN, CRATE_EMU_SHFL_XOR };

// The empty asm with a "memory" clobber keeps the compiler from caching shared memory (static variables whose
// address it may believe private) in registers across the switch to other fibers.
#define CRATE_EMU_FENCE() asm volatile("" ::: "memory")

inline void crate_emu_syncthreads_at(const char* file, int line) {
    CRATE_EMU_FENCE();
    crate_emu_syncthreads(file, line);
    CRATE_EMU_FENCE();
}

// A macro so the runtime can name the barrier where the threads of a block disagree.
#define __syncthreads() crate_emu_syncthreads_at(__FILE__, __LINE__)

inline void __syncwarp(unsigned mask = 0xffffffffu) {
    CRATE_EMU_FENCE();
    crate_emu_syncwarp(mask);
    CRATE_EMU_FENCE();
}

template <class T>
inline T crate_emu_shfl(unsigned mask, T var, int kind, int lane, int width) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move values of at most 8 bytes");
    std::uint64_t bits = 0;
    std::memcpy(&bits, &var, sizeof(T));
    CRATE_EMU_FENCE();
    bits = crate_emu_shuffle(mask, bits, kind, lane, width);
    CRATE_EMU_FENCE();
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

template <class T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize) {
    return crate_emu_shfl(mask, var, CRATE_EMU_SHFL_IDX, srcLane, width);
}

template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    return crate_emu_shfl(mask, var, CRATE_EMU_SHFL_UP, (int) delta, width);
}

template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    return crate_emu_shfl(mask, var, CRATE_EMU_SHFL_DOWN, (int) delta, width);
}

template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize) {
    return crate_emu_shfl(mask, var, CRATE_EMU_SHFL_XOR, laneMask, width);
}

// ---- atomics: a fiber is never interrupted between a load and a store, so plain read-modify-write is atomic ---

// Blocks run one after another, so every global write is visible to later blocks without a fence.
inline void __threadfence() {}

template <class T>
inline T atomicAdd(T* address, std::type_identity_t<T> value) {
    T old = *address;
    *address = old + value;
    return old;
}

template <std::integral T>
inline T atomicMax(T* address, std::type_identity_t<T> value) {
    T old = *address;
    if (value > old) *address = value;
    return old;
}

// ---- vector types -----------------------------------------------------------------------------------------------

struct __align__(16) float4 {
    float x, y, z, w;
};

struct __align__(16) int4 {
    int x, y, z, w;
};

inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

// ---- math: <cmath>'s float functions (expf, logf, erfcf, fmaf, ...) plus CUDA's intrinsics and min/max ---------

inline float __expf(float x) { return expf(x); }

inline float __logf(float x) { return logf(x); }

inline float __fdividef(float a, float b) { return a / b; }

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

inline int __float_as_int(float x) { return std::bit_cast<int>(x); }

inline float __int_as_float(int x) { return std::bit_cast<float>(x); }

// Integer min/max in the common type, as CUDA's overloads (min(int, unsigned) compares unsigned).
template <std::integral A, std::integral B>
inline std::common_type_t<A, B> min(A a, B b) {
    using C = std::common_type_t<A, B>;
    return (C) a < (C) b ? (C) a : (C) b;
}

template <std::integral A, std::integral B>
inline std::common_type_t<A, B> max(A a, B b) {
    using C = std::common_type_t<A, B>;
    return (C) a > (C) b ? (C) a : (C) b;
}

inline float min(float a, float b) { return fminf(a, b); }

inline float max(float a, float b) { return fmaxf(a, b); }

// ---- the kernel registry (used by the sources EmulatorBuild generates, one per .cu) -----------------------------

namespace crate_emu {

// Calls a kernel with its parameters taken from params as cuLaunchKernel does: params[i] points at the bytes of
// parameter i (8 for a pointer, 4 for an int or float, the whole struct for a struct).
using Thunk = void (*)(void** params);

template <class... A, std::size_t... I>
void callUnpacked(void (*kernel)(A...), void** params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cvref_t<A>*>(params[I])...);
}

template <class... A>
void call(void (*kernel)(A...), void** params) {
    callUnpacked(kernel, params, std::index_sequence_for<A...>{});
}

// A parameter's kind in the words of ai.crate.cuda.KernelArgs, so EmulatedDevice can check each launch's arguments.
template <class T>
std::string parameterKind() {
    if constexpr (std::is_pointer_v<T>) return "ptr";
    else if constexpr (std::is_same_v<T, float>) return "f32";
    else if constexpr ((std::is_integral_v<T> || std::is_enum_v<T>) && sizeof(T) == 4) return "i32";
    else if constexpr ((std::is_integral_v<T> || std::is_enum_v<T>) && sizeof(T) == 8) return "i64";
    else if constexpr (std::is_class_v<T> && std::is_trivially_copyable_v<T> && sizeof(T) % 4 == 0)
        return "struct(" + std::to_string(sizeof(T) / 4) + " ints)";
    else return "unsupported";
}

// The kinds of a kernel's parameters, comma-separated: "ptr,i32,f32".
template <class... A>
std::string signature(void (*)(A...)) {
    std::string out;
    ((out += (out.empty() ? "" : ","), out += parameterKind<std::remove_cvref_t<A>>()), ...);
    return out;
}

struct KernelEntry {
    const char* name;
    Thunk thunk;
    std::string signature;
    int maxThreads;   // its __launch_bounds__, which a GPU enforces at launch; else 1024
};

// A static Registration in each generated source adds that .cu's kernels to the runtime's table when the library
// loads.
struct Registration {
    explicit Registration(std::initializer_list<KernelEntry> kernels);
};

}  // namespace crate_emu

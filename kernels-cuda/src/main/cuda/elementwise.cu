// Elementwise kernels: fill, strided copy, unary ops and their derivatives, broadcasting binary ops, affine, and the
// fused optimizer steps over tables of parameters. Op codes are the ordinals of ai.crate.engine.UnaryOp / BinaryOp.
#include "crate_cuda.cuh"

enum Unary { NEG, EXP, LOG, SQRT, TANH, SIGMOID, ABS, SQUARE, RECIPROCAL, RELU, SIGN, GELU };
enum Binary { ADD, SUB, MUL, DIV, MAX, MIN };

#define INV_SQRT_2PI 0.3989422804014327f
#define SQRT_HALF 0.7071067811865476f

// Φ(x) through erfc so the tail x ≪ 0 keeps its relative accuracy.
__device__ __forceinline__ float normalCdf(float x) { return 0.5f * erfcf(-x * SQRT_HALF); }

__device__ __forceinline__ float unaryApply(int op, float x) {
    switch (op) {
        case NEG: return -x;
        case EXP: return expf(x);
        case LOG: return logf(x);
        case SQRT: return sqrtf(x);
        case TANH: return tanhf(x);
        case SIGMOID: return 1.0f / (1.0f + expf(-x));
        case ABS: return fabsf(x);
        case SQUARE: return x * x;
        case RECIPROCAL: return 1.0f / x;
        case RELU: return x > 0.0f ? x : 0.0f;
        case SIGN: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);   // keeps ±0 and NaN, as Math.signum
        default: return x * normalCdf(x);                              // GELU
    }
}

__device__ __forceinline__ float unaryDerivative(int op, float x) {
    switch (op) {
        case NEG: return -1.0f;
        case EXP: return expf(x);
        case LOG: return 1.0f / x;
        case SQRT: return 0.5f / sqrtf(x);
        case TANH: { float t = tanhf(x); return 1.0f - t * t; }
        case SIGMOID: { float s = 1.0f / (1.0f + expf(-x)); return s * (1.0f - s); }
        case ABS: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
        case SQUARE: return 2.0f * x;
        case RECIPROCAL: return -1.0f / (x * x);
        case RELU: return x > 0.0f ? 1.0f : 0.0f;
        case SIGN: return 0.0f;
        default: return normalCdf(x) + x * INV_SQRT_2PI * expf(-0.5f * x * x);   // GELU
    }
}

__device__ __forceinline__ float binaryApply(int op, float a, float b) {
    switch (op) {
        case ADD: return a + b;
        case SUB: return a - b;
        case MUL: return a * b;
        case DIV: return a / b;
        case MAX: return (a > b || a != a) ? a : b;   // NaN propagates, as Math.max
        default: return (a < b || a != a) ? a : b;    // MIN
    }
}

extern "C" __global__ void fill_f32(float* out, View ov, float value, long long n) {
    FOR_EACH(i, n) out[at(ov, i)] = value;
}

extern "C" __global__ void copy_f32(const float* src, View sv, float* dst, View dv, long long n) {
    FOR_EACH(i, n) dst[at(dv, i)] = src[at(sv, i)];
}

extern "C" __global__ void unary_f32(int op, const float* x, View xv, float* out, long long n) {
    FOR_EACH(i, n) out[i] = unaryApply(op, x[at(xv, i)]);
}

extern "C" __global__ void unary_backward_f32(int op, const float* x, View xv, const float* dy, View dyv, float* dx,
                                              long long n) {
    FOR_EACH(i, n) dx[i] = dy[at(dyv, i)] * unaryDerivative(op, x[at(xv, i)]);
}

// a and b are read through views of the output's shape whose broadcast dimensions have stride 0.
extern "C" __global__ void binary_f32(int op, const float* a, View av, const float* b, View bv, float* out,
                                      long long n) {
    FOR_EACH(i, n) out[i] = binaryApply(op, a[at(av, i)], b[at(bv, i)]);
}

extern "C" __global__ void affine_f32(const float* x, View xv, float scale, float shift, float* out, long long n) {
    FOR_EACH(i, n) out[i] = fmaf(x[at(xv, i)], scale, shift);
}

// ISTA's shrinkage: out = max(out − threshold, 0), in place.
extern "C" __global__ void shrink_relu_f32(float* out, float threshold, long long n) {
    FOR_EACH(i, n) out[i] = fmaxf(out[i] - threshold, 0.0f);
}

// ISTA backward's gate: g = dout where the forward output was positive, else 0.
extern "C" __global__ void relu_gate_f32(const float* out, const float* dout, View doutv, float* g, long long n) {
    FOR_EACH(i, n) g[i] = out[i] > 0.0f ? dout[at(doutv, i)] : 0.0f;
}

// ---- one launch over many tensors (every parameter of a model): grid (chunks, tensors), block y = table entry ----

// Optimizer steps over a table of parameters (one entry for a single parameter), each starting with the decoupled
// decay w ← decay·w. AdamW as torch.optim.AdamW: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
// w ← w − lr/bc₁ · m / (√v/√bc₂ + ε), with invSqrtBc2 = 1/√bc₂ and stepScale = −lr/bc₁. 48 bytes per entry, written
// by the host as six 64-bit words: four addresses, the length, and the decay's float bits in the low half of the last.
struct AdamWEntry {
    float* w;
    const float* g;
    float* m;
    float* v;
    long long n;
    float decay;
    float unused;
};

extern "C" __global__ void adamw_multi_f32(const AdamWEntry* table, float beta1, float beta2, float eps,
                                           float invSqrtBc2, float stepScale) {
    const AdamWEntry e = table[blockIdx.y];
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < e.n;
         i += (long long) gridDim.x * blockDim.x) {
        float gi = e.g[i];
        float mi = beta1 * e.m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * e.v[i] + (1.0f - beta2) * gi * gi;
        e.m[i] = mi;
        e.v[i] = vi;
        e.w[i] = e.w[i] * e.decay + stepScale * (mi / (sqrtf(vi) * invSqrtBc2 + eps));
    }
}

// A tensor of a table: address and length (two 64-bit words).
struct TensorEntry {
    float* x;
    long long n;
};

// x ← x · factor[0] for every tensor of the table (gradient clipping's scale).
extern "C" __global__ void scale_multi_f32(const TensorEntry* table, const float* factor) {
    const TensorEntry e = table[blockIdx.y];
    float f = factor[0];
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < e.n;
         i += (long long) gridDim.x * blockDim.x) {
        e.x[i] *= f;
    }
}

// Lion (lion-pytorch): w ← w − lr·sign(β₁m + (1−β₁)g), then m ← β₂m + (1−β₂)g; five 64-bit words per entry.
struct LionEntry {
    float* w;
    const float* g;
    float* m;
    long long n;
    float decay;
    float unused;
};

extern "C" __global__ void lion_multi_f32(const LionEntry* table, float lr, float beta1, float beta2) {
    const LionEntry e = table[blockIdx.y];
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < e.n;
         i += (long long) gridDim.x * blockDim.x) {
        float gi = e.g[i], mi = e.m[i];
        float u = beta1 * mi + (1.0f - beta1) * gi;
        float s = u > 0.0f ? 1.0f : (u < 0.0f ? -1.0f : 0.0f);
        e.w[i] = e.w[i] * e.decay - lr * s;
        e.m[i] = beta2 * mi + (1.0f - beta2) * gi;
    }
}

// SGD with momentum μ (b null when μ = 0): b ← μb + g; w ← w − lr·(nesterov ? g + μb : b); five words per entry.
struct SgdEntry {
    float* w;
    const float* g;
    float* b;
    long long n;
    float decay;
    float unused;
};

extern "C" __global__ void sgd_multi_f32(const SgdEntry* table, float lr, float momentum, int nesterov) {
    const SgdEntry e = table[blockIdx.y];
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < e.n;
         i += (long long) gridDim.x * blockDim.x) {
        float gi = e.g[i];
        float d = gi;
        if (e.b != nullptr) {
            float bi = momentum * e.b[i] + gi;
            e.b[i] = bi;
            d = nesterov ? gi + momentum * bi : bi;
        }
        e.w[i] = e.w[i] * e.decay - lr * d;
    }
}

// CPU runtime of the CUDA emulator (see cuda_emu.h): the kernel table, and crate_emu_launch, which runs the blocks
// of a grid one after another, each CUDA thread of a block a fiber. The scheduler runs one warp at a time as far as
// it can go: a fiber runs until it returns from the kernel or waits at a barrier (__syncthreads, or the per-warp
// barrier of __syncwarp and the shuffles); a warp's barrier is released when all its lanes reached it; when no warp
// can go on, the block barrier is released if every thread reached it, else a deadlock is reported.
//
// Fibers are made with makecontext and then switched with _setjmp/_longjmp (the classic portable coroutine recipe):
// swapcontext saves and restores the signal mask with a system call at every switch, which made the switches cost
// ten times more than the kernels' work. A fiber is a loop that runs one CUDA thread per start, so a fiber is
// created once per process (or again after a launch that abandoned it mid-kernel), not once per thread.

// _FORTIFY_SOURCE turns _longjmp into __longjmp_chk, which rejects jumps to another stack: exactly what fibers do.
#undef _FORTIFY_SOURCE
#include "cuda_emu.h"

#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

uint3 threadIdx, blockIdx, blockDim, gridDim;

namespace {

constexpr unsigned maxBlockThreads = 1024;
constexpr unsigned warpLanes = 32;
constexpr std::size_t stackBytes = 64 * 1024;
// Dynamic shared memory gets guard bands like EmulatedDevice's allocations, checked after every block.
constexpr std::size_t sharedGuardBytes = 256;
constexpr unsigned char guardByte = 0xFD;
constexpr std::uint32_t nanBits = 0x7FC00000;   // fills dynamic shared memory, so unwritten values are not zeros

struct Kernel {
    crate_emu::Thunk thunk;
    std::string signature;
    int maxThreads;
};

// A function-local static, so it exists before the Registration objects of the generated sources fill it.
std::map<std::string, Kernel, std::less<>>& kernels() {
    static std::map<std::string, Kernel, std::less<>> table;
    return table;
}

enum class State { Runnable, AtSyncthreads, AtWarpBarrier, Exited };

struct Fiber {
    jmp_buf resumeAt;
    char* stack = nullptr;   // mapped on first use and kept for later launches
    bool parked = false;     // waiting at the top of fiberLoop for a thread to run
    State state;
    uint3 index;
    unsigned linear;         // x + y·blockDim.x + z·blockDim.x·blockDim.y; lane = linear % 32
};

// Everything below belongs to the launch that holds launchMutex.
std::mutex launchMutex;
std::string lastError;

Fiber fibers[maxBlockThreads];
jmp_buf schedulerResumeAt;
Fiber* current;
crate_emu::Thunk launchThunk;
void** launchParams;
unsigned blockThreads;
std::string failure;   // why a fiber could not go on; the scheduler then abandons the launch

// Barrier state of the running block.
unsigned syncArrived;
const char* syncFile;
int syncLine;
unsigned warpArrived[maxBlockThreads / warpLanes];
std::uint64_t exchange[maxBlockThreads];   // each thread's value in the shuffle in progress

// [guard][dynamic shared memory][guard]
unsigned char* sharedBuffer;
std::size_t sharedCapacity;
std::size_t sharedBytes;

std::string blockName() {
    return "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
           std::to_string(blockIdx.z) + ")";
}

std::string site(const char* file, int line) {
    const char* slash = std::strrchr(file, '/');
    return std::string(slash != nullptr ? slash + 1 : file) + ":" + std::to_string(line);
}

// Fiber → scheduler; returns when the scheduler resumes this fiber.
void suspend() {
    if (_setjmp(current->resumeAt) == 0) _longjmp(schedulerResumeAt, 1);
}

// Scheduler → fiber; returns when the fiber suspends.
void resume(Fiber& f) {
    current = &f;
    threadIdx = f.index;
    if (_setjmp(schedulerResumeAt) == 0) _longjmp(f.resumeAt, 1);
}

void waitAs(State state) {
    current->state = state;
    suspend();
}

// Ends the launch from inside a fiber: the scheduler sees the failure and never resumes this fiber.
[[noreturn]] void failFiber(std::string message) {
    failure = std::move(message);
    suspend();
    __builtin_unreachable();
}

void warpBarrier(const char* what, unsigned mask) {
    if (mask != 0xffffffffu) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%08x", mask);
        failFiber(std::string(what) + " with mask " + hex +
                  ": the emulator supports the full-warp mask 0xffffffff only");
    }
    unsigned warp = current->linear / warpLanes;
    if ((warp + 1) * warpLanes > blockThreads) {
        failFiber(std::string(what) + " in " + blockName() + " of " + std::to_string(blockThreads) +
                  " threads: its last warp is partial, and the full-warp mask names lanes that do not exist");
    }
    warpArrived[warp]++;
    waitAs(State::AtWarpBarrier);
}

// The body of every fiber: parks, then runs one CUDA thread of the current launch each time it is resumed.
void fiberLoop() {
    for (;;) {
        current->parked = true;
        suspend();
        current->parked = false;
        launchThunk(launchParams);
        current->state = State::Exited;
    }
}

// Makes fiber t start the kernel from the top at its next resume; false when no stack could be mapped.
bool prepareFiber(unsigned t) {
    Fiber& f = fibers[t];
    if (f.stack == nullptr) {
        std::size_t page = (std::size_t) sysconf(_SC_PAGESIZE);
        void* mapped = mmap(nullptr, stackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                            -1, 0);
        if (mapped == MAP_FAILED) return false;
        mprotect(mapped, page, PROT_NONE);   // a stack overflow faults here instead of corrupting another stack
        f.stack = static_cast<char*>(mapped) + page;
    }
    if (!f.parked) {   // new, or abandoned by a failed launch: start fiberLoop afresh on the stack
        ucontext_t start;
        getcontext(&start);
        start.uc_stack.ss_sp = f.stack;
        start.uc_stack.ss_size = stackBytes;
        start.uc_link = nullptr;   // fiberLoop never returns
        makecontext(&start, fiberLoop, 0);
        current = &f;
        if (_setjmp(schedulerResumeAt) == 0) setcontext(&start);   // comes back when the fiber parks
    }
    f.state = State::Runnable;
    unsigned x = blockDim.x, y = blockDim.y;
    f.index = {t % x, t / x % y, t / (x * y)};
    f.linear = t;
    return true;
}

std::string deadlock(unsigned exited) {
    unsigned atWarp = 0;
    for (unsigned t = 0; t < blockThreads; t++) atWarp += fibers[t].state == State::AtWarpBarrier;
    std::string at = syncArrived > 0 ? " (" + site(syncFile, syncLine) + ")" : "";
    return "deadlock in " + blockName() + " of " + std::to_string(blockThreads) + " threads: " +
           std::to_string(syncArrived) + " wait at __syncthreads" + at + ", " + std::to_string(atWarp) +
           " in a warp shuffle or __syncwarp, " + std::to_string(exited) +
           " returned; every thread of a block must reach each __syncthreads, and every lane of a warp each " +
           "full-warp shuffle";
}

// Runs the current block (blockIdx set) to its end; false, with failure set, when it failed or deadlocked.
bool runBlock() {
    syncArrived = 0;
    std::fill(std::begin(warpArrived), std::end(warpArrived), 0u);
    for (unsigned t = 0; t < blockThreads; t++) {
        if (!prepareFiber(t)) {
            failure = "cannot map a fiber stack for thread " + std::to_string(t);
            return false;
        }
    }
    unsigned exited = 0;
    // Between two __syncthreads the warps run one after another, each as far as it can go (through its own warp
    // barriers), so a warp that reads what another warp writes without a block barrier between sees the data
    // missing. The order alternates: warps and lanes ascending in one round and descending in the next (and the
    // other way round in every other block), so a missing barrier shows whichever way the data flows.
    const unsigned warps = (blockThreads + warpLanes - 1) / warpLanes;
    bool descending = (blockIdx.x + blockIdx.y + blockIdx.z) % 2 == 1;
    for (;; descending = !descending) {
        for (unsigned wi = 0; wi < warps; wi++) {
            unsigned w = descending ? warps - 1 - wi : wi;
            unsigned first = w * warpLanes, lanes = std::min(warpLanes, blockThreads - first);
            for (bool laneDescending = descending;; laneDescending = !laneDescending) {
                bool ran = false;
                for (unsigned i = 0; i < lanes; i++) {
                    Fiber& f = fibers[first + (laneDescending ? lanes - 1 - i : i)];
                    if (f.state != State::Runnable) continue;
                    ran = true;
                    resume(f);
                    if (!failure.empty()) return false;
                    if (f.state == State::Exited) exited++;
                }
                if (lanes == warpLanes && warpArrived[w] == warpLanes) {   // the whole warp met at its barrier
                    warpArrived[w] = 0;
                    for (unsigned i = 0; i < lanes; i++) fibers[first + i].state = State::Runnable;
                    continue;
                }
                if (!ran) break;
            }
        }
        if (exited == blockThreads) return true;
        if (syncArrived == blockThreads) {
            syncArrived = 0;
            for (unsigned t = 0; t < blockThreads; t++) fibers[t].state = State::Runnable;
            continue;
        }
        failure = deadlock(exited);
        return false;
    }
}

bool prepareShared(std::size_t bytes) {
    std::size_t total = bytes + 2 * sharedGuardBytes;
    if (total > sharedCapacity) {
        std::free(sharedBuffer);
        sharedCapacity = (total + 255) / 256 * 256;   // aligned_alloc wants a multiple of the alignment
        sharedBuffer = static_cast<unsigned char*>(std::aligned_alloc(256, sharedCapacity));
        if (sharedBuffer == nullptr) {
            sharedCapacity = 0;
            return false;
        }
    }
    sharedBytes = bytes;
    return true;
}

// Gives the next block NaN-filled dynamic shared memory between intact guards.
void resetShared() {
    std::memset(sharedBuffer, guardByte, sharedGuardBytes);
    unsigned char* data = sharedBuffer + sharedGuardBytes;
    for (std::size_t i = 0; i < sharedBytes; i++) data[i] = (unsigned char) (nanBits >> (8 * (i % 4)));
    std::memset(data + sharedBytes, guardByte, sharedGuardBytes);
}

bool sharedGuardsIntact() {
    const unsigned char* after = sharedBuffer + sharedGuardBytes + sharedBytes;
    for (std::size_t i = 0; i < sharedGuardBytes; i++) {
        if (sharedBuffer[i] != guardByte || after[i] != guardByte) return false;
    }
    return true;
}

// Runs a whole launch; the error, or "" when it succeeded.
std::string launch(const char* name, int gx, int gy, int gz, int bx, int by, int bz, int shared, void** params) {
    auto it = kernels().find(name);
    if (it == kernels().end()) return "unknown kernel: no .cu file compiled into the emulator defines it";
    if (gx < 1 || gy < 1 || gz < 1 || gy > 65535 || gz > 65535) {
        return "grid " + std::to_string(gx) + "×" + std::to_string(gy) + "×" + std::to_string(gz) +
               " is outside 1..2³¹−1 × 1..65535 × 1..65535";
    }
    long long threads = (long long) bx * by * bz;
    if (bx < 1 || by < 1 || bz < 1 || bx > 1024 || by > 1024 || bz > 64 || threads > maxBlockThreads) {
        return "block " + std::to_string(bx) + "×" + std::to_string(by) + "×" + std::to_string(bz) +
               " is not a valid block: at most 1024×1024×64 and 1024 threads";
    }
    if (threads > it->second.maxThreads) {
        return "block of " + std::to_string(threads) + " threads exceeds the kernel's __launch_bounds__(" +
               std::to_string(it->second.maxThreads) + ")";
    }
    if (shared < 0) return "negative dynamic shared memory size " + std::to_string(shared);
    if (!prepareShared((std::size_t) shared)) {
        return "cannot allocate " + std::to_string(shared) + " bytes of dynamic shared memory";
    }

    launchThunk = it->second.thunk;
    launchParams = params;
    blockThreads = (unsigned) threads;
    gridDim = {(unsigned) gx, (unsigned) gy, (unsigned) gz};
    blockDim = {(unsigned) bx, (unsigned) by, (unsigned) bz};
    for (unsigned z = 0; z < gridDim.z; z++) {
        for (unsigned y = 0; y < gridDim.y; y++) {
            for (unsigned x = 0; x < gridDim.x; x++) {
                blockIdx = {x, y, z};
                resetShared();
                if (!runBlock()) return failure;
                if (!sharedGuardsIntact()) {
                    return blockName() + " wrote outside its " + std::to_string(shared) +
                           " bytes of dynamic shared memory";
                }
            }
        }
    }
    return "";
}

}  // namespace

// Kernel names are unique: two .cu files defining the same extern "C" kernel fail to link.
crate_emu::Registration::Registration(std::initializer_list<KernelEntry> entries) {
    for (const KernelEntry& k : entries) kernels().emplace(k.name, Kernel{k.thunk, k.signature, k.maxThreads});
}

extern "C" {

void* crate_emu_dynamic_shared() { return sharedBuffer + sharedGuardBytes; }

void crate_emu_syncthreads(const char* file, int line) {
    if (syncArrived == 0) {
        syncFile = file;
        syncLine = line;
    } else if (line != syncLine || std::strcmp(file, syncFile) != 0) {
        failFiber("threads of " + blockName() + " wait at different __syncthreads: " + site(syncFile, syncLine) +
                  " and " + site(file, line));
    }
    syncArrived++;
    waitAs(State::AtSyncthreads);
}

void crate_emu_syncwarp(unsigned mask) { warpBarrier("__syncwarp", mask); }

void crate_emu_require_aligned(const void* p, int bytes, const char* file, int line) {
    if (reinterpret_cast<std::uintptr_t>(p) % (std::uintptr_t) bytes == 0) return;
    char address[32];
    std::snprintf(address, sizeof address, "%p", p);
    failFiber("misaligned " + std::to_string(bytes) + "-byte access at " + site(file, line) + " in " + blockName() +
              ": address " + address + " (a GPU faults with 'misaligned address')");
}

// Each lane publishes its value, the warp meets, each lane reads its source lane's value, and the warp meets again
// so no lane overwrites its slot (in a next shuffle) before every lane has read it.
std::uint64_t crate_emu_shuffle(unsigned mask, std::uint64_t value, int kind, int lane, int width) {
    static const char* const names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync"};
    const char* name = names[kind];
    if (width < 1 || width > (int) warpLanes || (width & (width - 1)) != 0) {
        failFiber(std::string(name) + " with width " + std::to_string(width) + ": not a power of 2 up to 32");
    }
    unsigned self = current->linear % warpLanes, warpBase = current->linear - self;
    unsigned w = (unsigned) width, segment = self & ~(w - 1);   // the first lane of self's group of width lanes
    unsigned arg = (unsigned) lane;
    // Out-of-group sources read the caller's own value, as on the GPU.
    unsigned src = self;
    switch (kind) {
        case CRATE_EMU_SHFL_IDX: src = segment + arg % w; break;
        case CRATE_EMU_SHFL_UP: if (self - segment >= arg) src = self - arg; break;
        case CRATE_EMU_SHFL_DOWN: if (self - segment + arg < w) src = self + arg; break;
        default: if ((self ^ arg) < segment + w) src = self ^ arg; break;
    }
    exchange[current->linear] = value;
    warpBarrier(name, mask);
    std::uint64_t out = exchange[warpBase + src];
    warpBarrier(name, mask);
    return out;
}

// 0 when the launch ran to its end; otherwise crate_emu_last_error() says why (without the kernel's name).
int crate_emu_launch(const char* kernel, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                     void** params) {
    std::lock_guard<std::mutex> lock(launchMutex);
    failure.clear();
    lastError = launch(kernel, gx, gy, gz, bx, by, bz, sharedBytes, params);
    return lastError.empty() ? 0 : 1;
}

// The error of the last failed launch (callers serialise launch and read; the text lives until the next launch).
const char* crate_emu_last_error() { return lastError.c_str(); }

// The kinds of the kernel's parameters ("ptr,i32,f32", see crate_emu::parameterKind), or null for an unknown name.
const char* crate_emu_signature(const char* kernel) {
    auto it = kernels().find(kernel);
    return it == kernels().end() ? nullptr : it->second.signature.c_str();
}

}  // extern "C"

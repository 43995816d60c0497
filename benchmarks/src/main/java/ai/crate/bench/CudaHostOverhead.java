package ai.crate.bench;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.cuda.CudaBackend;
import ai.crate.cuda.Device;
import ai.crate.cuda.DeviceMemory;
import ai.crate.cuda.KernelArgs;
import ai.crate.engine.Tensor;
import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Param;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * The host side of a CUDA train step, measurable without a GPU: {@link CudaBackend} on a device that only counts
 * (launches do nothing, memory is never touched), so the time per step is what our Java code — autograd, shape
 * checks, the pool, argument packing — costs before any driver call. It bounds the GPU step time from below only
 * if the GPU work is shorter; JCuda's JNI and the driver's own launch cost (a few µs per launch) come on top.
 * Prints kernels per step by name and host time per step.
 *
 * <p>Usage: {@code java ai.crate.bench.CudaHostOverhead [preset] [batch] [steps]} (default cifar-tiny 128 50).
 */
public final class CudaHostOverhead {
    private CudaHostOverhead() {}

    /** Allocations are empty handles; launches and copies are counted, never run (an H100's 227 KiB of shared). */
    static final class CountingDevice implements Device {
        final Map<String, Integer> launches = new TreeMap<>();
        long allocations, uploads, downloads;

        private record Memory(long bytes) implements DeviceMemory {}

        @Override public String description() { return "counting device (no GPU: launches are counted, not run)"; }
        final Map<Long, Integer> allocationSizes = new TreeMap<>();

        @Override public DeviceMemory allocate(long bytes) {
            allocations++;
            allocationSizes.merge(bytes, 1, Integer::sum);
            return new Memory(bytes);
        }
        @Override public void free(DeviceMemory memory) {}
        @Override public long address(DeviceMemory memory, long byteOffset) { return 0x1000 + byteOffset; }
        @Override public long freeBytes() { return Long.MAX_VALUE; }
        @Override public void upload(float[] s, int i, DeviceMemory d, long o, int n) { uploads++; }
        @Override public void upload(int[] s, int i, DeviceMemory d, long o, int n) { uploads++; }
        @Override public void upload(long[] s, int i, DeviceMemory d, long o, int n) { uploads++; }
        @Override public void download(DeviceMemory s, long o, float[] d, int i, int n) { downloads++; }
        @Override public void copy(DeviceMemory s, long so, DeviceMemory d, long dO, long bytes) { launches.merge("memcpy", 1, Integer::sum); }
        @Override public void launch(String kernel, Dim3 grid, Dim3 block, int shared, KernelArgs args) {
            args.values();   // what a real device reads
            launches.merge(kernel, 1, Integer::sum);
        }
        @Override public int maxSharedBytesPerBlock() { return 227 * 1024; }
        @Override public void synchronize() {}
        @Override public void synchronizeAll() {}
        @Override public Object currentQueue() { return this; }
        @Override public void synchronize(Object queue) {}
        @Override public void close() {}
    }

    public static void main(String[] args) {
        String preset = args.length > 0 ? args[0] : "cifar-tiny";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 50;
        CountingDevice device = new CountingDevice();
        CudaBackend be = new CudaBackend(device);
        CrateConfig c = CrateConfig.preset(preset);
        Crate model = new Crate(c, be, 0);
        Tensor images = be.empty(batch, c.channels(), c.imageSize(), c.imageSize());
        int[] labels = new SplittableRandom(2).ints(batch, 0, c.numClasses()).toArray();
        AdamW opt = new AdamW(Param.of(model.namedParameters(), true), 1e-4f, 0.05f);
        Runnable step = () -> {
            opt.zeroGrad();
            Variable loss = F.crossEntropy(model.forward(images), labels, 0f);
            loss.backward();
            opt.clipGradNorm(1f);
            opt.step();
            model.weightsChanged();
            loss.value().item();
            loss.releaseGraph();
        };
        for (int i = 0; i < steps; i++) step.run();   // warm-up: JIT, pool filled
        device.launches.clear();
        device.allocationSizes.clear();
        long allocationsBefore = device.allocations;
        double best = Double.MAX_VALUE;
        for (int round = 0; round < 5; round++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) step.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e3 / steps);
        }
        int total = device.launches.values().stream().mapToInt(Integer::intValue).sum() / (5 * steps);
        System.out.printf("%s batch %d: %d launches per train step (forward, backward, clip, AdamW), host time %.0f µs"
                        + " per step (best of 5 × %d steps), %.2f µs per launch; device allocations in steady state: %d%n",
                preset, batch, total, best, steps, best / total, device.allocations - allocationsBefore);
        device.launches.forEach((k, v) -> System.out.printf("  %-40s %6.1f per step%n", k, v / (5.0 * steps)));
        device.allocationSizes.forEach((k, v) -> System.out.printf("  allocation of %d bytes: %.1f per step%n", k, v / (5.0 * steps)));
    }
}

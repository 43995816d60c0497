package ai.crate.cuda.emu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import ai.crate.cuda.CudaException;
import ai.crate.cuda.Device.Dim3;
import ai.crate.cuda.DeviceMemory;
import ai.crate.cuda.KernelArgs;

/** The emulator itself, through the test kernels of src/test/emu/selftest.cu, checked against plain Java. */
class EmulatorSelfTest {
    private static final int NAN_BITS = 0x7FC00000;

    private EmulatedDevice device;

    @BeforeEach
    void open() { device = new EmulatedDevice(); }

    @AfterEach
    void close() {
        if (device != null) device.close();   // null when the emulator is unavailable and the test was skipped
    }

    // ---- launches and built-ins ---------------------------------------------------------------------------------

    @Test
    void everyThreadSeesItsIndicesIn1d2dAnd3dLaunches() {
        checkIndices(Dim3.of(3), Dim3.of(64));
        checkIndices(Dim3.of(2, 3), Dim3.of(8, 4));
        checkIndices(Dim3.of(2, 2, 3), Dim3.of(4, 2, 3));
    }

    private void checkIndices(Dim3 grid, Dim3 block) {
        int blocks = grid.x() * grid.y() * grid.z(), threads = block.x() * block.y() * block.z();
        DeviceMemory out = device.allocate(6L * 4 * blocks * threads), dims = device.allocate(6 * 4);
        device.launch("emu_record_indices", grid, block, 0, new KernelArgs().ptr(out, 0).ptr(dims, 0));
        int[] records = downloadInts(out, 6 * blocks * threads), launch = downloadInts(dims, 6);

        assertArrayEquals(new int[] {block.x(), block.y(), block.z(), grid.x(), grid.y(), grid.z()}, launch);
        // Thread t of the grid, numbered x fastest: threads within blocks within the grid.
        for (int t = 0; t < blocks * threads; t++) {
            int thread = t % threads, b = t / threads;
            int[] expected = {thread % block.x(), thread / block.x() % block.y(), thread / (block.x() * block.y()),
                              b % grid.x(), b / grid.x() % grid.y(), b / (grid.x() * grid.y())};
            for (int k = 0; k < 6; k++) assertEquals(expected[k], records[6 * t + k], "thread " + t + " value " + k);
        }
    }

    @Test
    void twoDimensionalGridOverhangingItsMatrix() {
        int w = 37, h = 19;
        float[] in = randomInts(w * h, 100, 1);
        DeviceMemory x = upload(in), y = device.allocate(4L * w * h);
        device.launch("emu_scale_2d", Dim3.of(5, 5), Dim3.of(8, 4), 0,
                new KernelArgs().ptr(x, 0).ptr(y, 0).i32(w).i32(h).f32(0.5f));

        float[] expected = new float[w * h];
        for (int r = 0; r < h; r++) for (int c = 0; c < w; c++) expected[r * w + c] = in[r * w + c] * 0.5f + r;
        assertArrayEquals(expected, download(y, w * h));
    }

    @Test
    void blockReductionThroughStaticSharedMemoryAndSyncthreads() {
        int n = 1000, blocks = 4;   // the last block reads 24 values and 232 zeros
        float[] in = randomInts(n, 100, 2);
        DeviceMemory x = upload(in), sums = device.allocate(4L * blocks);
        device.launch("emu_block_sum", Dim3.of(blocks), Dim3.of(256), 0,
                new KernelArgs().ptr(x, 0).ptr(sums, 0).i32(n));

        float[] expected = new float[blocks];
        for (int i = 0; i < n; i++) expected[i / 256] += in[i];
        assertArrayEquals(expected, download(sums, blocks));
    }

    @Test
    void warpSumAndWarpMaxGiveEveryLaneTheWarpsResult() {
        int n = 2 * 64;
        float[] in = randomInts(n, 1000, 3);
        DeviceMemory x = upload(in), sums = device.allocate(4L * n), maxes = device.allocate(4L * n);
        device.launch("emu_warp_reduce", Dim3.of(2), Dim3.of(64), 0,
                new KernelArgs().ptr(x, 0).ptr(sums, 0).ptr(maxes, 0));

        float[] expectedSums = new float[n], expectedMaxes = new float[n];
        for (int warp = 0; warp < n / 32; warp++) {
            float sum = 0, max = Float.NEGATIVE_INFINITY;
            for (int lane = 0; lane < 32; lane++) {
                sum += in[warp * 32 + lane];
                max = Math.max(max, in[warp * 32 + lane]);
            }
            for (int lane = 0; lane < 32; lane++) {
                expectedSums[warp * 32 + lane] = sum;
                expectedMaxes[warp * 32 + lane] = max;
            }
        }
        assertArrayEquals(expectedSums, download(sums, n));   // integers: exact in any summation order
        assertArrayEquals(expectedMaxes, download(maxes, n));
    }

    @Test
    void shuffleVariantsReadTheRightLanes() {
        int n = 64;
        int[] in = new int[n];
        for (int i = 0; i < n; i++) in[i] = 1000 + i * 3;
        DeviceMemory x = device.allocate(4L * n), out = device.allocate(5L * 4 * n);
        device.upload(in, 0, x, 0, n);
        device.launch("emu_shuffles", Dim3.of(1), Dim3.of(n), 0, new KernelArgs().ptr(x, 0).ptr(out, 0));

        int[] expected = new int[5 * n];
        for (int i = 0; i < n; i++) {
            int lane = i % 32, base = i - lane;
            int xor = lane ^ 9;
            expected[5 * i] = in[base + lane * 7 % 32];
            expected[5 * i + 1] = lane >= 3 ? in[i - 3] : in[i];
            expected[5 * i + 2] = lane + 5 < 32 ? in[i + 5] : in[i];
            expected[5 * i + 3] = xor < (lane & ~7) + 8 ? in[base + xor] : in[i];   // a later group of 8: own value
            expected[5 * i + 4] = lane % 16 + 1 < 16 ? in[i + 1] : in[i];
        }
        assertArrayEquals(expected, downloadInts(out, 5 * n));
    }

    @Test
    void dynamicSharedMemoryIsPerBlockAndStartsAsNaN() {
        int threads = 128, blocks = 3, n = threads * blocks;
        float[] in = randomInts(n, 100, 4);
        DeviceMemory x = upload(in), y = device.allocate(4L * n), fresh = device.allocate(4L * n);
        device.launch("emu_reverse_dynamic", Dim3.of(blocks), Dim3.of(threads), 4 * threads,
                new KernelArgs().ptr(x, 0).ptr(y, 0).ptr(fresh, 0));

        float[] expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = in[i - i % threads + threads - 1 - i % threads];
        assertArrayEquals(expected, download(y, n));
        for (float v : download(fresh, n)) assertEquals(NAN_BITS, Float.floatToRawIntBits(v));
    }

    @Test
    void atomicsAccumulateAcrossBlocks() {
        int n = 5000;
        float[] in = randomInts(n, 100, 5);
        for (int i = 0; i < n; i++) in[i] = Math.abs(in[i]);
        DeviceMemory x = upload(in), total = upload(new float[] {0}), counters = device.allocate(8);
        device.upload(new int[] {0, Integer.MIN_VALUE}, 0, counters, 0, 2);
        device.launch("emu_atomics", Dim3.of(7), Dim3.of(128), 0,
                new KernelArgs().ptr(x, 0).i64(n).ptr(total, 0).ptr(counters, 0).ptr(counters, 4));

        float sum = 0, max = 0;
        for (float v : in) {
            sum += v;
            max = Math.max(max, v);
        }
        assertEquals(sum, download(total, 1)[0]);   // integers below 2²⁴: exact
        assertArrayEquals(new int[] {n, (int) max}, downloadInts(counters, 2));
    }

    @Test
    void structsAndLongsArePassedByValue() {
        int rows = 3, cols = 4, n = rows * cols;
        float[] in = randomInts(n, 100, 6);
        DeviceMemory x = upload(in), y = device.allocate(4L * n);
        // The transpose of the row-major rows×cols matrix: a [cols, rows] view with strides (1, cols).
        int[] view = new int[13];
        view[0] = 2;
        view[1] = cols;
        view[2] = rows;
        view[7] = 1;
        view[8] = cols;
        for (int d = 2; d < 6; d++) view[1 + d] = 1;
        device.launch("emu_view_gather", Dim3.of(1), Dim3.of(32), 0,
                new KernelArgs().ptr(x, 0).struct(view).ptr(y, 0).i64(n));

        float[] expected = new float[n];
        for (int c = 0; c < cols; c++) for (int r = 0; r < rows; r++) expected[c * rows + r] = in[r * cols + c];
        assertArrayEquals(expected, download(y, n));
    }

    @Test
    void launchesFromTwoThreadsDoNotInterleave() throws Exception {
        int n = 4096, blocks = n / 256;
        try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
            List<Future<?>> runs = new ArrayList<>();
            for (int worker = 0; worker < 2; worker++) {
                float[] in = randomInts(n, 100, 10 + worker);
                float[] expected = new float[blocks];
                for (int i = 0; i < n; i++) expected[i / 256] += in[i];
                runs.add(pool.submit(() -> {
                    DeviceMemory x = upload(in), sums = device.allocate(4L * blocks);
                    for (int round = 0; round < 20; round++) {
                        device.launch("emu_block_sum", Dim3.of(blocks), Dim3.of(256), 0,
                                new KernelArgs().ptr(x, 0).ptr(sums, 0).i32(n));
                        assertArrayEquals(expected, download(sums, blocks));
                    }
                    return null;
                }));
            }
            for (Future<?> run : runs) run.get();
        }
    }

    // ---- errors -------------------------------------------------------------------------------------------------

    @Test
    void divergentSyncthreadsIsReportedInsteadOfHanging() {
        DeviceMemory out = device.allocate(4 * 64);
        CudaException e = assertThrows(CudaException.class, () -> device.launch("emu_divergent_sync", Dim3.of(1),
                Dim3.of(64), 0, new KernelArgs().ptr(out, 0)));
        assertContains(e, "kernel emu_divergent_sync", "deadlock", "48 wait at __syncthreads (selftest.cu:",
                "16 returned");

        // The device and the runtime's fibers recover: a correct launch runs afterwards.
        blockReductionThroughStaticSharedMemoryAndSyncthreads();
    }

    @Test
    void threadsAtDifferentSyncthreadsAreReported() {
        DeviceMemory out = device.allocate(4 * 64);
        CudaException e = assertThrows(CudaException.class, () -> device.launch("emu_mismatched_sync", Dim3.of(1),
                Dim3.of(64), 0, new KernelArgs().ptr(out, 0)));
        assertContains(e, "kernel emu_mismatched_sync", "different __syncthreads", "selftest.cu:");
    }

    @Test
    void fullWarpShuffleInAPartialWarpIsReported() {
        DeviceMemory x = device.allocate(4 * 48), sums = device.allocate(4 * 48), maxes = device.allocate(4 * 48);
        CudaException e = assertThrows(CudaException.class, () -> device.launch("emu_warp_reduce", Dim3.of(1),
                Dim3.of(48), 0, new KernelArgs().ptr(x, 0).ptr(sums, 0).ptr(maxes, 0)));
        assertContains(e, "kernel emu_warp_reduce", "__shfl_xor_sync", "partial");
    }

    @Test
    void writeOutOfBoundsIsCaughtByTheGuardBand() {
        DeviceMemory out = device.allocate(4 * 10);
        device.launch("emu_write_past_end", Dim3.of(1), Dim3.of(32), 0, new KernelArgs().ptr(out, 0).i32(10));
        CudaException e = assertThrows(CudaException.class, device::synchronize);
        assertContains(e, "kernel emu_write_past_end", "past the end", "40 bytes", "byte offset 40");
        device.synchronize();   // reported once; the guard is repaired

        device.launch("emu_write_past_end", Dim3.of(1), Dim3.of(32), 0, new KernelArgs().ptr(out, 0).i32(10));
        assertThrows(CudaException.class, () -> download(out, 10));
        device.launch("emu_write_past_end", Dim3.of(1), Dim3.of(32), 0, new KernelArgs().ptr(out, 0).i32(10));
        assertContains(assertThrows(CudaException.class, () -> device.free(out)), "emu_write_past_end");
    }

    @Test
    void writePastDynamicSharedMemoryIsCaught() {
        DeviceMemory out = device.allocate(4 * 64);
        CudaException e = assertThrows(CudaException.class, () -> device.launch("emu_shared_overrun", Dim3.of(1),
                Dim3.of(64), 4 * 64, new KernelArgs().ptr(out, 0)));
        assertContains(e, "kernel emu_shared_overrun", "outside its 256 bytes of dynamic shared memory");
    }

    @Test
    void badLaunchesAreRejectedNamingTheKernel() {
        DeviceMemory x = device.allocate(4 * 256), sums = device.allocate(4);
        KernelArgs args = new KernelArgs().ptr(x, 0).ptr(sums, 0).i32(256);
        assertContains(assertThrows(CudaException.class, () -> device.launch("no_such_kernel", Dim3.of(1), Dim3.of(32),
                0, args)), "kernel no_such_kernel", "unknown kernel");
        assertContains(assertThrows(CudaException.class, () -> device.launch("emu_block_sum", Dim3.of(1), Dim3.of(32),
                0, new KernelArgs().ptr(x, 0).ptr(sums, 0).i64(256))),
                "kernel emu_block_sum takes (ptr, ptr, i32) but was launched with (ptr, ptr, i64)");
        assertContains(assertThrows(CudaException.class, () -> device.launch("emu_block_sum", Dim3.of(1),
                Dim3.of(1025), 0, args)), "kernel emu_block_sum", "1025×1×1");
        assertContains(assertThrows(CudaException.class, () -> device.launch("emu_block_sum", Dim3.of(1),
                Dim3.of(256), 48 * 1024 + 4, args)), "kernel emu_block_sum", "49156 bytes of dynamic shared memory");
        device.launch("emu_bounded", Dim3.of(1), Dim3.of(64), 0, new KernelArgs().ptr(x, 0));
        assertContains(assertThrows(CudaException.class, () -> device.launch("emu_bounded", Dim3.of(1), Dim3.of(65),
                0, new KernelArgs().ptr(x, 0))), "kernel emu_bounded", "65 threads", "__launch_bounds__(64)");
        assertContains(assertThrows(CudaException.class, () -> device.launch("emu_block_sum", Dim3.of(1),
                Dim3.of(256), 0, new KernelArgs().ptr(x, 4 * 256 + 4).ptr(sums, 0).i32(256))), "argument 0");

        try (EmulatedDevice small = new EmulatedDevice(1024)) {
            assertEquals(1024, small.maxSharedBytesPerBlock());
            DeviceMemory in = small.allocate(4 * 256), out = small.allocate(4 * 256), fresh = small.allocate(4 * 256);
            assertContains(assertThrows(CudaException.class, () -> small.launch("emu_reverse_dynamic", Dim3.of(1),
                    Dim3.of(512), 2048, new KernelArgs().ptr(in, 0).ptr(out, 0).ptr(fresh, 0))),
                    "kernel emu_reverse_dynamic", "2048 bytes", "0 to 1024");
        }
    }

    // ---- memory -------------------------------------------------------------------------------------------------

    @Test
    void uploadsAndDownloadsRoundTripBitForBit() {
        float[] floats = {1.5f, -0.0f, Float.MIN_VALUE, Float.intBitsToFloat(0x7FC00123), Float.NEGATIVE_INFINITY};
        int[] ints = {0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 42};
        long[] longs = {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 40};
        DeviceMemory memory = device.allocate(64);

        device.upload(floats, 1, memory, 8, 4);   // at an offset, from an offset
        float[] floatsBack = new float[6];
        device.download(memory, 8, floatsBack, 2, 4);
        for (int i = 0; i < 4; i++) {
            assertEquals(Float.floatToRawIntBits(floats[1 + i]), Float.floatToRawIntBits(floatsBack[2 + i]));
        }
        device.upload(ints, 0, memory, 4, 5);
        int[] intsBack = new int[5];
        device.download(memory, 4, intsBack, 0, 5);
        assertArrayEquals(ints, intsBack);
        device.upload(longs, 0, memory, 24, 5);
        long[] longsBack = new long[5];
        device.download(memory, 24, longsBack, 0, 5);
        assertArrayEquals(longs, longsBack);

        DeviceMemory other = device.allocate(64);
        device.copy(memory, 24, other, 0, 40);
        device.download(other, 0, longsBack, 0, 5);
        assertArrayEquals(longs, longsBack);
    }

    @Test
    void newMemoryHoldsNaNsAndRangesAreChecked() {
        DeviceMemory memory = device.allocate(40);
        assertEquals(40, memory.bytes());
        for (int bits : downloadInts(memory, 10)) assertEquals(NAN_BITS, bits);

        assertThrows(CudaException.class, () -> device.upload(new float[11], 0, memory, 0, 11));
        assertThrows(CudaException.class, () -> device.download(memory, 4, new float[10], 0, 10));
        assertThrows(CudaException.class, () -> device.copy(memory, 0, memory, 8, 36));
        device.free(memory);
        assertContains(assertThrows(CudaException.class, () -> download(memory, 1)), "not live memory");
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    /** Whole numbers in ±bound as floats, so every sum in these tests is exact in any order. */
    private static float[] randomInts(int n, int bound, long seed) {
        Random random = new Random(seed);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = random.nextInt(2 * bound + 1) - bound;
        return values;
    }

    private DeviceMemory upload(float[] values) {
        DeviceMemory memory = device.allocate(4L * values.length);
        device.upload(values, 0, memory, 0, values.length);
        return memory;
    }

    private float[] download(DeviceMemory memory, int count) {
        float[] values = new float[count];
        device.download(memory, 0, values, 0, count);
        return values;
    }

    private int[] downloadInts(DeviceMemory memory, int count) {
        int[] values = new int[count];
        device.download(memory, 0, values, 0, count);
        return values;
    }

    private static void assertContains(Throwable e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "\"" + part + "\" not in: " + e.getMessage());
        }
    }
}

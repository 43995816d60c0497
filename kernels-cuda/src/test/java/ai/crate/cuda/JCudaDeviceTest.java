package ai.crate.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.BackendProvider;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@link JCudaDevice} on a real GPU: memory, transfers through the pinned staging ring, device copies, errors.
 * Skipped, with the probe's reason printed, where CUDA is unavailable. Kernel launches are tested with the backend.
 * The staging ring's bookkeeping is pure Java and is tested everywhere.
 */
class JCudaDeviceTest {
    private static JCudaDevice device;
    private static boolean skipReported;

    private static JCudaDevice device() {
        BackendProvider.Probe probe = new CudaBackendProvider().probe();
        if (!probe.available()) {
            if (!skipReported) System.out.println("JCudaDeviceTest: GPU tests skipped: " + probe.reason());
            skipReported = true;
            Assumptions.abort(probe.reason());
        }
        synchronized (JCudaDeviceTest.class) {
            if (device == null) {
                device = JCudaDevice.open(CudaBackendProvider.ordinal());
                System.out.println("JCudaDeviceTest on " + device.description());
            }
            return device;
        }
    }

    @AfterAll
    static void close() {
        if (device != null) device.close();
        device = null;
    }

    private static float[] ramp(int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = i * scale - 3.5f;
        return a;
    }

    @Test
    void describesTheDevice() {
        JCudaDevice d = device();
        String s = d.description();
        assertTrue(s.matches(".+ \\(sm_\\d+, \\d+\\.\\d GiB, driver CUDA \\d+\\.\\d\\)"), s);
        assertTrue(d.maxSharedBytesPerBlock() >= JCudaDevice.DEFAULT_SHARED_LIMIT, "" + d.maxSharedBytesPerBlock());
        assertTrue(d.freeBytes() > 0);
    }

    @Test
    void floatsRoundTrip() {
        JCudaDevice d = device();
        float[] src = ramp(10_001, 0.25f);
        DeviceMemory m = d.allocate(src.length * 4L);
        try {
            d.upload(src, 0, m, 0, src.length);
            float[] back = new float[src.length];
            d.download(m, 0, back, 0, back.length);
            assertArrayEquals(src, back);
            // Offsets on both sides.
            d.upload(src, 100, m, 4L * 7, 50);
            float[] part = new float[60];
            d.download(m, 4L * 5, part, 3, 54);
            for (int i = 0; i < 54; i++) {
                float expected = (i >= 2 && i < 52) ? src[100 + i - 2] : src[5 + i];
                assertEquals(expected, part[3 + i], "element " + i);
            }
        } finally {
            d.free(m);
        }
    }

    @Test
    void intsAndLongsKeepTheirBits() {
        JCudaDevice d = device();
        int[] ints = {0, 1, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 0x7fc00001, 123456789};
        long[] longs = {0L, -1L, Long.MIN_VALUE, Long.MAX_VALUE, 0x0123456789abcdefL};
        DeviceMemory m = d.allocate(64);
        try {
            d.upload(ints, 0, m, 0, ints.length);
            float[] f = new float[ints.length];
            d.download(m, 0, f, 0, f.length);
            for (int i = 0; i < ints.length; i++) assertEquals(ints[i], Float.floatToRawIntBits(f[i]), "int " + i);
            d.upload(longs, 0, m, 8, longs.length);
            float[] g = new float[longs.length * 2];
            d.download(m, 8, g, 0, g.length);
            for (int i = 0; i < longs.length; i++) {
                long lo = Float.floatToRawIntBits(g[2 * i]) & 0xffffffffL;
                long hi = Float.floatToRawIntBits(g[2 * i + 1]) & 0xffffffffL;
                assertEquals(longs[i], lo | hi << 32, "long " + i);   // little-endian
            }
        } finally {
            d.free(m);
        }
    }

    @Test
    void largerThanTheStagingBufferGoesInChunks() {
        JCudaDevice d = device();
        int n = (70 << 20) / 4 + 3;   // 70 MiB + 12 bytes: more than the 64 MiB ring
        float[] src = ramp(n, 1e-3f);
        DeviceMemory m = d.allocate(n * 4L);
        try {
            d.upload(src, 0, m, 0, n);
            float[] back = new float[n];
            d.download(m, 0, back, 0, n);
            assertArrayEquals(src, back);
        } finally {
            d.free(m);
        }
    }

    @Test
    void manySmallUploadsWithoutWaitingLandWhereTheyShould() {
        JCudaDevice d = device();
        int chunks = 3000, len = 700;   // ~8 MiB through the ring: it wraps, and hits the in-flight cap
        DeviceMemory m = d.allocate((long) chunks * len * 4);
        try {
            float[] block = new float[len];
            for (int c = 0; c < chunks; c++) {
                Arrays.fill(block, c);          // the array is reused at once: the upload must have copied it
                d.upload(block, 0, m, (long) c * len * 4, len);
            }
            float[] back = new float[chunks * len];
            d.download(m, 0, back, 0, back.length);
            for (int c = 0; c < chunks; c++) assertEquals(c, back[c * len + len - 1], "chunk " + c);
            for (int i = 0; i < back.length; i++) if (back[i] != i / len) throw new AssertionError("element " + i);
        } finally {
            d.free(m);
        }
    }

    @Test
    void deviceToDeviceCopy() {
        JCudaDevice d = device();
        float[] src = ramp(1000, 2f);
        DeviceMemory a = d.allocate(4000), b = d.allocate(4000);
        try {
            d.upload(src, 0, a, 0, 1000);
            d.upload(new float[1000], 0, b, 0, 1000);
            d.copy(a, 4 * 10, b, 4 * 500, 4 * 300);
            float[] back = new float[1000];
            d.download(b, 0, back, 0, 1000);
            for (int i = 0; i < 1000; i++) {
                assertEquals(i >= 500 && i < 800 ? src[i - 490] : 0f, back[i], "element " + i);
            }
            assertThrows(IllegalArgumentException.class, () -> d.copy(a, 0, a, 8, 100));
            assertThrows(IndexOutOfBoundsException.class, () -> d.copy(a, 0, b, 3000, 1004));
        } finally {
            d.free(a);
            d.free(b);
        }
    }

    @Test
    void outOfMemorySaysWhatWasAskedAndWhatIsFree() {
        JCudaDevice d = device();
        CudaException e = assertThrows(CudaException.class, () -> d.allocate(1L << 50));   // 1 PiB
        System.out.println("OOM message: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("out of device memory: asked 1073741824.0 MiB, free "), e.getMessage());
        assertTrue(e.getMessage().contains(" MiB of ") && e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"),
                e.getMessage());
        DeviceMemory ok = d.allocate(1 << 20);   // the device still works
        d.free(ok);
    }

    @Test
    void misuseIsRefusedBeforeTheDriverSeesIt() {
        JCudaDevice d = device();
        DeviceMemory m = d.allocate(40);
        assertThrows(IndexOutOfBoundsException.class, () -> d.upload(new float[11], 0, m, 0, 11));
        assertThrows(IndexOutOfBoundsException.class, () -> d.upload(new float[4], 0, m, 28, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> d.download(m, -4, new float[2], 0, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> d.upload(new float[4], 2, m, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> d.allocate(-1));
        DeviceMemory empty = d.allocate(0);
        assertEquals(0, empty.bytes());
        d.free(empty);
        d.free(m);
        assertThrows(IllegalStateException.class, () -> d.free(m));
        assertThrows(IllegalStateException.class, () -> d.upload(new float[1], 0, m, 0, 1));
        CudaException e = assertThrows(CudaException.class,
                () -> d.launch("no_such_kernel", Device.Dim3.of(1), Device.Dim3.of(32), 0, new KernelArgs()));
        assertTrue(e.getMessage().contains("unknown kernel 'no_such_kernel'"), e.getMessage());
        for (String module : KernelImage.load().modules()) assertTrue(e.getMessage().contains(module), e.getMessage());
    }

    @Test
    void eachThreadHasItsOwnQueue() throws Exception {
        JCudaDevice d = device();
        Object mine = d.currentQueue();
        assertSame(mine, d.currentQueue());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Object>> queues = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                queues.add(pool.submit(() -> {
                    float[] src = ramp(100_000 + seed, seed + 1f);
                    DeviceMemory m = d.allocate(src.length * 4L);
                    for (int rep = 0; rep < 20; rep++) {
                        d.upload(src, 0, m, 0, src.length);
                        float[] back = new float[src.length];
                        d.download(m, 0, back, 0, back.length);
                        assertArrayEquals(src, back);
                    }
                    d.free(m);
                    return d.currentQueue();
                }));
            }
            Set<Object> distinct = new HashSet<>();
            for (Future<Object> f : queues) {
                Object q = f.get();
                assertNotSame(mine, q);
                distinct.add(q);
                d.synchronize(q);   // another thread's queue, from this one
            }
            assertEquals(4, distinct.size());
        } finally {
            pool.shutdown();
        }
        assertThrows(IllegalArgumentException.class, () -> d.synchronize("not a queue"));
    }

    @Test
    void closeIsIdempotentAndFinal() {
        device();
        JCudaDevice second = JCudaDevice.open(CudaBackendProvider.ordinal());   // shares the primary context
        DeviceMemory m = second.allocate(16);
        second.close();
        second.close();
        assertThrows(IllegalStateException.class, () -> second.allocate(16));
        second.free(m);   // a no-op after close
        // The first device (same primary context, still retained) keeps working.
        DeviceMemory n = device().allocate(16);
        device().upload(new float[] {1, 2, 3, 4}, 0, n, 0, 4);
        float[] back = new float[4];
        device().download(n, 0, back, 0, 4);
        assertArrayEquals(new float[] {1, 2, 3, 4}, back);
        device().free(n);
    }

    // ---- staging ring bookkeeping: no GPU needed ---------------------------------------------------------------------

    /**
     * A simulated stream completes copies in order, only when waited for or at random: whatever the sizes, a range
     * handed out never overlaps one whose copy has not completed, is aligned, and fits the ring.
     */
    @Test
    void stagingRingNeverHandsOutARangeACopyStillUses() {
        Random rnd = new Random(42);
        for (int trial = 0; trial < 200; trial++) {
            long capacity = 1024L * (1 + rnd.nextInt(64));
            JCudaDevice.StagingRing<Integer> ring = new JCudaDevice.StagingRing<>(64);
            ring.reset(capacity);
            List<long[]> pending = new ArrayList<>();   // {start, end, event}, in queue order
            int[] completed = {-1};                       // events ≤ this are done
            List<Integer> done = new ArrayList<>();
            int next = 0;
            for (int op = 0; op < 500; op++) {
                if (rnd.nextInt(4) == 0) completed[0] = Math.max(completed[0], next - 1 - rnd.nextInt(3));
                long bytes = rnd.nextInt(5) == 0 ? capacity : 1 + rnd.nextInt((int) Math.min(capacity, 3000));
                long start = ring.reserve(bytes, e -> completed[0] = Math.max(completed[0], e), done::add);
                assertEquals(0, start % 64, "aligned");
                assertTrue(start >= 0 && start + bytes <= capacity, "fits: " + start + "+" + bytes + " in " + capacity);
                for (long[] r : pending) {
                    boolean busy = r[2] > completed[0];
                    boolean overlaps = r[0] < start + bytes && start < r[1];
                    assertFalse(busy && overlaps, "trial " + trial + " op " + op + ": [" + start + ", " + (start + bytes)
                            + ") overlaps the queued copy [" + r[0] + ", " + r[1] + ") of event " + r[2]);
                }
                for (int e : done) assertTrue(e <= completed[0], "event " + e + " handed back before it completed");
                done.clear();
                ring.queued(start, bytes, next);
                pending.add(new long[] {start, start + bytes, next});
                pending.removeIf(r -> r[2] <= completed[0] && rnd.nextBoolean());
                next++;
            }
        }
    }

    @Test
    void stagingRingDrainsAndResets() {
        JCudaDevice.StagingRing<String> ring = new JCudaDevice.StagingRing<>(256);
        ring.reset(4096);
        ring.queued(ring.reserve(100, e -> { }, e -> { }), 100, "a");
        long b = ring.reserve(100, e -> { }, e -> { });
        assertEquals(256, b);
        ring.queued(b, 100, "b");
        assertEquals("a", ring.oldest());
        assertEquals("b", ring.newest());
        assertThrows(IllegalStateException.class, () -> ring.reset(8192));
        List<String> drained = new ArrayList<>();
        ring.drain(drained::add);
        assertEquals(List.of("a", "b"), drained);
        assertEquals(0, ring.inFlight());
        assertEquals(0, ring.reserve(4096, e -> { throw new AssertionError(); }, e -> { throw new AssertionError(); }));
        assertThrows(IllegalArgumentException.class, () -> ring.reserve(4097, e -> { }, e -> { }));
    }
}

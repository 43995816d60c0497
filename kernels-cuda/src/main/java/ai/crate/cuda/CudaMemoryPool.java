package ai.crate.cuda;

import ai.crate.cuda.CudaBackend.Storage;
import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CUDA backend's device memory: released storage waits in a pool keyed by length for the next allocation of that
 * length, so a training loop in steady state asks the driver for nothing. Storage whose every view became unreachable
 * without a release comes back through the garbage collector (device memory is not Java heap: nothing else would
 * ever free it). When the driver runs out, the pool is emptied and the allocation retried once.
 */
final class CudaMemoryPool {
    private static final System.Logger LOG = System.getLogger(CudaBackend.class.getName());   // the backend's log

    /** One daemon thread for every pool: it only moves unreachable allocations onto a queue. */
    private static final Cleaner CLEANER = Cleaner.create();

    /** Pooled memory and the queue that released it, which may still be using it. */
    private record Pooled(DeviceMemory memory, Object queue) {}

    private final Device device;
    private final Map<Long, ArrayDeque<Pooled>> pool = new HashMap<>();
    /** Allocations whose tensors the collector found unreachable without a release. */
    private final ConcurrentLinkedQueue<Storage.Handle> unreachable = new ConcurrentLinkedQueue<>();
    private final AtomicLong reclaimed = new AtomicLong(), fromDevice = new AtomicLong();
    private volatile boolean closed;

    CudaMemoryPool(Device device) { this.device = device; }

    /** Storage of {@code floats} elements (at least 1), from the pool when it holds that length, else the device. */
    Storage allocate(long floats) {
        Storage s = new Storage(take(floats), floats);
        Storage.Handle h = s.handle();
        ConcurrentLinkedQueue<Storage.Handle> queue = unreachable;   // the action must not reach the Storage
        CLEANER.register(s, () -> { if (h.returned().compareAndSet(false, true)) queue.add(h); });
        return s;
    }

    /** Pools {@code s} for a later allocation of its length; false when it went back already. */
    boolean release(Storage s) {
        if (!s.handle().returned().compareAndSet(false, true)) return false;
        synchronized (pool) {
            pool.computeIfAbsent(s.floats(), k -> new ArrayDeque<>()).addLast(new Pooled(s.memory(), device.currentQueue()));
        }
        return true;
    }

    private DeviceMemory take(long floats) {
        reclaimUnreachable();
        synchronized (pool) {
            ArrayDeque<Pooled> q = pool.get(floats);
            Pooled p = q == null ? null : q.pollLast();
            if (p != null) {
                // Released on another thread's queue: that queue may still be using it.
                if (p.queue() != device.currentQueue()) device.synchronize(p.queue());
                return p.memory();
            }
        }
        long bytes = floats * Float.BYTES;
        fromDevice.incrementAndGet();
        try {
            return device.allocate(bytes);
        } catch (CudaOutOfMemoryException outOfMemory) {
            // Tensors dropped without release hold device memory until the collector finds them: ask for a
            // collection, give the cleaner a moment, then empty the pool and try once more.
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            reclaimUnreachable();
            long freed = emptyPool();
            LOG.log(Level.INFO, "device allocation of {0} bytes failed; freed {1} bytes of pooled and unreachable "
                    + "tensors, retrying once", bytes, freed);
            return device.allocate(bytes);
        }
    }

    /**
     * Pools the allocations the collector found unreachable. Their last use may be queued on any thread's stream,
     * so one device-wide synchronisation comes first (collections are rare: one wait per batch of them).
     */
    private void reclaimUnreachable() {
        if (unreachable.isEmpty() || closed) return;
        device.synchronizeAll();
        Object queue = device.currentQueue();
        int n = 0;
        synchronized (pool) {
            for (Storage.Handle h; (h = unreachable.poll()) != null; n++) {
                pool.computeIfAbsent(h.floats(), k -> new ArrayDeque<>()).addLast(new Pooled(h.memory(), queue));
            }
        }
        reclaimed.addAndGet(n);
        LOG.log(Level.DEBUG, "{0} device allocations of unreachable tensors back in the pool", n);
    }

    long allocationsFromDevice() { return fromDevice.get(); }

    long reclaimedByCollector() { return reclaimed.get(); }

    /** Frees every pooled allocation; returns how many bytes went back to the driver. */
    long emptyPool() {
        long bytes = 0;
        synchronized (pool) {
            for (ArrayDeque<Pooled> q : pool.values()) {
                for (Pooled p : q) {
                    bytes += p.memory().bytes();
                    device.free(p.memory());
                }
            }
            pool.clear();
        }
        return bytes;
    }

    /** Frees the pooled memory and stops reclaiming: the device is about to close. */
    void close() {
        closed = true;
        emptyPool();
    }
}

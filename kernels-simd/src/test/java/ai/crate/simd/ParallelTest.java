package ai.crate.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;

class ParallelTest {

    @Test
    void everyIndexRunsExactlyOnceAcrossManyJobs() {
        try (Parallel p = new Parallel(3)) {
            for (int count : new int[] {1, 2, 3, 7, 64, 1000}) {
                for (int job = 0; job < 200; job++) {
                    AtomicIntegerArray hits = new AtomicIntegerArray(count);
                    p.forEach(count, hits::incrementAndGet);
                    for (int i = 0; i < count; i++) assertEquals(1, hits.get(i), "index " + i + " of " + count);
                }
            }
        }
    }

    @Test
    void workersReallyShareTheWork() throws InterruptedException {
        try (Parallel p = new Parallel(2)) {
            AtomicReference<String> other = new AtomicReference<>();
            String caller = Thread.currentThread().getName();
            // Each task waits long enough for the second thread to pick up the other one.
            p.forEach(2, i -> {
                if (!Thread.currentThread().getName().equals(caller)) other.set(Thread.currentThread().getName());
                long until = System.nanoTime() + 20_000_000;
                while (System.nanoTime() < until && other.get() == null) Thread.onSpinWait();
            });
            assertTrue(other.get() != null && other.get().startsWith("crate-simd-"), "no worker took a task");
        }
    }

    @Test
    void theFirstFailureIsRethrownAfterAllTasksFinish() {
        try (Parallel p = new Parallel(2)) {
            LongAdder finished = new LongAdder();
            IllegalStateException boom = new IllegalStateException("task 5 failed");
            IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> p.forEach(50, i -> {
                if (i == 5) throw boom;
                finished.increment();
            }));
            assertSame(boom, thrown);
            assertEquals(49, finished.sum());
            // and the pool still works afterwards
            LongAdder again = new LongAdder();
            p.forEach(10, i -> again.increment());
            assertEquals(10, again.sum());
        }
    }

    @Test
    void nestedAndConcurrentCallsCompleteInline() throws Exception {
        try (Parallel p = new Parallel(2)) {
            LongAdder inner = new LongAdder();
            p.forEach(4, i -> p.forEach(5, j -> inner.increment()));
            assertEquals(20, inner.sum());

            LongAdder total = new LongAdder();
            Runnable caller = () -> {
                for (int k = 0; k < 300; k++) p.forEach(8, i -> total.increment());
            };
            Thread a = new Thread(caller), b = new Thread(caller);
            a.start();
            b.start();
            a.join(30_000);
            b.join(30_000);
            assertEquals(2 * 300 * 8, total.sum());
        }
    }

    @Test
    void badThreadCountsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new Parallel(0));
        String old = System.getProperty(Parallel.THREADS_PROPERTY);
        try {
            System.setProperty(Parallel.THREADS_PROPERTY, "two");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Parallel::defaultThreads);
            assertTrue(e.getMessage().contains("crate.threads=two"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty(Parallel.THREADS_PROPERTY);
            else System.setProperty(Parallel.THREADS_PROPERTY, old);
        }
    }
}

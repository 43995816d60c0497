package ai.crate.model.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The background thread: batches built ahead on it, failures carried to the caller, and the thread's end. */
class BatchIteratorTest {
    private static final long WAIT_MS = 10_000;

    private static Batch batchOf(int step) {
        return new Batch(new float[] {step}, new int[] {step}, 1, 0, step);
    }

    private static void assertEnds(Thread t) throws InterruptedException {
        assertNotNull(t);
        t.join(WAIT_MS);
        assertFalse(t.isAlive(), t.getName() + " still running");
    }

    @Test
    void theNextBatchIsBuiltAheadOnAnotherThread() throws Exception {
        CountDownLatch secondBuilt = new CountDownLatch(1);
        Thread caller = Thread.currentThread();
        AtomicBoolean builtOnCaller = new AtomicBoolean();
        IntFunction<Batch> build = step -> {
            if (Thread.currentThread() == caller) builtOnCaller.set(true);
            if (step == 1) secondBuilt.countDown();
            return batchOf(step);
        };
        try (BatchIterator it = new BatchIterator(build, 0, 3, "test")) {
            assertEquals(0, it.next().stepInEpoch());
            assertTrue(secondBuilt.await(WAIT_MS, TimeUnit.MILLISECONDS), "step 1 should be built before it is asked");
            assertEquals(1, it.next().stepInEpoch());
            assertEquals(2, it.next().stepInEpoch());
            assertFalse(it.hasNext());
            assertThrows(NoSuchElementException.class, it::next);
            assertEnds(it.workerThread()); // run to the end: the thread stops without close
        }
        assertFalse(builtOnCaller.get());
    }

    @Test
    void aFailureInTheBackgroundSurfacesWithItsCause() throws Exception {
        ArithmeticException boom = new ArithmeticException("boom");
        BatchIterator it = new BatchIterator(step -> {
            if (step == 2) throw boom;
            return batchOf(step);
        }, 0, 5, "fashion-mnist/train epoch 3");
        it.next();
        it.next();
        IllegalStateException e = assertThrows(IllegalStateException.class, it::next);
        assertEquals(boom, e.getCause());
        assertTrue(e.getMessage().contains("fashion-mnist/train epoch 3: building the batch of step 2 failed"),
                e.getMessage());
        assertFalse(it.hasNext());
        assertEnds(it.workerThread());
    }

    @Test
    void closingStopsTheThreadEvenMidBatch() throws Exception {
        CountDownLatch building = new CountDownLatch(1);
        AtomicBoolean interrupted = new AtomicBoolean();
        BatchIterator it = new BatchIterator(step -> {
            if (step == 1) {
                building.countDown();
                try {
                    new CountDownLatch(1).await(); // a build that would never finish
                } catch (InterruptedException e) {
                    interrupted.set(true);
                    throw new RuntimeException(e);
                }
            }
            return batchOf(step);
        }, 0, 10, "test");
        it.next();
        assertTrue(building.await(WAIT_MS, TimeUnit.MILLISECONDS));
        it.close();
        assertEnds(it.workerThread());
        assertTrue(interrupted.get());
        assertFalse(it.hasNext());
        NoSuchElementException e = assertThrows(NoSuchElementException.class, it::next);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        it.close(); // idempotent
    }

    @Test
    void anAbandonedIteratorsThreadEndsOnceIdle() throws Exception {
        ImageDataset data = ImageDataset.of("tiny", DataFiles.pixels(8, 1, 2, 2), IntStream.range(0, 8).toArray(),
                1, 2, 2, 8, List.of());
        BatchLoader loader = new BatchLoader(data, 2, true, false, Augmentation.none(), Normalization.none(), 1);
        Thread worker = abandonAfterOneBatch(loader);
        assertEnds(worker); // within IDLE_SECONDS of building the prefetched batch
    }

    private static Thread abandonAfterOneBatch(BatchLoader loader) {
        BatchIterator it = loader.epoch(0, 0);
        it.next();
        Thread worker = it.workerThread();
        assertTrue(worker.isDaemon(), "a loader thread must not keep the JVM alive");
        assertNotEquals(Thread.currentThread(), worker);
        return worker;
    }

    @Test
    void anEmptyRangeStartsNoThread() {
        try (BatchIterator it = new BatchIterator(BatchIteratorTest::batchOf, 4, 4, "test")) {
            assertFalse(it.hasNext());
            assertEquals(null, it.workerThread());
        }
    }

    @Test
    void interruptingTheCallerClosesAndKeepsTheFlag() throws Exception {
        CountDownLatch never = new CountDownLatch(1);
        BatchIterator it = new BatchIterator(step -> {
            try {
                never.await();
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
            return batchOf(step);
        }, 0, 2, "test");
        Thread.currentThread().interrupt();
        IllegalStateException e = assertThrows(IllegalStateException.class, it::next);
        assertInstanceOf(InterruptedException.class, e.getCause());
        assertTrue(Thread.interrupted()); // the flag was kept; this clears it for the next test
        assertEnds(it.workerThread());
    }
}

package ai.crate.model.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * The batches of steps start..end-1 of one epoch, each built on a background daemon thread while the caller works on
 * the one before. Close it to stop the thread early; an iterator that is run to the end or simply dropped needs no
 * closing: its thread exits once idle for {@value #IDLE_SECONDS} s. A failure while building a batch is thrown from
 * {@link #next()} as an IllegalStateException whose cause is the original exception. One thread consumes it.
 */
public final class BatchIterator implements Iterator<Batch>, AutoCloseable {
    static final long IDLE_SECONDS = 1;
    private static final AtomicLong IDS = new AtomicLong();

    private final IntFunction<Batch> build;
    private final int end;
    private final String what;
    private final ThreadPoolExecutor worker;
    private volatile Thread workerThread;
    private Future<Batch> pending;
    private int step;
    private boolean closed;

    /** {@code build} makes the batch of one step, on the background thread; {@code what} names the epoch. */
    BatchIterator(IntFunction<Batch> build, int start, int end, String what) {
        this.build = build;
        this.end = end;
        this.what = what;
        this.step = start;
        String threadName = "crate-batches-" + IDS.incrementAndGet();
        worker = new ThreadPoolExecutor(1, 1, IDLE_SECONDS, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), task -> {
            Thread t = new Thread(task, threadName);
            t.setDaemon(true); // never keeps the JVM alive
            workerThread = t;
            return t;
        });
        worker.allowCoreThreadTimeOut(true);
        prefetch();
    }

    @Override
    public boolean hasNext() { return !closed && step < end; }

    @Override
    public Batch next() {
        if (!hasNext()) throw new NoSuchElementException(what + (closed ? ": iterator closed" : ": no more steps"));
        Batch batch;
        try {
            batch = pending.get();
        } catch (ExecutionException e) {
            close();
            throw new IllegalStateException(what + ": building the batch of step " + step
                    + " failed on the loader thread: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IllegalStateException(what + ": interrupted waiting for the batch of step " + step, e);
        }
        step++;
        prefetch();
        return batch;
    }

    /** Stops the background thread: it ends as soon as the batch it may be building is done. Idempotent. */
    @Override
    public void close() {
        closed = true;
        if (pending != null) pending.cancel(true);
        worker.shutdownNow();
    }

    /** The thread that builds batches, or null before it started; for tests that check it ends. */
    Thread workerThread() { return workerThread; }

    private void prefetch() {
        if (step < end) {
            int s = step;
            pending = worker.submit(() -> build.apply(s));
        } else {
            pending = null;
            worker.shutdown(); // nothing more to build: the thread ends now rather than after the idle time
        }
    }
}

package ai.crate.simd;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * The SIMD backend's own threads (never the common pool), sized to the available processors unless
 * {@code crate.threads} or the constructor says otherwise. The calling thread works too and tasks are handed out
 * dynamically through a shared counter.
 *
 * <p>Hand-off is the cost that matters: kernels are often a few hundred microseconds, and waking a parked thread
 * through an executor's queue took ~50 µs here. So workers spin for {@link #SPIN_NANOS} after each job, watching a
 * volatile job generation, before they park; a new job then starts on every thread within a microsecond or so.
 *
 * <p>A call made from inside a task runs inline, so nesting cannot deadlock; a call from a second application thread
 * while the pool is busy also runs inline rather than waiting.
 */
public final class Parallel implements AutoCloseable {
    public static final String THREADS_PROPERTY = "crate.threads";
    /** How long an idle worker watches for the next job before parking. */
    static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(200);
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

    private final int threads;
    private final Worker[] workers;
    private final ReentrantLock submit = new ReentrantLock();
    private volatile Job job;
    private volatile long generation;
    private volatile boolean closed;

    public Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("thread count must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker();
            Thread t = new Thread(workers[i], "crate-simd-" + (i + 1));
            t.setDaemon(true);
            workers[i].thread = t;
            t.start();
        }
    }

    /** Threads from {@code crate.threads}, else the available processors. */
    public static int defaultThreads() {
        String p = System.getProperty(THREADS_PROPERTY);
        if (p != null && !p.isBlank()) {
            try {
                int n = Integer.parseInt(p.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw new IllegalArgumentException("-D" + THREADS_PROPERTY + "=" + p + " is not a positive integer");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public int threads() { return threads; }

    /** Runs body(0..count-1), each index once, across the workers and the calling thread; rethrows the first failure. */
    public void forEach(int count, IntConsumer body) {
        if (count <= 0) return;
        if (count == 1 || workers.length == 0 || INSIDE.get() || closed || !submit.tryLock()) {
            for (int i = 0; i < count; i++) body.accept(i);
            return;
        }
        try {
            Job j = new Job(count, body);
            job = j;
            generation++;                          // volatile write publishes the job, then wake parked workers
            for (Worker w : workers) if (w.parked) LockSupport.unpark(w.thread);
            INSIDE.set(true);
            try {
                j.work();
            } finally {
                INSIDE.set(false);
            }
            while (j.completed.get() < count) Thread.onSpinWait();   // workers are mid-task: microseconds
            job = null;
            if (j.failure instanceof RuntimeException e) throw e;
            if (j.failure instanceof Error e) throw e;
        } finally {
            submit.unlock();
        }
    }

    /** Work below this many elements stays on the calling thread: handing it off costs more than it saves. */
    public static final int PARALLEL_ELEMENTS = 1 << 16;

    /**
     * Runs body over rows [0, rows), each {@code width} elements wide: on the calling thread when there are fewer
     * than {@link #PARALLEL_ELEMENTS} elements in all, else in chunks of at least a quarter of that across threads.
     */
    public void forRows(int rows, int width, RangeBody body) {
        int w = Math.max(width, 1);
        if ((long) rows * w < PARALLEL_ELEMENTS) body.run(0, rows);
        else forRange(rows, Math.max(1, PARALLEL_ELEMENTS / 4 / w), body);
    }

    /** Splits [0, n) into about {@code parts} contiguous chunks and runs body(start, end) for each in parallel. */
    public void forRange(int n, int minChunk, RangeBody body) {
        int parts = Math.max(1, Math.min(threads * 4, n / Math.max(minChunk, 1)));
        int chunk = (n + parts - 1) / parts;
        forEach(parts, p -> {
            int start = p * chunk, end = Math.min(n, start + chunk);
            if (start < end) body.run(start, end);
        });
    }

    @FunctionalInterface
    public interface RangeBody { void run(int start, int end); }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) LockSupport.unpark(w.thread);
    }

    /** One forEach call: indices are claimed through {@code next}; {@code completed} counts finished ones. */
    private static final class Job {
        final int count;
        final IntConsumer body;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger completed = new AtomicInteger();
        volatile Throwable failure;

        Job(int count, IntConsumer body) {
            this.count = count;
            this.body = body;
        }

        void work() {
            for (int i; (i = next.getAndIncrement()) < count; ) {
                try {
                    body.accept(i);
                } catch (Throwable t) {
                    if (failure == null) failure = t;
                } finally {
                    completed.incrementAndGet();
                }
            }
        }
    }

    private final class Worker implements Runnable {
        Thread thread;
        volatile boolean parked;

        @Override
        public void run() {
            INSIDE.set(true);
            long seen = 0;
            while (!closed) {
                long g = generation;
                if (g != seen) {
                    seen = g;
                    Job j = job;
                    if (j != null) j.work();
                    continue;
                }
                long spinUntil = System.nanoTime() + SPIN_NANOS;
                while (generation == seen && !closed && System.nanoTime() < spinUntil) Thread.onSpinWait();
                if (generation == seen && !closed) {
                    parked = true;                 // volatile write, then re-read generation: no lost wake-up
                    if (generation == seen && !closed) LockSupport.park(this);
                    parked = false;
                }
            }
        }
    }
}

package ai.crate.simd;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The SIMD backend's own thread pool (never the common pool), sized to the available processors unless
 * {@code crate.threads} or the constructor says otherwise. The calling thread works too, tasks are handed out
 * dynamically (a shared counter), and a call made from inside a task runs inline so nesting cannot deadlock.
 */
public final class Parallel implements AutoCloseable {
    public static final String THREADS_PROPERTY = "crate.threads";
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

    private final int threads;
    private final ExecutorService pool;

    public Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("thread count must be >= 1, got " + threads);
        this.threads = threads;
        AtomicInteger id = new AtomicInteger();
        this.pool = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "crate-simd-" + id.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** Threads from {@code crate.threads}, else the available processors. */
    public static int defaultThreads() {
        String p = System.getProperty(THREADS_PROPERTY);
        if (p != null && !p.isBlank()) {
            try {
                int n = Integer.parseInt(p.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
            throw new IllegalArgumentException("-D" + THREADS_PROPERTY + "=" + p + " is not a positive integer");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public int threads() { return threads; }

    /** Runs body(0..count-1), each index once, across the pool and the calling thread; rethrows the first failure. */
    public void forEach(int count, IntConsumer body) {
        if (count <= 0) return;
        if (count == 1 || threads == 1 || INSIDE.get()) {
            for (int i = 0; i < count; i++) body.accept(i);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Runnable worker = () -> {
            boolean was = INSIDE.get();
            INSIDE.set(true);
            try {
                for (int i; (i = next.getAndIncrement()) < count; ) body.accept(i);
            } finally {
                INSIDE.set(was);
            }
        };
        int helpers = Math.min(threads, count) - 1;
        List<Future<?>> futures = new ArrayList<>(helpers);
        for (int h = 0; h < helpers; h++) futures.add(pool.submit(worker));
        Throwable failure = null;
        try {
            worker.run();
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error err) throw err;
        if (failure != null) throw new IllegalStateException("parallel task interrupted", failure);
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
        if (pool != null) pool.shutdownNow();
    }
}

package ai.crate.model.dist;

import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

/**
 * N "processes" as N threads of one JVM, for tests of data-parallel code without MPI: each rank's collective
 * posts its array, waits for the others, and sums all of them in rank order (so every rank gets the same bits).
 */
public final class ThreadCollective implements Collective {
    private final int rank;
    private final Shared shared;

    private static final class Shared {
        final int size;
        final CyclicBarrier posted, read;
        final Object[] slots;

        Shared(int size) {
            this.size = size;
            posted = new CyclicBarrier(size);
            read = new CyclicBarrier(size);
            slots = new Object[size];
        }
    }

    private ThreadCollective(int rank, Shared shared) {
        this.rank = rank;
        this.shared = shared;
    }

    /** What one rank does with its collective. */
    public interface RankBody<T> {
        T call(Collective collective) throws Exception;
    }

    /** Runs {@code body} on {@code size} threads, each with its rank's collective; returns their results by rank. */
    public static <T> List<T> run(int size, RankBody<T> body) throws Exception {
        Shared shared = new Shared(size);
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = IntStream.range(0, size)
                    .mapToObj(r -> pool.submit(() -> body.call(new ThreadCollective(r, shared)))).toList();
            List<T> out = new java.util.ArrayList<>();
            for (Future<T> f : futures) out.add(f.get());
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Override
    public int rank() { return rank; }

    @Override
    public int size() { return shared.size; }

    @Override
    public String describe() { return "threads, rank " + rank + " of " + shared.size; }

    private void await(CyclicBarrier b) {
        try {
            b.await();
        } catch (InterruptedException | BrokenBarrierException e) {
            throw new IllegalStateException("rank " + rank + ": " + e, e);
        }
    }

    @Override
    public void allReduceSum(float[] data, int offset, int length) {
        float[] mine = java.util.Arrays.copyOfRange(data, offset, offset + length);
        shared.slots[rank] = mine;
        await(shared.posted);
        for (int i = 0; i < length; i++) {
            float s = 0;
            for (int r = 0; r < shared.size; r++) s += ((float[]) shared.slots[r])[i];
            data[offset + i] = s;
        }
        await(shared.read);
    }

    @Override
    public void allReduceSum(double[] data) {
        shared.slots[rank] = data.clone();
        await(shared.posted);
        for (int i = 0; i < data.length; i++) {
            double s = 0;
            for (int r = 0; r < shared.size; r++) s += ((double[]) shared.slots[r])[i];
            data[i] = s;
        }
        await(shared.read);
    }

    @Override
    public void broadcast(float[] data, int offset, int length, int root) {
        shared.slots[rank] = java.util.Arrays.copyOfRange(data, offset, offset + length);
        await(shared.posted);
        System.arraycopy((float[]) shared.slots[root], 0, data, offset, length);
        await(shared.read);
    }

    @Override
    public void barrier() {
        await(shared.posted);
        await(shared.read);
    }

    @Override
    public void abort(int code) { throw new IllegalStateException("abort(" + code + ") on rank " + rank); }

    @Override
    public void close() {}
}

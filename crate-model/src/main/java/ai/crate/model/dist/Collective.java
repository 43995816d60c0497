package ai.crate.model.dist;

/**
 * The collective operations data-parallel training needs, over {@link #size()} processes that all call the same
 * operations in the same order. {@link SingleProcess} is the one-process case; {@code crate-mpi} binds Open MPI.
 * Arrays are the caller's; an implementation stages them through its own buffers.
 */
public interface Collective extends AutoCloseable {
    /** This process's index, 0..size-1; rank 0 writes files and prints. */
    int rank();

    int size();

    /** What runs underneath, for logs: "single process", "Open MPI 4.1.4, rank 1 of 2", … */
    String describe();

    /** Sums {@code data[offset..offset + length)} over every process, in place, on every process. */
    void allReduceSum(float[] data, int offset, int length);

    /** Sums {@code data} over every process, in place (counters and metrics). */
    void allReduceSum(double[] data);

    /** Rank {@code root}'s {@code data[offset..offset + length)} into every process's. */
    void broadcast(float[] data, int offset, int length, int root);

    /** Waits until every process has called it. */
    void barrier();

    /**
     * Ends every process of the job with {@code code}, now: the way out when this one cannot go on, so that the
     * others do not wait forever in a collective. Does not return for more than one process.
     */
    void abort(int code);

    /** Leaves the job (MPI_Finalize); idempotent. */
    @Override
    void close();
}

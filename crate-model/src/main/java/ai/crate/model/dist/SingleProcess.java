package ai.crate.model.dist;

/** One process: every collective is the identity. */
public final class SingleProcess implements Collective {
    public static final SingleProcess INSTANCE = new SingleProcess();

    private SingleProcess() {}

    @Override
    public int rank() { return 0; }

    @Override
    public int size() { return 1; }

    @Override
    public String describe() { return "single process"; }

    @Override
    public void allReduceSum(float[] data, int offset, int length) { java.util.Objects.checkFromIndexSize(offset, length, data.length); }

    @Override
    public void allReduceSum(double[] data) {}

    @Override
    public void broadcast(float[] data, int offset, int length, int root) {
        java.util.Objects.checkFromIndexSize(offset, length, data.length);
        if (root != 0) throw new IllegalArgumentException("broadcast root " + root + " of a single process");
    }

    @Override
    public void barrier() {}

    @Override
    public void abort(int code) {}

    @Override
    public void close() {}
}

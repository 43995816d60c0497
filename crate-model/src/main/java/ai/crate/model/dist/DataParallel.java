package ai.crate.model.dist;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Data-parallel training's two exchanges over a {@link Collective}, for a model's parameters in registration order
 * (the same on every process): rank 0's weights to everyone at the start, and after every backward the gradients
 * summed over the processes and divided by their number — each process's loss being the mean over its equal share
 * of the global batch, that is the gradient of the global batch's mean loss. Gradients are staged through one host
 * array allocated here (copied out of and back into the backend's tensors) and exchanged in buckets of
 * {@code bucketFloats}, so a step allocates nothing. Counts the time and bytes of the exchanges.
 */
public final class DataParallel {
    /** 4 MiB of floats per collective call: large enough to amortise latency, small enough to stage cheaply. */
    public static final int DEFAULT_BUCKET_FLOATS = 1 << 20;

    private final List<String> names;
    private final List<Variable> params;
    private final Collective collective;
    private final int bucketFloats;
    private final float[] staging;
    private final int[] offsets;
    private long exchanges;
    private long nanos;
    private long bytes;

    public DataParallel(Map<String, Variable> parameters, Collective collective, int bucketFloats) {
        if (bucketFloats < 1) throw new IllegalArgumentException("bucket of " + bucketFloats + " floats");
        this.names = new ArrayList<>(parameters.keySet());
        this.params = new ArrayList<>(parameters.values());
        this.collective = collective;
        this.bucketFloats = bucketFloats;
        offsets = new int[params.size() + 1];
        for (int i = 0; i < params.size(); i++) {
            long next = offsets[i] + params.get(i).value().size();
            if (next > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("more than 2^31 parameters");
            offsets[i + 1] = (int) next;
        }
        staging = new float[offsets[params.size()]];
    }

    public Collective collective() { return collective; }

    /** Every process takes rank 0's weights (a resumed or freshly initialised model alike). */
    public void broadcastWeights() {
        for (int i = 0; i < params.size(); i++) backend(i).copyToHost(params.get(i).value(), staging, offsets[i]);
        long start = System.nanoTime();
        for (int off = 0; off < staging.length; off += bucketFloats) {
            collective.broadcast(staging, off, Math.min(bucketFloats, staging.length - off), 0);
        }
        nanos += System.nanoTime() - start;
        for (int i = 0; i < params.size(); i++) backend(i).copyFromHost(staging, offsets[i], params.get(i).value());
    }

    /** Replaces every gradient by its mean over the processes. Every parameter must have one. */
    public void averageGradients() {
        for (int i = 0; i < params.size(); i++) {
            Tensor g = params.get(i).grad();
            if (g == null) {
                throw new IllegalStateException("parameter '" + names.get(i) + "' has no gradient: data-parallel "
                        + "training exchanges every parameter's gradient every step, so every parameter must be used");
            }
            backend(i).copyToHost(g, staging, offsets[i]);
        }
        long start = System.nanoTime();
        for (int off = 0; off < staging.length; off += bucketFloats) {
            collective.allReduceSum(staging, off, Math.min(bucketFloats, staging.length - off));
        }
        nanos += System.nanoTime() - start;
        exchanges++;
        bytes += 4L * staging.length;
        float scale = 1f / collective.size();
        for (int i = 0; i < staging.length; i++) staging[i] *= scale;
        for (int i = 0; i < params.size(); i++) backend(i).copyFromHost(staging, offsets[i], params.get(i).grad());
    }

    /**
     * Throws unless every process holds the same weights, bit for bit: a 48-bit hash of the weights' bits, summed
     * over the processes in two exact halves, equals the process count times this one's. Cheap (one pass over the
     * weights, one tiny exchange); the trainer checks at the end of every epoch and of the run.
     */
    public void verifyReplicas() {
        for (int i = 0; i < params.size(); i++) backend(i).copyToHost(params.get(i).value(), staging, offsets[i]);
        long h = 0x9E3779B97F4A7C15L;
        for (float v : staging) h = (h ^ Float.floatToRawIntBits(v)) * 0x100000001B3L;
        h ^= h >>> 29;
        double[] halves = {h & 0xFFFFFF, (h >>> 24) & 0xFFFFFF};
        double[] mine = halves.clone();
        collective.allReduceSum(halves);
        int n = collective.size();
        if (halves[0] != n * mine[0] || halves[1] != n * mine[1]) {
            throw new IllegalStateException("the processes' weights differ (rank " + collective.rank() + " of " + n
                    + "): data-parallel replicas went out of step");
        }
    }

    private Backend backend(int i) { return params.get(i).value().backend(); }

    /** Gradient exchanges so far. */
    public long exchanges() { return exchanges; }

    /** Seconds spent inside the collectives (broadcast included), excluding the host staging copies. */
    public double seconds() { return nanos / 1e9; }

    /** Gradient bytes each process contributed, summed over the exchanges. */
    public long bytes() { return bytes; }

    /** Floats exchanged per step: the parameter count. */
    public int floatsPerStep() { return staging.length; }
}

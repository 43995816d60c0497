package ai.crate.mpi;

import java.util.Arrays;

/**
 * Run under mpirun by {@link OpenMpiTest}: each rank checks the collectives against what they must give and prints
 * one line "rank R of N ok …", or fails with a message (and a non-zero exit through MPI_Abort).
 */
public final class MpiSmoke {
    public static void main(String[] args) {
        try (OpenMpi mpi = OpenMpi.init()) {
            int r = mpi.rank(), n = mpi.size();
            // more floats than one staging buffer, so the pieces are exercised too
            int length = (1 << 20) + 37;
            float[] data = new float[length + 5];
            for (int i = 0; i < length; i++) data[5 + i] = (r + 1) * (i % 1000) * 0.5f;
            mpi.allReduceSum(data, 5, length);
            float ranks = n * (n + 1) / 2f;
            for (int i = 0; i < length; i++) {
                if (data[5 + i] != ranks * (i % 1000) * 0.5f) fail(mpi, "allReduceSum float at " + i + ": " + data[5 + i]);
            }
            if (data[0] != 0) fail(mpi, "allReduceSum wrote outside its range");
            double[] counts = {r, 1, 1e15 + r};
            mpi.allReduceSum(counts);
            if (counts[1] != n || counts[0] != n * (n - 1) / 2.0) fail(mpi, "allReduceSum double: " + Arrays.toString(counts));
            float[] weights = new float[3000];
            if (r == 0) for (int i = 0; i < weights.length; i++) weights[i] = i * 0.25f - 7;
            mpi.broadcast(weights, 0, weights.length, 0);
            for (int i = 0; i < weights.length; i++) if (weights[i] != i * 0.25f - 7) fail(mpi, "broadcast at " + i);
            mpi.barrier();
            if (args.length > 0 && args[0].equals("raise") && r == n - 1) {
                System.err.println("rank " + r + ": raising on purpose");
                mpi.abort(7);
            }
            System.out.println("rank " + r + " of " + n + " ok: " + mpi.describe());
        }
    }

    private static void fail(OpenMpi mpi, String why) {
        System.err.println("rank " + mpi.rank() + ": " + why);
        mpi.abort(3);
    }
}

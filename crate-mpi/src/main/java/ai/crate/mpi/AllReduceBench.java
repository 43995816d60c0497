package ai.crate.mpi;

import java.util.Arrays;
import java.util.Locale;

/**
 * The all-reduce of one gradient exchange in isolation, under mpirun: {@code mpirun -np 2 java -cp crate-cli.jar
 * ai.crate.mpi.AllReduceBench FLOATS [RUNS]} prints rank 0's median time per all-reduce of FLOATS floats (a barrier
 * before each, so it is the transfer, not the wait for a slower rank) and the bus bandwidth 2(N−1)/N · bytes / time.
 */
public final class AllReduceBench {
    private AllReduceBench() {}

    public static void main(String[] args) {
        int floats = Integer.parseInt(args[0]);
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        try (OpenMpi mpi = OpenMpi.init()) {
            float[] data = new float[floats];
            Arrays.fill(data, mpi.rank() + 1);
            double[] seconds = new double[runs];
            for (int warm = 0; warm < 5; warm++) mpi.allReduceSum(data, 0, floats);
            for (int r = 0; r < runs; r++) {
                mpi.barrier();
                long t = System.nanoTime();
                mpi.allReduceSum(data, 0, floats);
                seconds[r] = (System.nanoTime() - t) / 1e9;
            }
            Arrays.sort(seconds);
            double median = seconds[runs / 2];
            int n = mpi.size();
            if (mpi.rank() == 0) {
                System.out.printf(Locale.ROOT, "%s: all-reduce of %,d floats (%.2f MB): median %.3f ms over %d runs, "
                                + "bus bandwidth %.2f GB/s%n", mpi.describe(), floats, 4e-6 * floats, 1e3 * median, runs,
                        2.0 * (n - 1) / n * 4.0 * floats / median / 1e9);
            }
        }
    }
}

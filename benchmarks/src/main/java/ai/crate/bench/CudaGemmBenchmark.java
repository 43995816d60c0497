package ai.crate.bench;

import ai.crate.cuda.CublasProbe;
import ai.crate.cuda.CudaBackend;
import ai.crate.cuda.JCudaDevice;
import ai.crate.engine.Tensor;
import java.util.Optional;

/**
 * GEMM GFLOP/s of {@link CudaBackend} on a GPU, and of cuBLAS (through JCublas) beside it where cuBLAS loads. Not a
 * JMH benchmark: GPU work is asynchronous, so each figure is calls timed between two device synchronisations,
 * repeated until at least half a second has passed, best of three. One JSON line per shape and implementation, the
 * format of {@code benchmarks/peer/gemm_peer_cuda.py} (PyTorch's cuBLAS), so the two tabulate together.
 *
 * <p>Usage: {@code java ai.crate.bench.CudaGemmBenchmark [--trans NN|NT|TN|TT] SHAPE...}, SHAPE = BxMxKxN or MxKxN.
 */
public final class CudaGemmBenchmark {
    private CudaGemmBenchmark() {}

    public static void main(String[] args) {
        String trans = "NN";
        java.util.List<String> shapes = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--trans")) trans = args[++i];
            else shapes.add(args[i]);
        }
        if (shapes.isEmpty()) {
            shapes = java.util.List.of("1024x1024x1024", "2048x2048x2048", "4096x4096x4096", "8192x8192x8192",
                    "16640x384x384", "16640x384x1152", "768x197x64x197", "768x197x197x64");
        }
        if (!trans.matches("[NT][NT]")) throw new IllegalArgumentException("--trans must be NN, NT, TN or TT");
        boolean ta = trans.charAt(0) == 'T', tb = trans.charAt(1) == 'T';
        JCudaDevice device = JCudaDevice.open(0);
        CudaBackend be = new CudaBackend(device);
        Optional<CublasProbe> cublas = CublasProbe.tryLoad(device);
        if (cublas.isEmpty()) {
            System.err.println("cuBLAS through JCublas: " + CublasProbe.availability().reason());
        }
        for (String shape : shapes) {
            int[] d = Shapes.parse(shape);
            int batch = d[0], m = d[1], k = d[2], n = d[3];
            Tensor a = be.empty(ta ? new int[] {batch, k, m} : new int[] {batch, m, k});
            Tensor b = be.empty(tb ? new int[] {batch, n, k} : new int[] {batch, k, n});
            Tensor c = be.empty(batch, m, n);
            be.randomNormal(a, 1, 0f, 1f);
            be.randomNormal(b, 2, 0f, 1f);
            double flops = 2.0 * batch * m * k * n;
            print(device, shape, trans, "crate", flops / bestSeconds(be, () -> be.gemm(1f, a, ta, b, tb, 0f, c)));
            if (cublas.isPresent() && batch == 1) {
                CublasProbe cb = cublas.get();
                var ma = ((CudaBackend.Storage) a.storage()).memory();
                var mb = ((CudaBackend.Storage) b.storage()).memory();
                var mc = ((CudaBackend.Storage) c.storage()).memory();
                print(device, shape, trans, "cublas-jcublas", flops / bestSeconds(be,
                        () -> cb.sgemmRowMajor(ta, tb, m, n, k, 1f, ma, 0, mb, 0, 0f, mc, 0)));
            }
            be.release(a);
            be.release(b);
            be.release(c);
        }
        cublas.ifPresent(CublasProbe::close);
    }

    /** Seconds per call: calls between synchronisations until ≥ 0.5 s, best of three rounds after a warm-up. */
    private static double bestSeconds(CudaBackend be, Runnable call) {
        for (int i = 0; i < 3; i++) call.run();
        be.synchronize();
        double best = Double.MAX_VALUE;
        for (int round = 0; round < 3; round++) {
            int calls = 0;
            long t0 = System.nanoTime(), t;
            do {
                call.run();
                calls++;
                if (calls % 8 == 0) be.synchronize();
                t = System.nanoTime();
            } while (calls % 8 != 0 || t - t0 < 500_000_000L);
            be.synchronize();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9 / calls);
        }
        return best;
    }

    private static void print(JCudaDevice device, String shape, String trans, String impl, double flopsPerSecond) {
        System.out.printf("{\"shape\": \"%s\", \"trans\": \"%s\", \"impl\": \"%s\", \"gflops\": %.1f, \"device\": \"%s\"}%n",
                shape, trans, impl, flopsPerSecond / 1e9, device.description().replace("\"", "'"));
    }
}

package ai.crate.model.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.TestBackends;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Param;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Whole training steps on the CUDA backend follow the CPU's loss curve: every tensor of the step (patch embedding,
 * MSSA, ISTA, norms, loss, gradients, fused AdamW) stays on the device and only the loss comes back. On the kernels'
 * CPU emulator a small CRATE trains 20 steps; on a real GPU fmnist-small trains 200 steps beside the SIMD backend.
 * The data is synthetic but learnable (a fixed pattern per class plus noise), so the loss falls and the curves
 * have something to follow.
 */
class CudaTrainingTest {

    /** Class-pattern images: pattern[label] + 0.5·noise, the same for every backend. */
    static float[][] syntheticBatches(CrateConfig c, int steps, int batch, int[][] labels) {
        int pixels = c.channels() * c.imageSize() * c.imageSize();
        SplittableRandom r = new SplittableRandom(11);
        float[][] patterns = new float[c.numClasses()][pixels];
        for (float[] p : patterns) for (int i = 0; i < pixels; i++) p[i] = (float) r.nextGaussian();
        float[][] images = new float[steps][batch * pixels];
        for (int s = 0; s < steps; s++) {
            for (int b = 0; b < batch; b++) {
                int label = r.nextInt(c.numClasses());
                labels[s][b] = label;
                for (int i = 0; i < pixels; i++) {
                    images[s][b * pixels + i] = patterns[label][i] + 0.5f * (float) r.nextGaussian();
                }
            }
        }
        return images;
    }

    /** The loss of each step of AdamW training from the seed-0 initialisation. */
    static double[] lossCurve(Backend be, CrateConfig c, int steps, int batch, float lr) {
        int[][] labels = new int[steps][batch];
        float[][] images = syntheticBatches(c, steps, batch, labels);
        Crate model = new Crate(c, be, 0);
        AdamW opt = new AdamW(Param.of(model.namedParameters(), false), lr, 0.05f);
        double[] losses = new double[steps];
        for (int s = 0; s < steps; s++) {
            Tensor x = be.fromArray(images[s], batch, c.channels(), c.imageSize(), c.imageSize());
            opt.zeroGrad();
            Variable loss = F.crossEntropy(model.forward(x), labels[s], 0.1f);
            loss.backward();
            opt.step();
            model.weightsChanged();
            losses[s] = loss.value().item();
            loss.releaseGraph();
            be.release(x);
        }
        return losses;
    }

    static double[] movingMean(double[] v, int window) {
        double[] out = new double[v.length - window + 1];
        for (int i = 0; i < out.length; i++) {
            for (int j = 0; j < window; j++) out[i] += v[i + j] / window;
        }
        return out;
    }

    static void assertFollows(double[] expected, double[] actual, double rtol, String what) {
        for (int s = 0; s < expected.length; s++) {
            assertTrue(Math.abs(actual[s] - expected[s]) <= rtol * Math.abs(expected[s]),
                    what + ": step " + s + " loss " + actual[s] + " vs CPU " + expected[s]);
        }
        assertTrue(expected[expected.length - 1] < 0.8 * expected[0],
                what + ": the CPU loss did not fall (" + expected[0] + " → " + expected[expected.length - 1] + ")");
    }

    @Test
    void emulatedCudaTrainingFollowsTheCpuLossCurve() {
        CrateConfig c = CrateConfig.of(8, 3, 2, 32, 2, 4, 5);   // 17 tokens, 4 heads of width 8
        double[] cpu = lossCurve(TestBackends.named("reference"), c, 20, 6, 5e-3f);
        double[] cuda = lossCurve(TestBackends.named("cuda-emulated"), c, 20, 6, 5e-3f);
        assertFollows(cpu, cuda, 1e-4, "emulated CUDA, 20 steps");
    }

    /** After a warm-up, steps with clipping and AdamW take every buffer from the pool: none from the device. */
    @Test
    void steadyStateStepsAllocateNothingOnTheDevice() {
        ai.crate.cuda.CudaBackend be = (ai.crate.cuda.CudaBackend) TestBackends.named("cuda-emulated");
        CrateConfig c = CrateConfig.of(8, 3, 2, 32, 2, 4, 5);
        int steps = 6, batch = 6;
        int[][] labels = new int[steps][batch];
        float[][] images = syntheticBatches(c, steps, batch, labels);
        Crate model = new Crate(c, be, 0);
        AdamW opt = new AdamW(Param.of(model.namedParameters(), false), 1e-3f, 0.05f);
        long afterWarmUp = 0;
        for (int s = 0; s < steps; s++) {
            if (s == 3) afterWarmUp = be.allocationsFromDevice();
            Tensor x = be.fromArray(images[s], batch, c.channels(), c.imageSize(), c.imageSize());
            opt.zeroGrad();
            Variable loss = F.crossEntropy(model.forward(x), labels[s], 0.1f);
            loss.backward();
            opt.clipGradNorm(1f);
            opt.step();
            model.weightsChanged();
            loss.value().item();
            loss.releaseGraph();
            be.release(x);
        }
        assertTrue(be.allocationsFromDevice() == afterWarmUp, (be.allocationsFromDevice() - afterWarmUp)
                + " device allocations in 3 steady-state steps: something is dropped instead of released");
    }

    /** ISTA's backward allocates only the gradients asked for: with a constant input, no dx is made (and lost). */
    @Test
    void istaBackwardAllocatesOnlyTheGradientsAsked() {
        ai.crate.cuda.CudaBackend be = (ai.crate.cuda.CudaBackend) TestBackends.named("cuda-emulated");
        Tensor xv = be.empty(2, 5, 8), dv = be.empty(8, 8);
        be.randomNormal(xv, 1, 0f, 1f);
        be.randomNormal(dv, 2, 0f, 0.3f);
        Variable x = Variable.constant(xv), dict = Variable.parameter(dv);
        long afterWarmUp = 0;
        for (int s = 0; s < 6; s++) {
            if (s == 3) afterWarmUp = be.allocationsFromDevice();
            Variable loss = F.sum(F.ista(x, dict, 0.1f, 0.1f));
            loss.backward();
            loss.value().item();
            loss.releaseGraph();
            dict.zeroGrad();
        }
        assertTrue(be.allocationsFromDevice() == afterWarmUp, (be.allocationsFromDevice() - afterWarmUp)
                + " device allocations in 3 steady-state steps: a gradient nobody asked for was made and dropped");
    }

    @Test
    void gpuTrainingOfFmnistSmallFollowsTheCpuLossCurveFor200Steps() {
        Backend gpu = TestBackends.named("cuda");   // skips with the probe's reason without a GPU
        CrateConfig c = CrateConfig.preset("fmnist-small");
        double[] cpu;
        try (ai.crate.simd.SimdBackend simd = new ai.crate.simd.SimdBackend()) {   // every core of the GPU host
            cpu = lossCurve(simd, c, 200, 128, 1e-3f);
        }
        double[] cuda = lossCurve(gpu, c, 200, 128, 1e-3f);
        // float rounding differs between the backends and training amplifies it step by step, so the curves are
        // compared smoothed (10-step means) rather than step by step: within 3 % everywhere
        assertFollows(movingMean(cpu, 10), movingMean(cuda, 10), 3e-2, "CUDA on " + gpu + ", fmnist-small, 200 steps");
        System.out.printf("fmnist-small 200 steps: CPU loss %.4f → %.4f, CUDA %.4f → %.4f%n", cpu[0], cpu[199],
                cuda[0], cuda[199]);
    }
}

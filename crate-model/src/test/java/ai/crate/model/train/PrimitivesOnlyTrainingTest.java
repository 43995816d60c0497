package ai.crate.model.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.PrimitivesOnlyBackend;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Optimizer;
import ai.crate.model.optim.Param;
import org.junit.jupiter.api.Test;

/**
 * A backend that implements only the primitive ops trains CRATE: fmnist-small on {@link PrimitivesOnlyBackend}
 * (every fused op composed from primitives) follows the reference backend's loss curve (fused ops written directly,
 * in double) step for step, gradient clipping and AdamW included.
 */
class PrimitivesOnlyTrainingTest {
    private static final int STEPS = 4, BATCH = 4;

    private static double[] lossCurve(Backend be) {
        Crate model = new Crate(CrateConfig.preset("fmnist-small"), be, 5);
        Optimizer opt = new AdamW(Param.of(model.namedParameters(), false), 2e-3f, 0.05f);
        double[] losses = new double[STEPS];
        for (int step = 0; step < STEPS; step++) {
            Tensor images = be.empty(BATCH, 1, 28, 28);
            be.randomUniform(images, 100 + step, -1f, 1f);
            int[] labels = new int[BATCH];
            for (int i = 0; i < BATCH; i++) labels[i] = (step * BATCH + i * 3) % 10;
            opt.zeroGrad();
            Variable loss = F.crossEntropy(model.forward(images), labels, 0.1f);
            loss.backward();
            opt.clipGradNorm(1f);
            opt.step();
            model.weightsChanged();
            losses[step] = loss.value().item();
            loss.releaseGraph();
        }
        return losses;
    }

    @Test
    void fmnistSmallTrainsToTheReferenceLossCurve() {
        double[] reference = lossCurve(new ReferenceBackend());
        double[] composed = lossCurve(new PrimitivesOnlyBackend());
        for (int i = 0; i < STEPS; i++) {
            assertEquals(reference[i], composed[i], 1e-5 * Math.abs(reference[i]), "loss at step " + i);
        }
        assertNotEquals(reference[0], reference[STEPS - 1], "the weights moved");
    }
}

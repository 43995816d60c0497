package ai.crate.model.vit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.cuda.CudaBackend;
import ai.crate.engine.Backend;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.model.TestBackends;
import ai.crate.model.nn.Pool;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Param;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** ViT's keys, init and buffer discipline (its numbers are VitParityTest's). */
class VitModelTest {
    private final Backend be = new ReferenceBackend();

    @Test
    void keysAreTimmsInStateDictOrderAndThePoolingPicksTheFinalNorm() {
        VitConfig c = new VitConfig(8, 2, 4, 12, 2, 3, 20, 5, Pool.CLS);
        List<String> keys = List.copyOf(new Vit(c, be, 0).namedParameters().keySet());
        assertEquals(List.of("cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
                "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
                "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
                "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias"),
                keys.subList(0, 16));
        assertEquals(List.of("norm.weight", "norm.bias", "head.weight", "head.bias"), keys.subList(keys.size() - 4, keys.size()));
        List<String> avg = List.copyOf(new Vit(c.withPool(Pool.AVG), be, 0).namedParameters().keySet());
        assertEquals(List.of("fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"), avg.subList(avg.size() - 4, avg.size()));
        assertEquals(keys.size(), 4 + 12 * 2 + 4);
    }

    @Test
    void initIsTimms() {
        VitConfig c = new VitConfig(32, 3, 4, 96, 1, 4, 384, 10, Pool.CLS);
        Map<String, Variable> p = new Vit(c, be, 5).namedParameters();
        assertEquals(0.02, rms(p.get("blocks.0.mlp.fc1.weight")), 0.002, "Linear weights trunc_normal(0.02)");
        assertEquals(0.02, rms(p.get("pos_embed")), 0.002, "pos_embed trunc_normal(0.02)");
        assertEquals(1e-6, rms(p.get("cls_token")), 3e-7, "cls_token normal(1e-6)");
        assertEquals(0.0, rms(p.get("blocks.0.attn.qkv.bias")), 0, "Linear biases zero");
        double bound = 1 / Math.sqrt(3 * 4 * 4);   // the conv keeps PyTorch's default, U(±1/√fan_in)
        assertEquals(bound / Math.sqrt(3), rms(p.get("patch_embed.proj.weight")), 0.1 * bound);
        assertEquals(1.0, rms(p.get("blocks.0.norm1.weight")), 0);
        assertArrayEquals(p.get("pos_embed").value().toFloatArray(),
                new Vit(c, be, 5).namedParameters().get("pos_embed").value().toFloatArray(), "same seed, same weights");
    }

    /** After a warm-up, train steps and inference take every buffer from the pool: none from the device. */
    @Test
    void steadyStateStepsAndInferenceAllocateNothingOnTheDevice() {
        CudaBackend cuda = (CudaBackend) TestBackends.named("cuda-emulated");
        VitConfig c = new VitConfig(8, 3, 2, 24, 2, 3, 48, 5, Pool.AVG);
        Vit model = new Vit(c, cuda, 0);
        AdamW opt = new AdamW(Param.of(model.namedParameters(), false), 1e-3f, 0.05f);
        Tensor x = cuda.empty(4, 3, 8, 8);
        cuda.randomUniform(x, 1, -1f, 1f);
        long afterWarmUp = 0;
        for (int s = 0; s < 6; s++) {
            if (s == 3) afterWarmUp = cuda.allocationsFromDevice();
            opt.zeroGrad();
            Variable loss = F.crossEntropy(model.forward(x), new int[] {0, 1, 2, 3}, 0.1f);
            loss.backward();
            opt.clipGradNorm(1f);
            opt.step();
            model.weightsChanged();
            loss.value().item();
            loss.releaseGraph();
            cuda.release(model.inference().logits(x));
        }
        assertTrue(cuda.allocationsFromDevice() == afterWarmUp, (cuda.allocationsFromDevice() - afterWarmUp)
                + " device allocations in 3 steady-state steps: something is dropped instead of released");
        assertTrue(Autograd.isGradEnabled(), "inference leaves the no-grad scope");
    }

    private static double rms(Variable v) {
        float[] a = v.value().toFloatArray();
        double s = 0;
        for (float f : a) s += (double) f * f;
        return Math.sqrt(s / a.length);
    }
}

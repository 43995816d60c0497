package ai.crate.model.mae;

import ai.crate.model.TestBackends;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.BackendContractTest;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * CRATE-MAE against the PyTorch reference of the official forward (tools/pytorch/gen_mae_fixtures.py, float64
 * oracle): the mask exactly, predictions within 1e-4, the loss within 1e-5 relative, every gradient within 1e-3
 * relative (L2), on every test backend (TestBackends: reference, SIMD, CUDA emulated and on a GPU); parameters the official forward does not use get no gradient.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CrateMaeParityTest {
    private final Backend reference = new ReferenceBackend();
    private static final Set<String> DATA = Set.of("images", "noise", "mask", "pred", "loss");

    Stream<Arguments> cases() {
        return Stream.of("mae_a", "mae_b").flatMap(f -> TestBackends.ALL.stream().map(b -> Arguments.of(f, b)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void fixedPositionTablesAreTheOfficialSinCos(String name) throws Exception {
        TensorFile f = SafeTensors.read(Path.of(getClass().getResource("/mae/" + name + ".safetensors").toURI()));
        CrateMae fresh = new CrateMae(CrateMaeConfig.fromMetadata(f.metadata()), reference, 0);
        for (String key : new String[] {"pos_embed", "decoder_pos_embed"}) {
            BackendContractTest.assertClose(name + " " + key, f.tensors().get(key).floats(),
                    fresh.namedTensors().get(key).value().toFloatArray(), 1e-6, 0);
        }
        assertTrue(!fresh.namedParameters().containsKey("decoder_pos_embed"), "fixed tables are not trained");
    }

    Stream<Arguments> fixtures() { return Stream.of(Arguments.of("mae_a"), Arguments.of("mae_b")); }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void lossPredictionMaskAndGradientsMatchPyTorch(String name, String backendName) throws Exception {
        Backend be = TestBackends.named(backendName);
        TensorFile f = SafeTensors.read(Path.of(getClass().getResource("/mae/" + name + ".safetensors").toURI()));
        Map<String, StoredTensor> params = new LinkedHashMap<>();
        f.tensors().forEach((k, v) -> { if (!k.startsWith("grad.") && !DATA.contains(k)) params.put(k, v); });
        CrateMae model = new CrateMae(CrateMaeConfig.fromMetadata(f.metadata()), be, 0);
        Checkpoints.loadTensors(model, new TensorFile(f.source(), params, f.metadata()), "the fixture's CRATE-MAE");
        StoredTensor img = f.tensors().get("images");
        Tensor images = be.fromArray(img.floats(), img.shape());
        CrateMae.Output out = model.forward(images, f.tensors().get("noise").floats());
        assertArrayEquals(f.tensors().get("mask").floats(), out.mask(), name + " mask");
        BackendContractTest.assertClose(name + " pred on " + backendName, f.tensors().get("pred").floats(),
                out.pred().value().toFloatArray(), 1e-4, 0);
        float expectedLoss = f.tensors().get("loss").floats()[0];
        assertEquals(expectedLoss, out.loss().value().item(), 1e-5 * Math.abs(expectedLoss), name + " loss");
        out.loss().backward();
        int checked = 0;
        for (var e : model.namedParameters().entrySet()) {
            StoredTensor want = f.tensors().get("grad." + e.getKey());
            if (want == null) {
                assertNull(e.getValue().grad(), e.getKey() + " is unused by the official forward: no gradient");
                continue;
            }
            float[] w = want.floats(), g = e.getValue().grad().toFloatArray();
            double diff = 0, norm = 0;
            for (int i = 0; i < w.length; i++) {
                diff += Math.pow((double) g[i] - w[i], 2);
                norm += (double) w[i] * w[i];
            }
            assertTrue(Math.sqrt(diff / norm) <= 1e-3, name + " on " + backendName + ": gradient of " + e.getKey()
                    + " off by " + Math.sqrt(diff / norm));
            checked++;
        }
        assertEquals(f.tensors().keySet().stream().filter(k -> k.startsWith("grad.")).count(), checked);
    }

    /** A torch.save'd training checkpoint ({'epoch', 'model'} with DataParallel's "module." prefix, no metadata). */
    @org.junit.jupiter.api.Test
    void officialStylePthImportsTheSameModel() throws Exception {
        TensorFile st = SafeTensors.read(Path.of(getClass().getResource("/mae/mae_a.safetensors").toURI()));
        CrateMae fromPth = Checkpoints.load(Path.of(getClass().getResource("/mae/mae_a.checkpoint.pth").toURI()),
                reference, LoadOptions.heads(2), CrateMae.class);
        assertEquals(CrateMaeConfig.fromMetadata(st.metadata()), fromPth.config(), "config inferred from shapes");
        fromPth.namedTensors().forEach((k, v) -> assertArrayEquals(st.tensors().get(k).floats(), v.value().toFloatArray(), k));
    }
}

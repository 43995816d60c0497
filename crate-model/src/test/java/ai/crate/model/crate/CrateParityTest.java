package ai.crate.model.crate;

import ai.crate.model.TestBackends;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.nn.Pool;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.BackendContractTest;
import ai.crate.engine.Tensor;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Our CRATE against PyTorch on the fixtures written by tools/pytorch/gen_parity_fixtures.py (a float64 oracle):
 * logits within 1e-4, the loss within 1e-5 relative, every parameter gradient within 1e-3 relative (L2), on the
 * reference, SIMD and CUDA backends (CUDA emulated on the CPU, and on a GPU when there is one); the .pth and
 * checkpoint.pth.tar imports hold the same weights bit for bit.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CrateParityTest {
    static final double LOGIT_ATOL = 1e-4, LOSS_RTOL = 1e-5, GRAD_REL_L2 = 1e-3;

    Stream<Arguments> cases() {
        return Stream.of("parity_a", "parity_b").flatMap(f -> TestBackends.ALL.stream().map(b -> Arguments.of(f, b)));
    }

    static Path fixture(String file) throws Exception {
        var url = CrateParityTest.class.getResource("/parity/" + file);
        if (url == null) throw new IllegalStateException("test resource /parity/" + file + " is missing");
        return Path.of(url.toURI());
    }

    /** The parameters alone (the fixture also holds inputs, outputs and gradients). */
    static TensorFile parameters(TensorFile f) {
        Map<String, StoredTensor> params = new LinkedHashMap<>();
        f.tensors().forEach((k, v) -> {
            if (!k.startsWith("grad.") && !Stream.of("images", "labels", "logits", "loss").anyMatch(k::equals)) {
                params.put(k, v);
            }
        });
        return new TensorFile(f.source(), params, f.metadata());
    }

    private Backend backend(String name) { return TestBackends.named(name); }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void logitsLossAndEveryGradientMatchPyTorch(String name, String backendName) throws Exception {
        Backend be = backend(backendName);
        TensorFile f = SafeTensors.read(fixture(name + ".safetensors"));
        TensorFile params = parameters(f);
        Crate model = new Crate(CrateArchitecture.INSTANCE.configFrom(params, LoadOptions.defaults()), be, 0);
        Checkpoints.loadInto(model, params);
        StoredTensor img = f.tensors().get("images");
        Tensor images = be.fromArray(img.floats(), img.shape());
        long[] labels64 = f.tensors().get("labels").longs();
        int[] labels = new int[labels64.length];
        for (int i = 0; i < labels.length; i++) labels[i] = Math.toIntExact(labels64[i]);

        Variable logits = model.forward(images);
        float[] expected = f.tensors().get("logits").floats();
        BackendContractTest.assertClose(name + " logits on " + backendName, expected, logits.value().toFloatArray(),
                LOGIT_ATOL, 0);
        BackendContractTest.assertClose(name + " inference logits on " + backendName, expected,
                model.inference().logits(images).toFloatArray(), LOGIT_ATOL, 0);

        Variable loss = F.crossEntropy(logits, labels, 0f);
        float expectedLoss = f.tensors().get("loss").floats()[0];
        assertEquals(expectedLoss, loss.value().item(), LOSS_RTOL * Math.abs(expectedLoss), name + " loss");
        loss.backward();
        int checked = 0;
        for (var e : model.namedParameters().entrySet()) {
            float[] want = f.tensors().get("grad." + e.getKey()).floats();
            float[] got = e.getValue().grad().toFloatArray();
            double diff = 0, norm = 0;
            for (int i = 0; i < want.length; i++) {
                diff += Math.pow((double) got[i] - want[i], 2);
                norm += (double) want[i] * want[i];
            }
            double rel = Math.sqrt(diff / norm);
            assertTrue(norm > 0, e.getKey() + ": the fixture gradient should not be zero");
            assertTrue(rel <= GRAD_REL_L2, name + " on " + backendName + ": gradient of " + e.getKey()
                    + " off by " + rel + " relative (L2), bound " + GRAD_REL_L2);
            checked++;
        }
        assertEquals(f.tensors().keySet().stream().filter(k -> k.startsWith("grad.")).count(), checked);
    }

    Stream<Arguments> torchFiles() {
        return Stream.of(Arguments.of("parity_a", "parity_a.pth", 3), Arguments.of("parity_b", "parity_b.pth", 4),
                Arguments.of("parity_a", "parity_a.checkpoint.pth.tar", 3));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("torchFiles")
    void torchImportsHoldTheSameModel(String name, String torchFile, int heads) throws Exception {
        TensorFile st = SafeTensors.read(fixture(name + ".safetensors"));
        TensorFile params = parameters(st);
        Crate fromSafetensors = new Crate(CrateArchitecture.INSTANCE.configFrom(params,
                LoadOptions.defaults()), TestBackends.named("simd"), 0);
        Checkpoints.loadInto(fromSafetensors, params);
        // a .pth has no metadata: the head count comes from the caller; pooling must too for the mean-pooled one
        Pool pool = fromSafetensors.config().pool();
        Crate fromTorch = Checkpoints.load(fixture(torchFile), TestBackends.named("simd"),
                new LoadOptions(heads, pool, null, null), Crate.class);
        assertEquals(fromSafetensors.config(), fromTorch.config(), "config inferred from the .pth shapes");
        for (var e : fromSafetensors.namedParameters().entrySet()) {
            assertArrayEquals(e.getValue().value().toFloatArray(),
                    fromTorch.namedParameters().get(e.getKey()).value().toFloatArray(), e.getKey());
        }
        StoredTensor img = st.tensors().get("images");
        Tensor images = TestBackends.named("simd").fromArray(img.floats(), img.shape());
        assertArrayEquals(fromSafetensors.inference().logits(images).toFloatArray(),
                fromTorch.inference().logits(images).toFloatArray(), torchFile + " logits");
    }
}

package ai.crate.model.crate;

import ai.crate.model.ParityChecks;
import ai.crate.model.TestBackends;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.nn.Pool;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.crate.autograd.F;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.nio.file.Path;
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
    Stream<Arguments> cases() {
        return Stream.of("parity_a", "parity_b").flatMap(f -> TestBackends.ALL.stream().map(b -> Arguments.of(f, b)));
    }

    static Path fixture(String file) throws Exception { return ParityChecks.resource("/parity/" + file); }

    static TensorFile parameters(TensorFile f) { return ParityChecks.parameters(f); }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void logitsLossAndEveryGradientMatchPyTorch(String name, String backendName) throws Exception {
        Backend be = TestBackends.named(backendName);
        TensorFile f = SafeTensors.read(fixture(name + ".safetensors"));
        TensorFile params = parameters(f);
        Crate model = new Crate(CrateArchitecture.INSTANCE.configFrom(params, LoadOptions.defaults()), be, 0);
        Checkpoints.loadInto(model, params);
        ParityChecks.assertMatchesFixture(model, f, name + " on " + backendName);
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

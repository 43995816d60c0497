package ai.crate.model.alpha;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.ParityChecks;
import ai.crate.model.TestBackends;
import ai.crate.model.family.Architectures;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.TensorFile;
import ai.crate.model.whitebox.LayerMeasures;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our CRATE-α against PyTorch written from the official crate_alpha.py (tools/pytorch/crate_alpha_torch.py, fixtures
 * by gen_crate_alpha_fixtures.py, a float64 oracle) on every test backend: 3 channels with heads of width d/h, and 1
 * channel with heads wider than d/h; the official-keyed .pth loads to the same model with the head count given.
 */
class CrateAlphaParityTest {
    static Stream<Arguments> cases() {
        return Stream.of("alpha_rgb", "alpha_grey").flatMap(f -> TestBackends.ALL.stream().map(b -> Arguments.of(f, b)));
    }

    static Path fixture(String file) throws Exception { return ParityChecks.resource("/alpha/" + file); }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void logitsLossAndEveryGradientMatchPyTorch(String name, String backendName) throws Exception {
        Backend be = TestBackends.named(backendName);
        TensorFile f = SafeTensors.read(fixture(name + ".safetensors"));
        CrateAlpha model = Checkpoints.load(ParityChecks.parameters(f), be, LoadOptions.defaults()) instanceof CrateAlpha a
                ? a : null;
        assertTrue(model != null, name + " is detected as CRATE-α");
        ParityChecks.assertMatchesFixture(model, f, name + " on " + backendName);
    }

    @ParameterizedTest
    @ValueSource(strings = {"alpha_rgb", "alpha_grey"})
    void theOfficialKeyedPthHoldsTheSameModel(String name) throws Exception {
        Backend be = TestBackends.named("simd");
        TensorFile st = SafeTensors.read(fixture(name + ".safetensors"));
        CrateAlpha fromSafetensors = (CrateAlpha) Checkpoints.load(ParityChecks.parameters(st), be, LoadOptions.defaults());
        CrateAlpha fromPth = Checkpoints.load(fixture(name + ".pth"), be,
                LoadOptions.heads(fromSafetensors.config().heads()), CrateAlpha.class);
        assertEquals(fromSafetensors.config(), fromPth.config(), "config from the .pth shapes");
        assertEquals(name.equals("alpha_grey") ? 6 : 8, fromPth.config().headDim());
        assertEquals(fromPth.namedTensors().keySet(), fromSafetensors.namedTensors().keySet());
        fromSafetensors.namedParameters().forEach((k, v) -> assertArrayEquals(v.value().toFloatArray(),
                fromPth.namedParameters().get(k).value().toFloatArray(), k));
        Tensor images = ParityChecks.images(fromPth, st);
        assertArrayEquals(fromSafetensors.inference().logits(images).toFloatArray(),
                fromPth.inference().logits(images).toFloatArray(), name + ".pth logits");
    }

    /**
     * The white-box measures against the fixture's float64 ones: the coding rate of W within 1e-4 relative; the share
     * of zeros of a₂ within two entries of one image's code (an entry within float32 rounding of the ReLU's kink may
     * land on either side).
     */
    @ParameterizedTest
    @ValueSource(strings = {"alpha_rgb", "alpha_grey"})
    void codingRateAndSparsityOfTheCodeMatchPyTorch(String name) throws Exception {
        TensorFile f = SafeTensors.read(fixture(name + ".safetensors"));
        CrateAlpha model = (CrateAlpha) Checkpoints.load(ParityChecks.parameters(f), TestBackends.named("simd"),
                LoadOptions.defaults());
        LayerMeasures.PerImage m = LayerMeasures.of(model, ParityChecks.images(model, f));
        CrateAlphaConfig c = model.config();
        float[] rate = f.tensors().get("coding_rate").floats(), zeros = f.tensors().get("sparsity").floats();
        int images = m.sparsity()[0].length;
        double entry = 1.0 / ((double) c.tokens() * c.atoms());
        for (int layer = 0; layer < c.depth(); layer++) {
            for (int i = 0; i < images; i++) {
                float want = rate[layer * images + i];
                assertEquals(want, m.codingRate()[0][layer][i], 1e-4 * want, name + " coding rate, layer " + layer);
                assertEquals(zeros[layer * images + i], m.sparsity()[layer][i], 2 * entry,
                        name + " zeros of a2, layer " + layer);
            }
        }
    }

    @Test
    void theStateDictKeysAreTheOfficialOnesInTheirOrder() throws Exception {
        TensorFile pth = Checkpoints.read(fixture("alpha_rgb.pth"));
        CrateAlpha model = new CrateAlpha(CrateAlphaConfig.of(12, 3, 4, 16, 2, 2, 5), TestBackends.named("reference"), 1);
        assertEquals(pth.tensors().keySet().stream().toList(), model.namedTensors().keySet().stream().toList());
        assertEquals(CrateAlphaArchitecture.INSTANCE, Architectures.detect(pth));
        assertEquals(Architectures.parameterCount(model.config()), model.parameterCount());
    }

    @Test
    void aPthWithoutTheHeadCountOrWithHeadsThatDoNotSplitIsRefusedByName() throws Exception {
        Backend be = TestBackends.named("reference");
        CheckpointException heads = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(fixture("alpha_rgb.pth"), be, LoadOptions.defaults()));
        assertTrue(heads.getMessage().contains("alpha_rgb.pth") && heads.getMessage().contains("--heads"),
                heads.getMessage());
        CheckpointException split = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(fixture("alpha_rgb.pth"), be, LoadOptions.heads(3)));
        assertTrue(split.getMessage().contains("does not split into 3 heads"), split.getMessage());
    }
}

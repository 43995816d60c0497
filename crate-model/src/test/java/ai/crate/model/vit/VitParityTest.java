package ai.crate.model.vit;

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
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.TensorFile;
import ai.crate.model.nn.Pool;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our ViT against PyTorch written from timm's equations (tools/pytorch/vit_torch.py, fixtures by
 * gen_vit_fixtures.py, a float64 oracle), both poolings, on every test backend; the DeiT-style .pth (timm keys under
 * 'model', 'module.' prefixes) loads to the same model with the head count given.
 */
class VitParityTest {
    static Stream<Arguments> cases() {
        return Stream.of("vit_token", "vit_avg").flatMap(f -> TestBackends.ALL.stream().map(b -> Arguments.of(f, b)));
    }

    static Path fixture(String file) throws Exception { return ParityChecks.resource("/vit/" + file); }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void logitsLossAndEveryGradientMatchPyTorch(String name, String backendName) throws Exception {
        Backend be = TestBackends.named(backendName);
        TensorFile f = SafeTensors.read(fixture(name + ".safetensors"));
        TensorFile params = ParityChecks.parameters(f);
        ImageClassifier model = Checkpoints.load(params, be, LoadOptions.defaults()) instanceof Vit v ? v : null;
        assertTrue(model != null, name + " is detected as a ViT");
        ParityChecks.assertMatchesFixture(model, f, name + " on " + backendName);
    }

    @ParameterizedTest
    @ValueSource(strings = {"vit_token", "vit_avg"})
    void theTimmKeyedPthHoldsTheSameModel(String name) throws Exception {
        Backend be = TestBackends.named("simd");
        TensorFile st = SafeTensors.read(fixture(name + ".safetensors"));
        Vit fromSafetensors = (Vit) Checkpoints.load(ParityChecks.parameters(st), be, LoadOptions.defaults());
        Vit fromPth = Checkpoints.load(fixture(name + ".pth"), be, LoadOptions.heads(fromSafetensors.config().heads()),
                Vit.class);
        assertEquals(fromSafetensors.config(), fromPth.config(), "config from the .pth shapes (pooling from its norm)");
        assertEquals(name.equals("vit_avg") ? Pool.AVG : Pool.CLS, fromPth.config().pool());
        fromSafetensors.namedParameters().forEach((k, v) -> assertArrayEquals(v.value().toFloatArray(),
                fromPth.namedParameters().get(k).value().toFloatArray(), k));
        Tensor images = ParityChecks.images(fromPth, st);
        assertArrayEquals(fromSafetensors.inference().logits(images).toFloatArray(),
                fromPth.inference().logits(images).toFloatArray(), name + ".pth logits");
    }

    @Test
    void aPthWithoutTheHeadCountOrWithTheWrongPoolingIsRefusedByName() throws Exception {
        Backend be = TestBackends.named("reference");
        CheckpointException heads = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(fixture("vit_token.pth"), be, LoadOptions.defaults()));
        assertTrue(heads.getMessage().contains("vit_token.pth") && heads.getMessage().contains("--heads"),
                heads.getMessage());
        CheckpointException pool = assertThrows(CheckpointException.class, () -> Checkpoints.load(
                fixture("vit_token.pth"), be, new LoadOptions(3, Pool.AVG, null, null)));
        assertTrue(pool.getMessage().contains("'norm' (token pooling)"), pool.getMessage());
        CheckpointException split = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(fixture("vit_token.pth"), be, LoadOptions.heads(5)));
        assertTrue(split.getMessage().contains("does not split into 5 heads"), split.getMessage());
    }

    @Test
    void theFixturesAreDetectedAsViTAndNothingElse() throws Exception {
        TensorFile pth = Checkpoints.read(fixture("vit_avg.pth"));
        assertEquals(VitArchitecture.INSTANCE, Architectures.detect(pth));
    }
}

package ai.crate.model.tost;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.Autograd;
import ai.crate.engine.Backend;
import ai.crate.engine.BackendContractTest;
import ai.crate.engine.Tensor;
import ai.crate.model.ParityChecks;
import ai.crate.model.TestBackends;
import ai.crate.model.family.Architectures;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our ToST against PyTorch written from the official tost.py (tools/pytorch/tost_torch.py, fixtures by
 * gen_tost_fixtures.py, a float64 oracle) on every test backend, both stems (patch 8 and 16): the eval-mode forward
 * (BatchNorm on non-trivial running statistics) and its gradients, and a train-mode forward with the running
 * statistics it leaves.
 */
class TostParityTest {
    @TempDir
    Path dir;

    static Stream<Arguments> cases() {
        return Stream.of("tost_p8", "tost_p16").flatMap(f -> TestBackends.ALL.stream().map(b -> Arguments.of(f, b)));
    }

    static Path fixture(String file) throws Exception { return ParityChecks.resource("/tost/" + file); }

    static Tost load(String name, Backend be) throws Exception {
        TensorFile f = SafeTensors.read(fixture(name + ".safetensors"));
        return (Tost) Checkpoints.load(ParityChecks.parameters(f), be, LoadOptions.defaults());
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void evalModeLogitsLossAndEveryGradientMatchPyTorch(String name, String backendName) throws Exception {
        Tost model = load(name, TestBackends.named(backendName));
        model.train(false);
        ParityChecks.assertMatchesFixture(model, SafeTensors.read(fixture(name + ".safetensors")),
                name + " on " + backendName);
    }

    /** Batch statistics normalise in training, and the running mean, unbiased variance and count move as PyTorch's. */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void trainModeUsesBatchStatisticsAndUpdatesTheRunningOnes(String name, String backendName) throws Exception {
        Backend be = TestBackends.named(backendName);
        Tost model = load(name, be);
        TensorFile f = SafeTensors.read(fixture(name + ".safetensors"));
        model.train(true);
        Tensor logits;
        try (var noGrad = Autograd.noGrad()) {
            logits = model.forward(ParityChecks.images(model, f)).value();
        }
        BackendContractTest.assertClose(name + " train-mode logits", f.tensors().get("train_logits").floats(),
                logits.toFloatArray(), ParityChecks.LOGIT_ATOL, 0);
        var state = model.namedState();
        int norms = 0;
        for (String key : f.tensors().keySet()) {
            if (!key.startsWith("after.")) continue;
            String k = key.substring("after.".length());
            StoredTensor want = f.tensors().get(key);
            if (k.endsWith("num_batches_tracked")) {
                assertEquals(want.longs()[0], ((ai.crate.model.nn.Module.Counter) state.get(k)).get(), k);
                norms++;
            } else {
                BackendContractTest.assertClose(name + " " + k, want.floats(),
                        ((ai.crate.autograd.Variable) state.get(k)).value().toFloatArray(), 1e-5, 1e-4);
            }
        }
        assertEquals(ConvStem.widths(model.config().patchSize(), model.config().dim()).length, norms);
    }

    /** The head maps the white-box tools read: Π per TSSA block, then the class-attention maps, as PyTorch's. */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void membershipAndClassAttentionMapsMatchPyTorch(String name, String backendName) throws Exception {
        Tost model = load(name, TestBackends.named(backendName));
        TensorFile f = SafeTensors.read(fixture(name + ".safetensors"));
        var maps = model.headMaps(ParityChecks.images(model, f));
        int depth = model.config().depth();
        assertEquals(depth + Tost.CLASS_BLOCKS, maps.maps().size());
        float[] pi = f.tensors().get("pi").floats(), cls = f.tensors().get("cls_attention").floats();
        int per = pi.length / depth;
        for (int l = 0; l < maps.maps().size(); l++) {
            float[] want = l < depth ? java.util.Arrays.copyOfRange(pi, l * per, (l + 1) * per)
                    : java.util.Arrays.copyOfRange(cls, (l - depth) * per, (l - depth + 1) * per);
            BackendContractTest.assertClose(name + " " + maps.layers().get(l), want, maps.maps().get(l).toFloatArray(),
                    1e-5, 0);
        }
        assertTrue(maps.rule().contains("membership Π"), maps.rule());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tost_p8", "tost_p16"})
    void theOfficialKeyedPthLoadsWithTheHeadCountAndRunsAtItsImageSize(String name) throws Exception {
        Backend be = TestBackends.named("simd");
        Tost fromSafetensors = load(name, be);
        Tost fromPth = Checkpoints.load(fixture(name + ".pth"), be, LoadOptions.heads(fromSafetensors.config().heads()),
                Tost.class);
        assertEquals(TostArchitecture.DEFAULT_IMAGE_SIZE, fromPth.config().imageSize(), "no metadata: the official 224");
        assertEquals(fromSafetensors.config().patchSize(), fromPth.config().patchSize(), "patch from the stem's depth");
        assertEquals(fromSafetensors.config().withImageSize(224), fromPth.config(), "the rest of the config from shapes");
        assertEquals(7L, fromPth.convStem().norms().getFirst().batchesTracked(), "int64 num_batches_tracked loaded");
        Tensor images = ParityChecks.images(fromPth, SafeTensors.read(fixture(name + ".safetensors")));
        assertArrayEquals(fromSafetensors.inference().logits(images).toFloatArray(),
                fromPth.inference().logits(images).toFloatArray(), name + ".pth logits on 32×32 images");
    }

    @Test
    void ourCheckpointKeepsTheCounterAsInt64AndReloadsBitExact() throws Exception {
        Backend be = TestBackends.named("reference");
        Tost model = load("tost_p8", be);
        Path file = dir.resolve("tost.safetensors");
        Checkpoints.save(model, file);
        TensorFile saved = SafeTensors.read(file);
        StoredTensor counter = saved.tensors().get("patch_embed.proj.0.1.num_batches_tracked");
        assertEquals("I64", counter.dtype().toString());
        assertEquals(0, counter.shape().length);
        Tost again = Checkpoints.load(file, be, LoadOptions.defaults(), Tost.class);
        assertEquals(model.config(), again.config());
        model.namedTensors().forEach((k, v) -> assertArrayEquals(v.value().toFloatArray(),
                again.namedTensors().get(k).value().toFloatArray(), k));
        assertEquals(TostArchitecture.INSTANCE, Architectures.detect(Checkpoints.read(fixture("tost_p16.pth"))));
        assertEquals(Architectures.parameterCount(model.config()), model.parameterCount());
    }

    @Test
    void aStemOfTheWrongDepthOrATemperatureOfTheWrongSizeIsRefusedByName() throws Exception {
        TensorFile pth = Checkpoints.read(fixture("tost_p16.pth"));
        Map<String, StoredTensor> noLastConv = new LinkedHashMap<>(pth.tensors());
        noLastConv.keySet().removeIf(k -> k.startsWith("patch_embed.proj.4.") || k.startsWith("patch_embed.proj.6."));
        Path file = dir.resolve("short-stem.safetensors");
        SafeTensors.write(file, noLastConv, Map.of("heads", "4"));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(file, TestBackends.named("reference"), LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("short-stem.safetensors") && e.getMessage().contains("2 convolutions")
                && e.getMessage().contains("3 (patch 8) or 4 (patch 16)"), e.getMessage());
        CheckpointException heads = assertThrows(CheckpointException.class, () -> Checkpoints.load(
                fixture("tost_p16.pth"), TestBackends.named("reference"), LoadOptions.heads(2)));
        assertTrue(heads.getMessage().contains("blocks.0.attn.temp") && heads.getMessage().contains("4 heads"),
                heads.getMessage());
    }

    @Test
    void imagesNotDivisibleByThePatchAreRefused() throws Exception {
        Tost model = load("tost_p8", TestBackends.named("reference"));
        Backend be = model.backend();
        var e = assertThrows(IllegalArgumentException.class, () -> model.inference().logits(be.empty(1, 3, 30, 30)));
        assertTrue(e.getMessage().contains("multiple of 8") && e.getMessage().contains("[1, 3, 30, 30]"), e.getMessage());
    }
}

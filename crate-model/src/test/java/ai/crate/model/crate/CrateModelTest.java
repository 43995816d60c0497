package ai.crate.model.crate;

import ai.crate.model.TestBackends;
import ai.crate.model.family.Architectures;
import ai.crate.model.family.ClassifierInference;
import ai.crate.model.nn.PatchEmbed;
import ai.crate.model.nn.Pool;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.BackendContractTest;
import ai.crate.engine.ReferenceBackend;
import ai.crate.engine.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Structure, initialisation and the inference path of the CRATE classifier, on the reference backend (inference on all). */
class CrateModelTest {
    /** The official code's poolings; timm's avg (patch rows only) is refused, see below. */
    static final List<Pool> CRATE_POOLS = List.of(Pool.CLS, Pool.MEAN);

    @Test
    void crateRefusesTimmsAvgPoolingByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CrateConfig.preset("fmnist-small").withPool(Pool.AVG));
        assertTrue(e.getMessage().contains("'cls' or 'mean'"), e.getMessage());
    }

    private final Backend be = new ReferenceBackend();
    private final CrateConfig small = new CrateConfig(12, 3, 4, 12, 2, 3, 5, Pool.CLS, 0.1f, 0.1f);

    private Tensor images(CrateConfig c, int batch, long seed) {
        Tensor t = be.empty(batch, c.channels(), c.imageSize(), c.imageSize());
        be.randomUniform(t, seed, -1f, 1f);
        return t;
    }

    @Test
    void parametersCarryTheOfficialKeysAndShapes() {
        Crate model = new Crate(small, be, 1);
        Map<String, Variable> p = model.namedParameters();
        List<String> expected = new ArrayList<>(List.of("pos_embedding", "cls_token",
                "to_patch_embedding.1.weight", "to_patch_embedding.1.bias", "to_patch_embedding.2.weight",
                "to_patch_embedding.2.bias", "to_patch_embedding.3.weight", "to_patch_embedding.3.bias"));
        for (int i = 0; i < 2; i++) {
            String l = "transformer.layers." + i;
            expected.addAll(List.of(l + ".0.norm.weight", l + ".0.norm.bias", l + ".0.fn.qkv.weight",
                    l + ".0.fn.to_out.0.weight", l + ".0.fn.to_out.0.bias", l + ".1.norm.weight", l + ".1.norm.bias",
                    l + ".1.fn.weight"));
        }
        expected.addAll(List.of("mlp_head.0.weight", "mlp_head.0.bias", "mlp_head.1.weight", "mlp_head.1.bias"));
        assertEquals(expected, List.copyOf(p.keySet()));
        assertArrayEquals(new int[] {1, 10, 12}, p.get("pos_embedding").shape());
        assertArrayEquals(new int[] {48}, p.get("to_patch_embedding.1.weight").shape());
        assertArrayEquals(new int[] {12, 48}, p.get("to_patch_embedding.2.weight").shape());
        assertArrayEquals(new int[] {12, 12}, p.get("transformer.layers.1.1.fn.weight").shape());
        assertArrayEquals(new int[] {5, 12}, p.get("mlp_head.1.weight").shape());
        long count = p.values().stream().mapToLong(v -> v.value().size()).sum();
        assertEquals(Architectures.parameterCount(small), count);
        for (String name : CrateArchitecture.INSTANCE.presets().keySet()) {
            CrateConfig c = CrateConfig.preset(name);
            assertTrue(Architectures.parameterCount(c) > 0 && Architectures.forwardFlopsPerImage(c) > 0, name);
        }
        for (String name : new String[] {"fmnist-small", "cifar-tiny"}) {
            CrateConfig c = CrateConfig.preset(name);
            assertEquals(Architectures.parameterCount(c), new Crate(c, be, 0).parameterCount(), name);
        }
        // CRATE-T in the paper: about 6.1 M parameters (with a 1000-class head)
        assertEquals(6.1e6, Architectures.parameterCount(CrateConfig.preset("crate-tiny")), 0.2e6);
    }

    @Test
    void initialisationFollowsTheOfficialCode() {
        CrateConfig c = CrateConfig.of(32, 3, 4, 64, 1, 4, 10);
        Map<String, Variable> p = new Crate(c, be, 7).namedParameters();
        float[] dict = p.get("transformer.layers.0.1.fn.weight").value().toFloatArray();
        double bound = Math.sqrt(6.0 / 64);   // kaiming_uniform_, a = 0
        assertEquals(bound, Arrays.stream(toDoubles(dict)).map(Math::abs).max().orElseThrow(), 0.02 * bound);
        float[] linear = p.get("to_patch_embedding.2.weight").value().toFloatArray();
        double linBound = 1 / Math.sqrt(48);   // nn.Linear: kaiming_uniform_(a = √5)
        assertEquals(linBound, Arrays.stream(toDoubles(linear)).map(Math::abs).max().orElseThrow(), 0.02 * linBound);
        float[] pos = p.get("pos_embedding").value().toFloatArray();
        assertEquals(1.0, rms(pos), 0.05, "pos_embedding is randn");
        assertTrue(Arrays.stream(toDoubles(p.get("mlp_head.0.weight").value().toFloatArray())).allMatch(v -> v == 1));
        assertArrayEquals(pos, new Crate(c, be, 7).namedParameters().get("pos_embedding").value().toFloatArray(),
                "same seed, same weights");
        assertNotEquals(pos[0], new Crate(c, be, 8).namedParameters().get("pos_embedding").value().toFloatArray()[0]);
    }

    @Test
    void patchifyIsChannelLast() {
        CrateConfig c = new CrateConfig(4, 3, 2, 6, 1, 1, 2, Pool.CLS, 0.1f, 0.1f);
        float[] img = new float[2 * 3 * 4 * 4];
        for (int i = 0; i < img.length; i++) img[i] = i;
        float[] patches = PatchEmbed.patchify(be.fromArray(img, 2, 3, 4, 4), c.channels(), c.imageSize(), c.patchSize()).toFloatArray();
        // b c (h p1) (w p2) -> b (h w) (p1 p2 c)
        for (int b = 0; b < 2; b++)
            for (int h = 0; h < 2; h++)
                for (int w = 0; w < 2; w++)
                    for (int p1 = 0; p1 < 2; p1++)
                        for (int p2 = 0; p2 < 2; p2++)
                            for (int ch = 0; ch < 3; ch++) {
                                float expected = img[((b * 3 + ch) * 4 + h * 2 + p1) * 4 + w * 2 + p2];
                                int at = ((b * 4 + h * 2 + w) * 4 + p1 * 2 + p2) * 3 + ch;
                                assertEquals(expected, patches[at]);
                            }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PatchEmbed.patchify(be.empty(2, 1, 4, 4), c.channels(), c.imageSize(), c.patchSize()));
        assertTrue(e.getMessage().contains("[batch, 3, 4, 4]") && e.getMessage().contains("[2, 1, 4, 4]"));
    }

    @Test
    void inferencePathMatchesTheTrainingForward() {
        for (Pool pool : CRATE_POOLS) {
            Crate model = new Crate(small.withPool(pool), be, 3);
            Tensor x = images(small, 3, 11);
            float[] taped = model.forward(x).value().toFloatArray();
            ClassifierInference.Output out = model.inference().forward(x, true);
            float[] fast = out.logits().toFloatArray();
            BackendContractTest.assertClose("inference vs forward, pool " + pool, taped, fast, 1e-5, 1e-5);
            assertEquals(small.depth(), out.attention().size());
            float[] a = out.attention().getFirst().toFloatArray();
            assertArrayEquals(new int[] {3, small.heads(), small.tokens(), small.tokens()},
                    out.attention().getFirst().shape());
            for (int row = 0; row < a.length / small.tokens(); row++) {
                double sum = 0;
                for (int j = 0; j < small.tokens(); j++) sum += a[row * small.tokens() + j];
                assertEquals(1.0, sum, 1e-5, "attention row " + row + " sums to 1");
            }
        }
    }

    /**
     * On SIMD the no-tape path runs the taped forward's kernels in the same order — ISTA's one GEMM against the same
     * M, MSSA's column softmax whether or not A is kept — so its logits are the same bits.
     */
    @Test
    void inferenceOnSimdEqualsItsTrainingForwardToTheBit() {
        Backend simd = TestBackends.named("simd");
        for (Pool pool : CRATE_POOLS) {
            Crate model = new Crate(small.withPool(pool), simd, 3);
            Tensor x = simd.empty(3, small.channels(), small.imageSize(), small.imageSize());
            simd.randomUniform(x, 11, -1f, 1f);
            float[] taped = model.forward(x).value().toFloatArray();
            assertArrayEquals(taped, model.inference().logits(x).toFloatArray(), "pool " + pool);
        }
    }

    /**
     * The no-tape inference path (logits and attention maps, as eval, predict and the white-box tools use it) on each
     * other backend against the taped forward on the reference: the same seed gives the same weights everywhere.
     */
    @ParameterizedTest
    @ValueSource(strings = {"simd", "cuda-emulated", "cuda"})
    void inferenceOnEveryBackendMatchesTheReferenceForward(String name) {
        Backend other = TestBackends.named(name);
        for (Pool pool : CRATE_POOLS) {
            float[] expected = new Crate(small.withPool(pool), be, 3).forward(images(small, 3, 11)).value().toFloatArray();
            Tensor x = other.empty(3, small.channels(), small.imageSize(), small.imageSize());
            other.randomUniform(x, 11, -1f, 1f);
            ClassifierInference.Output out = new Crate(small.withPool(pool), other, 3).inference().forward(x, true);
            BackendContractTest.assertClose(name + " inference vs reference forward, pool " + pool, expected,
                    out.logits().toFloatArray(), 1e-5, 1e-4);
            BackendContractTest.assertClose(name + " attention of layer 0", new Crate(small.withPool(pool), be, 3)
                    .inference().forward(images(small, 3, 11), true).attention().getFirst().toFloatArray(),
                    out.attention().getFirst().toFloatArray(), 1e-6, 1e-4);
        }
    }

    @Test
    void inferenceMatricesFollowWeightUpdates() {
        Crate model = new Crate(small, be, 3);
        Tensor x = images(small, 2, 5);
        float[] before = model.inference().logits(x).toFloatArray();
        Tensor dict = model.namedParameters().get("transformer.layers.0.1.fn.weight").value();
        be.affine(dict, 1.5f, 0f, dict);
        assertArrayEquals(before, model.inference().logits(x).toFloatArray(),
                "ISTA's inference matrix is kept until the weights are marked as changed");
        model.weightsChanged();
        float[] after = model.inference().logits(x).toFloatArray();
        BackendContractTest.assertClose("after the update", model.forward(x).value().toFloatArray(), after, 1e-5, 1e-5);
        assertTrue(Math.abs(after[0] - before[0]) > 1e-6, "the update changed the logits");
    }

    @Test
    void trainingModeReachesEveryLayerAndInferenceRunsInEvaluationMode() {
        Crate model = new Crate(small, be, 3);
        assertTrue(model.isTraining() && model.blocks().getLast().featureMap().isTraining(), "a new model trains");
        model.train(false);
        assertTrue(!model.blocks().getFirst().mixer().isTraining() && !model.head().isTraining());
        model.train(true);
        boolean[] seen = new boolean[1];
        model.inference().forward(images(small, 1, 2), false, (layer, w, z, code) -> seen[0] |= model.blocks().get(layer)
                .mixer().isTraining());
        assertTrue(!seen[0], "layers ran in evaluation mode");
        assertTrue(model.isTraining() && model.stem().isTraining(), "and training mode is back afterwards");
    }

    @Test
    void gradientsReachEveryParameter() {
        Crate model = new Crate(small.withPool(Pool.MEAN), be, 4);
        Variable loss = F.crossEntropy(model.forward(images(small, 2, 6)), new int[] {1, 4}, 0f);
        loss.backward();
        model.namedParameters().forEach((name, v) -> {
            assertTrue(v.grad() != null, name + " got no gradient");
            assertTrue(rms(v.grad().toFloatArray()) > 0, name + " got an all-zero gradient");
        });
    }

    private static double[] toDoubles(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    private static double rms(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        return Math.sqrt(s / v.length);
    }

    /** The default head maps are each layer's CLS row over the patches, taken from the attention maps. */
    @Test
    void headMapsAreTheClsRowsOfTheAttention() {
        Crate model = new Crate(small, be, 4);
        Tensor x = images(small, 2, 9);
        var maps = model.headMaps(x);
        ClassifierInference.Output out = model.inference().forward(x, true);
        int n = small.tokens(), p = n - 1, heads = small.heads();
        assertEquals(small.depth(), maps.maps().size());
        assertEquals(List.of("layer 1", "layer 2"), maps.layers());
        for (int l = 0; l < small.depth(); l++) {
            float[] attn = out.attention().get(l).toFloatArray(), m = maps.maps().get(l).toFloatArray();
            assertArrayEquals(new int[] {2, heads, p}, maps.maps().get(l).shape());
            for (int b = 0; b < 2; b++) {
                for (int h = 0; h < heads; h++) {
                    for (int j = 0; j < p; j++) {
                        assertEquals(attn[((b * heads + h) * n) * n + 1 + j], m[(b * heads + h) * p + j], 0f);
                    }
                }
            }
        }
        assertTrue(maps.rule().contains("CLS"), maps.rule());
    }
}

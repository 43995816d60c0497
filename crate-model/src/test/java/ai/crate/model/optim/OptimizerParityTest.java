package ai.crate.model.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.model.TestBackends;
import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateArchitecture;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Three training steps of a tiny CRATE with each optimizer against PyTorch, on the fixtures written by
 * tools/pytorch/gen_optimizer_fixtures.py (a float64 oracle; weight decay on every parameter). After every step each
 * parameter must lie within 1e-4 of the oracle (relative L2) and, so that the bound cannot hold vacuously, the oracle
 * must have moved every parameter by at least 5x that bound, and our error must stay within 1% of that movement (the
 * step itself is right, not only the weights it started from). Also: an optimizer rebuilt from
 * {@link Optimizer#state()} and the weights after two steps takes a third step bit-identical to the uninterrupted run.
 * On every test backend (TestBackends: reference, SIMD, CUDA emulated and on a GPU).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OptimizerParityTest {
    static final double REL_L2 = 1e-4, MIN_MOVE = 5 * REL_L2, STEP_REL = 1e-2;
    static final int STEPS = 3;

    Stream<Arguments> cases() {
        return Stream.of("adamw", "lion", "sgd", "sgd_nesterov")
                .flatMap(f -> TestBackends.ALL.stream().map(b -> Arguments.of(f, b)));
    }

    private Backend backend(String name) { return TestBackends.named(name); }

    static TensorFile fixture(String name) throws Exception {
        var url = OptimizerParityTest.class.getResource("/optim/" + name + ".safetensors");
        if (url == null) throw new IllegalStateException("test resource /optim/" + name + ".safetensors is missing");
        return SafeTensors.read(Path.of(url.toURI()));
    }

    /** The initial parameters alone (every other tensor's name starts with "step"). */
    static TensorFile initialWeights(TensorFile f) {
        Map<String, StoredTensor> params = new LinkedHashMap<>();
        f.tensors().forEach((k, v) -> { if (!k.startsWith("step")) params.put(k, v); });
        return new TensorFile(f.source(), params, f.metadata());
    }

    static Crate model(TensorFile weights, Backend be) throws Exception {
        Crate model = new Crate(CrateArchitecture.INSTANCE.configFrom(weights, LoadOptions.defaults()), be, 0);
        Checkpoints.loadInto(model, weights);
        return model;
    }

    /** The optimizer the fixture's metadata names, with weight decay on every parameter. */
    static Optimizer optimizer(Crate model, Map<String, String> meta) {
        var params = Param.of(model.namedParameters(), true);
        float lr = number(meta, "lr"), wd = number(meta, "weight_decay");
        return switch (text(meta, "optimizer")) {
            case "adamw" -> new AdamW(params, lr, betas(meta)[0], betas(meta)[1], number(meta, "eps"), wd);
            case "lion" -> new Lion(params, lr, betas(meta)[0], betas(meta)[1], wd);
            case "sgd" -> new Sgd(params, lr, number(meta, "momentum"), Boolean.parseBoolean(text(meta, "nesterov")),
                    wd);
            default -> throw new IllegalArgumentException("unknown optimizer " + meta.get("optimizer"));
        };
    }

    private static String text(Map<String, String> meta, String key) {
        String v = meta.get(key);
        assertNotNull(v, "fixture metadata lacks '" + key + "'");
        return v;
    }

    private static float number(Map<String, String> meta, String key) { return Float.parseFloat(text(meta, key)); }

    private static float[] betas(Map<String, String> meta) {
        String[] parts = text(meta, "betas").split(",");
        assertEquals(2, parts.length, "betas: " + meta.get("betas"));
        return new float[] {Float.parseFloat(parts[0]), Float.parseFloat(parts[1])};
    }

    /** zeroGrad, forward, mean cross-entropy, backward, step on the fixture's batch {@code k}. */
    static void trainStep(Crate model, Optimizer opt, TensorFile f, int k) {
        Backend be = model.backend();
        StoredTensor img = f.tensors().get("step" + k + ".images");
        long[] labels64 = f.tensors().get("step" + k + ".labels").longs();
        int[] labels = new int[labels64.length];
        for (int i = 0; i < labels.length; i++) labels[i] = Math.toIntExact(labels64[i]);
        opt.zeroGrad();
        Variable loss = F.crossEntropy(model.forward(be.fromArray(img.floats(), img.shape())), labels, 0f);
        loss.backward();
        opt.step();
        model.weightsChanged();
    }

    private static double norm(float[] a) {
        double s = 0;
        for (float x : a) s += (double) x * x;
        return Math.sqrt(s);
    }

    private static double distance(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += Math.pow((double) a[i] - b[i], 2);
        return Math.sqrt(s);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void threeStepsMatchPyTorch(String name, String backendName) throws Exception {
        TensorFile f = fixture(name);
        TensorFile initial = initialWeights(f);
        Crate model = model(initial, backend(backendName));
        Optimizer opt = optimizer(model, f.metadata());
        Map<String, float[]> before = new LinkedHashMap<>();
        initial.tensors().forEach((k, v) -> before.put(k, v.floats()));
        assertEquals(before.keySet(), model.namedParameters().keySet(), "fixture keys vs the model's parameters");
        for (int k = 0; k < STEPS; k++) {
            trainStep(model, opt, f, k);
            for (var e : model.namedParameters().entrySet()) {
                String key = e.getKey(), where = name + " on " + backendName + ", step " + k + ", " + key;
                StoredTensor want = f.tensors().get("step" + k + ".after." + key);
                assertNotNull(want, where + ": not in the fixture");
                float[] oracle = want.floats(), got = e.getValue().value().toFloatArray();
                assertArrayEquals(want.shape(), e.getValue().shape(), where);
                double oracleNorm = norm(oracle), moved = distance(oracle, before.get(key)), err = distance(got, oracle);
                assertTrue(moved >= MIN_MOVE * oracleNorm, where + ": the oracle moved only " + moved / oracleNorm
                        + " relative; the fixture cannot tell a right step from none");
                assertTrue(err <= REL_L2 * oracleNorm, where + ": off by " + err / oracleNorm
                        + " relative (L2), bound " + REL_L2);
                assertTrue(err <= STEP_REL * moved, where + ": off by " + err / moved + " of the step's movement, bound "
                        + STEP_REL);
                before.put(key, oracle);
            }
        }
        assertEquals(STEPS, opt.steps());
        assertEquals(before.size() + STEPS * (2 + before.size()), f.tensors().size(),
                "the fixture holds more than was checked");
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void resumedFromStateTakesTheSameThirdStep(String name, String backendName, @TempDir Path dir) throws Exception {
        Backend be = backend(backendName);
        TensorFile f = fixture(name);
        Crate model = model(initialWeights(f), be);
        Optimizer opt = optimizer(model, f.metadata());
        trainStep(model, opt, f, 0);
        trainStep(model, opt, f, 1);

        // a checkpoint through a file: the weights, the optimizer buffers under "optim.", the step count in metadata
        Map<String, StoredTensor> saved = new LinkedHashMap<>(Checkpoints.stateDict(model));
        Map<String, StoredTensor> state = opt.state();
        assertTrue(!state.isEmpty(), "every optimizer here keeps a buffer per parameter");
        state.forEach((k, v) -> saved.put("optim." + k, v));
        Map<String, String> meta = new LinkedHashMap<>(f.metadata());
        meta.put("optimizer_steps", Long.toString(opt.steps()));
        Path file = dir.resolve(name + ".resume.safetensors");
        SafeTensors.write(file, saved, meta);

        trainStep(model, opt, f, 2);                       // the uninterrupted third step

        TensorFile ckpt = SafeTensors.read(file);
        Map<String, StoredTensor> weights = new LinkedHashMap<>(), buffers = new LinkedHashMap<>();
        ckpt.tensors().forEach((k, v) -> {
            if (k.startsWith("optim.")) buffers.put(k.substring("optim.".length()), v);
            else weights.put(k, v);
        });
        Crate resumedModel = model(new TensorFile(file, weights, ckpt.metadata()), be);
        Optimizer resumed = optimizer(resumedModel, ckpt.metadata());
        resumed.loadState(buffers, Long.parseLong(ckpt.metadata().get("optimizer_steps")));
        assertEquals(2, resumed.steps());
        trainStep(resumedModel, resumed, f, 2);

        assertEquals(opt.steps(), resumed.steps());
        for (var e : model.namedParameters().entrySet()) {
            assertArrayEquals(e.getValue().value().toFloatArray(),
                    resumedModel.namedParameters().get(e.getKey()).value().toFloatArray(),
                    name + " on " + backendName + ": " + e.getKey() + " after the resumed third step");
        }
        Map<String, StoredTensor> after = opt.state(), resumedAfter = resumed.state();
        assertEquals(after.keySet(), resumedAfter.keySet());
        for (var e : after.entrySet()) {
            assertArrayEquals(e.getValue().floats(), resumedAfter.get(e.getKey()).floats(),
                    name + " on " + backendName + ": optimizer buffer " + e.getKey() + " after the resumed third step");
        }
    }
}

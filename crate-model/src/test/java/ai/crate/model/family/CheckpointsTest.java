package ai.crate.model.family;

import ai.crate.model.crate.Crate;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.mae.CrateMae;
import ai.crate.model.mae.CrateMaeConfig;
import ai.crate.model.nn.Pool;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.ReferenceBackend;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.DType;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model files: save and load round trip, config from metadata or shapes, one clear error per bad key. */
class CheckpointsTest {
    private final Backend be = new ReferenceBackend();
    private final CrateConfig config = new CrateConfig(8, 3, 4, 12, 2, 3, 4, Pool.MEAN, 0.2f, 0.05f);

    @TempDir
    Path dir;

    @Test
    void saveThenLoadGivesTheSameModel() throws Exception {
        Crate model = new Crate(config, be, 9);
        Path file = dir.resolve("m.safetensors");
        Checkpoints.save(model, file);
        Crate loaded = Checkpoints.load(file, be, LoadOptions.defaults(), Crate.class);
        assertEquals(config, loaded.config(), "every field, pool, eta and lambda included, comes back from metadata");
        model.namedParameters().forEach((k, v) -> assertArrayEquals(v.value().toFloatArray(),
                loaded.namedParameters().get(k).value().toFloatArray(), k));
    }

    @Test
    void withoutMetadataTheShapesGiveTheConfigAndTheCallerTheHeads() throws Exception {
        Path file = write(Checkpoints.stateDict(new Crate(config, be, 1)), Map.of());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(file, be, LoadOptions.defaults(), Crate.class));
        assertTrue(e.getMessage().contains("m.safetensors") && e.getMessage().contains("heads"), e.getMessage());
        Crate loaded = Checkpoints.load(file, be, new LoadOptions(3, Pool.MEAN, 0.2f, 0.05f), Crate.class);
        assertEquals(config, loaded.config());
        CheckpointException bad = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(file, be, LoadOptions.heads(5), Crate.class));
        assertTrue(bad.getMessage().contains("does not split into 5 heads"), bad.getMessage());
    }

    @Test
    void missingKeyIsNamed() throws Exception {
        assertRejected(sd -> sd.remove("transformer.layers.1.0.fn.qkv.weight"),
                "missing tensor 'transformer.layers.1.0.fn.qkv.weight'");
    }

    @Test
    void extraKeyIsNamed() throws Exception {
        assertRejected(sd -> sd.put("mlp_head.2.weight", StoredTensor.f32(new int[] {2}, new float[] {1, 2})),
                "unexpected tensor 'mlp_head.2.weight'");
    }

    @Test
    void misshapenKeyIsNamedWithBothShapes() throws Exception {
        assertRejected(sd -> sd.put("transformer.layers.0.1.fn.weight", StoredTensor.f32(new int[] {12, 11},
                new float[132])), "tensor 'transformer.layers.0.1.fn.weight' has shape [12, 11]", "expects [12, 12]");
    }

    @Test
    void integerParameterIsRefused() throws Exception {
        assertRejected(sd -> sd.put("mlp_head.0.bias", StoredTensor.ofLongs(DType.I64, new int[] {12}, new long[12])),
                "tensor 'mlp_head.0.bias' is I64");
    }

    @Test
    void metadataThatContradictsTheShapesIsRefused() throws Exception {
        Map<String, String> meta = new LinkedHashMap<>(config.toMetadata());
        meta.put("depth", "3");
        Path file = write(Checkpoints.stateDict(new Crate(config, be, 1)), meta);
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(file, be, LoadOptions.defaults(), Crate.class));
        assertTrue(e.getMessage().contains("metadata 'depth' = 3") && e.getMessage().contains("give 2"), e.getMessage());
    }

    @Test
    void unknownArchitectureNamesTheKnownOnesAndTheKeysLookedFor() throws Exception {
        Path file = write(Map.of("encoder.weight", StoredTensor.f32(new int[] {2}, new float[] {1, 2})), Map.of());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(file, be, LoadOptions.defaults()));
        for (String w : new String[] {"m.safetensors", "no known architecture", "crate:", "crate-mae:", "pos_embedding",
                "mask_token"}) {
            assertTrue(e.getMessage().contains(w), () -> e.getMessage() + " should name " + w);
        }
        Path tagged = write(Checkpoints.stateDict(new Crate(config, be, 1)), Map.of("format", "resnet"));
        CheckpointException f = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(tagged, be, LoadOptions.defaults()));
        assertTrue(f.getMessage().contains("'format' = 'resnet'") && f.getMessage().contains("crate-mae"), f.getMessage());
    }

    @Test
    void theKeysTellTheArchitectureWithoutMetadata() throws Exception {
        Path crate = write(Checkpoints.stateDict(new Crate(config, be, 1)), Map.of());
        assertTrue(Checkpoints.load(crate, be, LoadOptions.heads(3)) instanceof Crate);
        CrateMaeConfig mc = new CrateMaeConfig(8, 1, 2, 16, 2, 2, 0.1f, 0.5f, false, 0.75f);
        Path mae = dir.resolve("mae.safetensors");
        SafeTensors.write(mae, Checkpoints.stateDict(new CrateMae(mc, be, 1)), Map.of());
        Model loaded = Checkpoints.load(mae, be, LoadOptions.heads(2));
        assertEquals(mc, loaded.config());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(mae, be, LoadOptions.heads(2), ImageClassifier.class));
        assertTrue(e.getMessage().contains("holds a crate-mae model, not an image classifier"), e.getMessage());
    }

    @Test
    void aBadFileLeavesTheModelAsItWas() throws Exception {
        Crate model = new Crate(config, be, 1);
        Map<String, StoredTensor> sd = new LinkedHashMap<>(Checkpoints.stateDict(new Crate(config, be, 2)));
        sd.put("mlp_head.1.bias", StoredTensor.f32(new int[] {5}, new float[5]));   // the last key, misshapen
        Path file = write(sd, config.toMetadata());
        Map<String, float[]> before = new LinkedHashMap<>();
        model.namedParameters().forEach((k, v) -> before.put(k, v.value().toFloatArray()));
        assertThrows(CheckpointException.class, () -> Checkpoints.loadInto(model, Checkpoints.read(file)));
        model.namedParameters().forEach((k, v) -> assertArrayEquals(before.get(k), v.value().toFloatArray(),
                k + " was overwritten by a file that failed to load"));
    }

    private void assertRejected(Consumer<Map<String, StoredTensor>> corrupt, String... words) throws Exception {
        Map<String, StoredTensor> sd = new LinkedHashMap<>(Checkpoints.stateDict(new Crate(config, be, 1)));
        corrupt.accept(sd);
        Path file = write(sd, config.toMetadata());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoints.load(file, be, LoadOptions.defaults(), Crate.class));
        assertTrue(e.getMessage().startsWith("m.safetensors: "), e.getMessage());
        for (String w : words) assertTrue(e.getMessage().contains(w), () -> e.getMessage() + " should name " + w);
    }

    private Path write(Map<String, StoredTensor> tensors, Map<String, String> meta) throws Exception {
        Path file = dir.resolve("m.safetensors");
        SafeTensors.write(file, tensors, meta);
        return file;
    }
}

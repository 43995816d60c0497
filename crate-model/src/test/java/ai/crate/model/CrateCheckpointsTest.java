package ai.crate.model;

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
class CrateCheckpointsTest {
    private final Backend be = new ReferenceBackend();
    private final CrateConfig config = new CrateConfig(8, 3, 4, 12, 2, 3, 4, Pool.MEAN, 0.2f, 0.05f);

    @TempDir
    Path dir;

    @Test
    void saveThenLoadGivesTheSameModel() throws Exception {
        Crate model = new Crate(config, be, 9);
        Path file = dir.resolve("m.safetensors");
        CrateCheckpoints.save(model, file);
        Crate loaded = CrateCheckpoints.load(file, be, CrateCheckpoints.LoadOptions.defaults());
        assertEquals(config, loaded.config(), "every field, pool, eta and lambda included, comes back from metadata");
        model.namedParameters().forEach((k, v) -> assertArrayEquals(v.value().toFloatArray(),
                loaded.namedParameters().get(k).value().toFloatArray(), k));
    }

    @Test
    void withoutMetadataTheShapesGiveTheConfigAndTheCallerTheHeads() throws Exception {
        Path file = write(CrateCheckpoints.stateDict(new Crate(config, be, 1)), Map.of());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> CrateCheckpoints.load(file, be, CrateCheckpoints.LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("m.safetensors") && e.getMessage().contains("heads"), e.getMessage());
        Crate loaded = CrateCheckpoints.load(file, be, new CrateCheckpoints.LoadOptions(3, Pool.MEAN, 0.2f, 0.05f));
        assertEquals(config, loaded.config());
        CheckpointException bad = assertThrows(CheckpointException.class,
                () -> CrateCheckpoints.load(file, be, CrateCheckpoints.LoadOptions.heads(5)));
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
        Path file = write(CrateCheckpoints.stateDict(new Crate(config, be, 1)), meta);
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> CrateCheckpoints.load(file, be, CrateCheckpoints.LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("metadata 'depth' = 3") && e.getMessage().contains("give 2"), e.getMessage());
    }

    private void assertRejected(Consumer<Map<String, StoredTensor>> corrupt, String... words) throws Exception {
        Map<String, StoredTensor> sd = new LinkedHashMap<>(CrateCheckpoints.stateDict(new Crate(config, be, 1)));
        corrupt.accept(sd);
        Path file = write(sd, config.toMetadata());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> CrateCheckpoints.load(file, be, CrateCheckpoints.LoadOptions.defaults()));
        assertTrue(e.getMessage().startsWith("m.safetensors: "), e.getMessage());
        for (String w : words) assertTrue(e.getMessage().contains(w), () -> e.getMessage() + " should name " + w);
    }

    private Path write(Map<String, StoredTensor> tensors, Map<String, String> meta) throws Exception {
        Path file = dir.resolve("m.safetensors");
        SafeTensors.write(file, tensors, meta);
        return file;
    }
}

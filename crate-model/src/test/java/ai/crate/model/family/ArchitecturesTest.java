package ai.crate.model.family;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.ReferenceBackend;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.mae.CrateMaeConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The registry: names, presets, and each architecture's parameter count and FLOPs against models it builds. */
class ArchitecturesTest {
    private final Backend be = new ReferenceBackend();

    @Test
    void everyArchitectureIsFoundByNameAndItsConfigsByArchitecture() {
        assertEquals(List.of("crate", "crate-mae"), Architectures.names());
        for (Architecture<?> a : Architectures.all()) {
            assertEquals(a, Architectures.get(a.name()));
            a.presets().forEach((name, c) -> {
                assertEquals(a.name(), c.architecture(), name);
                assertEquals(c, Architectures.preset(name));
                assertEquals(name, Architectures.presetName(c));
                assertEquals(a.name(), c.toMetadata().get("format"));
            });
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Architectures.get("vit-9"));
        assertTrue(e.getMessage().contains("crate-mae"), e.getMessage());
        IllegalArgumentException p = assertThrows(IllegalArgumentException.class, () -> Architectures.preset("nope"));
        assertTrue(p.getMessage().contains("fmnist-small"), p.getMessage());
    }

    @Test
    void parameterCountsMatchTheBuiltModels() {
        List<ModelConfig> configs = List.of(CrateConfig.preset("fmnist-small"), CrateConfig.preset("cifar-tiny"),
                new CrateMaeConfig(28, 1, 4, 64, 3, 4, 0.1f, 0.5f, false, 0.75f),
                new CrateMaeConfig(32, 3, 8, 48, 2, 3, 0.1f, 0.5f, true, 0.5f));
        for (ModelConfig c : configs) {
            Model m = Architectures.create(c, be, 0);
            assertEquals(m.parameterCount(), Architectures.parameterCount(c), c.toString());
            assertTrue(Architectures.forwardFlopsPerImage(c) > 2.0 * m.parameterCount(), c + ": every weight is used");
        }
    }

    @Test
    void classifierPresetsAreTheClassifiers() {
        assertTrue(Architectures.presetNames(ClassifierConfig.class).containsAll(List.of("fmnist-small", "crate-tiny")));
        assertEquals(Map.of(), Architectures.get("crate-mae").presets());
    }
}

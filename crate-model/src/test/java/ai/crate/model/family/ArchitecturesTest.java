package ai.crate.model.family;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.Backend;
import ai.crate.engine.ReferenceBackend;
import ai.crate.model.alpha.CrateAlphaConfig;
import ai.crate.model.crate.CrateConfig;
import ai.crate.model.tost.TostConfig;
import ai.crate.model.mae.CrateMaeConfig;
import ai.crate.model.nn.Pool;
import ai.crate.model.vit.VitConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The registry: names, presets, and each architecture's parameter count and FLOPs against models it builds. */
class ArchitecturesTest {
    private final Backend be = new ReferenceBackend();

    @Test
    void everyArchitectureIsFoundByNameAndItsConfigsByArchitecture() {
        assertEquals(List.of("crate", "crate-mae", "vit", "crate-alpha", "tost"), Architectures.names());
        for (Architecture<?> a : Architectures.all()) {
            assertEquals(a, Architectures.get(a.name()));
            a.presets().forEach((name, c) -> {
                assertEquals(a.name(), c.architecture(), name);
                assertEquals(c, Architectures.preset(name));
                // a config held by two names (vit-crate-tiny is vit-small) is known by the first
                assertEquals(c, Architectures.preset(Architectures.presetName(c)), name);
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
                new CrateMaeConfig(32, 3, 8, 48, 2, 3, 0.1f, 0.5f, true, 0.5f), VitConfig.preset("vit-fmnist-small"),
                VitConfig.preset("vit-cifar-tiny").withPool(Pool.AVG),
                new VitConfig(20, 2, 5, 24, 2, 4, 40, 3, Pool.CLS), CrateAlphaConfig.of(28, 1, 4, 48, 2, 4, 10),
                new CrateAlphaConfig(16, 3, 4, 24, 2, 3, 10, 2, 5, 0.1f, 0.1f), TostConfig.of(32, 1, 8, 48, 2, 4, 10),
                TostConfig.of(32, 3, 16, 64, 2, 4, 7));
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

    /** The follow-ups' twins have the shape of the CRATE they are compared with. */
    @Test
    void theFollowUpsTwinsHaveTheirCratesShape() {
        String[][] twins = {{"fmnist-small", "crate-alpha-fmnist-small"}, {"cifar-tiny", "crate-alpha-cifar-tiny"},
                {"crate-tiny", "tost-crate-tiny"}, {"fmnist-small", "tost-fmnist-small"}, {"cifar-tiny", "tost-cifar-tiny"},
                {"scenes-small", "crate-alpha-scenes-small"}, {"scenes-small", "tost-scenes-small"}};
        for (String[] t : twins) {
            ClassifierConfig c = Architectures.classifierPreset(t[0]), twin = Architectures.classifierPreset(t[1]);
            assertEquals(List.of(c.dim(), c.depth(), c.heads(), c.numClasses(), c.channels()),
                    List.of(twin.dim(), twin.depth(), twin.heads(), twin.numClasses(), twin.channels()), t[1]);
        }
        assertEquals(32, Architectures.classifierPreset("tost-fmnist-small").imageSize(), "Fashion-MNIST padded to 32");
    }

    /** timm's published sizes (vit_tiny 5.7 M, small 22.1 M, base 86.6 M, large 304.3 M) and the twins' shapes. */
    @Test
    void vitPresetsAreTimmsAndTheTwinsMatchTheirCrate() {
        assertEquals(5_717_416L, Architectures.parameterCount(Architectures.preset("vit-tiny")));
        assertEquals(22_050_664L, Architectures.parameterCount(Architectures.preset("vit-small")));
        assertEquals(86_567_656L, Architectures.parameterCount(Architectures.preset("vit-base")));
        assertEquals(304_326_632L, Architectures.parameterCount(Architectures.preset("vit-large")));
        assertEquals(Architectures.preset("vit-small"), Architectures.preset("vit-crate-tiny"), "CRATE-T's shape is ViT-S's");
        assertEquals("fmnist-small", Architectures.presetName(Architectures.preset("fmnist-small")));
        for (String crate : List.of("fmnist-small", "cifar-tiny", "crate-tiny", "scenes-small")) {
            ClassifierConfig c = Architectures.classifierPreset(crate), v = Architectures.classifierPreset("vit-" + crate);
            assertEquals(List.of(c.imageSize(), c.channels(), c.patchSize(), c.dim(), c.depth(), c.heads(), c.numClasses()),
                    List.of(v.imageSize(), v.channels(), v.patchSize(), v.dim(), v.depth(), v.heads(), v.numClasses()),
                    crate + " and its ViT twin");
        }
    }
}

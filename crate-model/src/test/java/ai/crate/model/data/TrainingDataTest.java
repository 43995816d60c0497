package ai.crate.model.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The data description in checkpoint metadata: round trips, absence, and malformed keys named. */
class TrainingDataTest {
    @Test
    void roundTripsThroughMetadata() {
        TrainingData folder = new TrainingData("folder", List.of("cat", "dog \"quoted\", with comma", "éclair"),
                new Normalization(new float[] {0.1f, 0.25f, 1e-3f}, new float[] {0.3f, 0.2f, 0.7f}), 0.15, -42);
        assertEquals(Optional.of(folder), TrainingData.fromMetadata(folder.toMetadata()));
        TrainingData plain = new TrainingData("fashion-mnist", List.of("a", "b"), Normalization.none());
        assertEquals(Optional.of(plain), TrainingData.fromMetadata(plain.toMetadata()));
        assertTrue(!plain.hasSplit() && !plain.toMetadata().containsKey("data.test_fraction"));
        assertEquals(Optional.empty(), TrainingData.fromMetadata(Map.of("format", "crate")));
        TrainingData scenes = TrainingData.scenes("cluttered-fashion-mnist", List.of("a", "b"),
                new Normalization(new float[] {0.1f}, new float[] {0.2f}), -7);
        assertEquals(Optional.of(scenes), TrainingData.fromMetadata(scenes.toMetadata()));
        assertEquals("-7", scenes.toMetadata().get("data.scene_seed"));
        assertTrue(!scenes.hasSplit() && plain.sceneSeed() == null);
    }

    @Test
    void malformedKeysAreNamed() {
        Map<String, String> m = new HashMap<>(new TrainingData("folder", List.of("a", "b"),
                new Normalization(new float[] {0.5f}, new float[] {0.2f}), 0.2, 1).toMetadata());
        m.put("data.classes", "[\"a\", ");
        assertMessage(m, "data.classes");
        m.put("data.classes", "[\"a\"]");
        m.put("data.mean", "0.5,zero");
        assertMessage(m, "data.mean");
        m.put("data.mean", "none");
        assertMessage(m, "'data.mean' and 'data.std'");
        m.put("data.mean", "0.5");
        m.remove("data.split_seed");
        assertMessage(m, "data.split_seed");
    }

    private static void assertMessage(Map<String, String> m, String part) {
        var e = assertThrows(IllegalArgumentException.class, () -> TrainingData.fromMetadata(m));
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }
}

package ai.crate.model.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.crate.engine.Backend;
import ai.crate.model.TestBackends;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The on-device count of right predictions agrees with the host's ranking, ties counting as right. */
class ClassifierTaskTest {
    @ParameterizedTest
    @ValueSource(strings = {"reference", "simd", "cuda-emulated"})
    void correctCountMatchesTheRankOfEachLabel(String name) {
        Backend be = TestBackends.named(name);
        SplittableRandom r = new SplittableRandom(4);
        int rows = 37, classes = 5;
        float[] logits = new float[rows * classes];
        int[] labels = new int[rows];
        for (int i = 0; i < logits.length; i++) logits[i] = r.nextInt(4) - 1.5f;   // few values: many ties
        for (int i = 0; i < rows; i++) labels[i] = r.nextInt(classes);
        int expected = 0;
        for (int i = 0; i < rows; i++) if (Evaluation.rankOfLabel(logits, i * classes, classes, labels[i]) == 0) expected++;
        float counted = ClassifierTask.correctCount(be.fromArray(logits, rows, classes), labels).item();
        assertEquals(expected, counted, 0.0);
        assertEquals(true, expected > 0 && expected < rows, "the data has both right and wrong rows");
    }
}

package ai.crate.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Backends;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Keeps the README's Java example compiling and correct: the block there must be the block here, and it runs. */
class ReadmeExampleTest {
    private static final Path TEST_SOURCE = Path.of("src/test/java/ai/crate/examples/ReadmeExampleTest.java");
    private static final Path README = Path.of("../README.md");

    @Test
    void readmeExampleComputesTheStatedNumbers() {
        // README-BEGIN
        Backend be = Backends.getDefault();                    // probes once and logs which backend runs, and why
        Variable x = Variable.parameter(be.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        Variable w = Variable.parameter(be.fromArray(new float[] {0.5f, -1, 2, 0.25f, 1, -0.5f}, 3, 2));
        Variable loss = F.sum(F.relu(F.matmul(x, w)));         // a scalar: 25.5
        loss.backward();
        float[] dx = x.grad().toFloatArray();                  // dloss/dx = {0.5, 2, 1, 0.5, 2, 1}
        // README-END
        assertEquals(25.5f, loss.value().item(), 1e-5f);
        assertArrayEquals(new float[] {0.5f, 2, 1, 0.5f, 2, 1}, dx, 1e-6f);
        assertArrayEquals(new float[] {5, 0, 7, 0, 9, 0}, w.grad().toFloatArray(), 1e-6f);
    }

    @Test
    void readmeShowsExactlyTheTestedBlock() throws IOException {
        String source = Files.readString(TEST_SOURCE);
        Matcher tested = Pattern.compile("// README-BEGIN\\n(.*?)\\s*// README-END", Pattern.DOTALL).matcher(source);
        assertTrue(tested.find(), "markers missing in " + TEST_SOURCE);
        String block = tested.group(1).stripIndent().strip();
        String readme = Files.readString(README);
        Matcher shown = Pattern.compile("## Using the library\\s*```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(shown.find(), "README has no java block under 'Using the library'");
        assertEquals(block, shown.group(1).strip(), "README example differs from the tested block");
    }

    @Test
    void spiralTrainingReachesHighAccuracy() {
        assertTrue(TrainSpiral.train(600, 64, false) > 0.9f, "spiral MLP failed to fit its training set");
    }
}

package ai.crate.model.crate;

import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.ClassifierInference;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.LoadOptions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Backends;
import ai.crate.engine.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Keeps the README's CRATE example correct: the block there is the block here, and it runs. */
class CrateReadmeExampleTest {

    @Test
    void exampleRuns() throws Exception {
        // README-BEGIN
        Backend be = Backends.getDefault();
        Crate model = new Crate(CrateConfig.preset("fmnist-small"), be, 42);      // the official init, seeded
        Tensor images = be.empty(8, 1, 28, 28);                                   // [B, C, H, W]
        be.randomUniform(images, 1, -1f, 1f);
        Variable loss = F.crossEntropy(model.forward(images), new int[] {0, 1, 2, 3, 4, 5, 6, 7}, 0f);
        loss.backward();                                                          // every parameter's grad()
        Path file = Files.createTempFile("fmnist-small", ".safetensors");
        Checkpoints.save(model, file);                                            // official keys, config in metadata
        ImageClassifier loaded = Checkpoints.load(file, be, LoadOptions.defaults(), ImageClassifier.class);
        ClassifierInference.Output out = loaded.inference().forward(images, true);   // no tape, ISTA as one GEMM
        Tensor logits = out.logits();                                             // [8, 10]
        Tensor attention = out.attention().get(5);                                // last layer's maps [8, 6, 50, 50]
        // README-END
        assertArrayEquals(new int[] {8, 10}, logits.shape());
        assertArrayEquals(new int[] {8, 6, 50, 50}, attention.shape());
        assertTrue(model.namedParameters().get("cls_token").grad() != null);
        // bit for bit: same weights, and the SIMD kernels give the same bits before and after JIT compilation
        assertArrayEquals(model.inference().logits(images).toFloatArray(), logits.toFloatArray(),
                "the reloaded model computes what the saved one does");
        Files.delete(file);
    }

    @Test
    void readmeShowsThisBlock() throws Exception {
        String source = Files.readString(Path.of("src/test/java/ai/crate/model/crate/CrateReadmeExampleTest.java"));
        Matcher tested = Pattern.compile("// README-BEGIN\\n(.*?)\\s*// README-END", Pattern.DOTALL).matcher(source);
        assertTrue(tested.find());
        String block = tested.group(1).stripIndent().strip();
        Matcher shown = Pattern.compile("## CRATE models\\s*```java\\n(.*?)```", Pattern.DOTALL)
                .matcher(Files.readString(Path.of("../README.md")));
        assertTrue(shown.find(), "README has no java block under 'CRATE models'");
        assertEquals(block, shown.group(1).strip(), "README example differs from the tested block");
    }
}

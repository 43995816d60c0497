package ai.crate.model.vit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Backends;
import ai.crate.engine.Tensor;
import ai.crate.model.ParityChecks;
import ai.crate.model.family.Architectures;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.family.LoadOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Keeps the README's ViT example correct: the block there is the block here, and it runs. */
class VitReadmeExampleTest {

    @Test
    void exampleRuns() throws Exception {
        Path timmFile = ParityChecks.resource("/vit/vit_token.pth");   // a DeiT-style release file: 12 px, 3 heads
        Tensor pictures = Backends.getDefault().empty(2, 1, 12, 12);
        Backends.getDefault().randomUniform(pictures, 2, 0f, 1f);
        // README-BEGIN
        Backend be = Backends.getDefault();
        ImageClassifier vit = Architectures.createClassifier(VitConfig.preset("vit-fmnist-small"), be, 7);  // timm's init
        Tensor images = be.empty(4, 1, 28, 28);
        be.randomUniform(images, 1, -1f, 1f);
        Variable loss = F.crossEntropy(vit.forward(images), new int[] {3, 1, 4, 1}, 0f);
        loss.backward();                                   // gradients under timm's keys: blocks.0.attn.qkv.weight, ...
        long params = Architectures.parameterCount(vit.config());                        // 2,684,554
        Vit deit = Checkpoints.load(timmFile, be, LoadOptions.heads(3), Vit.class);      // a timm / DeiT .pth state dict
        Tensor attention = deit.inference().forward(pictures, true).attention().get(0);  // [B, heads, N, N] per layer
        // README-END
        assertEquals(2_684_554L, params);
        assertTrue(vit.namedParameters().get("blocks.0.attn.qkv.weight").grad() != null);
        assertArrayEquals(new int[] {2, 3, 10, 10}, attention.shape());
    }

    @Test
    void readmeShowsThisBlock() throws Exception {
        String source = Files.readString(Path.of("src/test/java/ai/crate/model/vit/VitReadmeExampleTest.java"));
        Matcher tested = Pattern.compile("// README-BEGIN\\n(.*?)\\s*// README-END", Pattern.DOTALL).matcher(source);
        assertTrue(tested.find());
        String block = tested.group(1).stripIndent().strip();
        Matcher shown = Pattern.compile("### ViT, the baseline.*?```java\\n(.*?)```", Pattern.DOTALL)
                .matcher(Files.readString(Path.of("../README.md")));
        assertTrue(shown.find(), "README has no java block under 'ViT, the baseline'");
        assertEquals(block, shown.group(1).strip(), "README example differs from the tested block");
    }
}

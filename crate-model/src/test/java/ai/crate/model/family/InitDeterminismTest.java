package ai.crate.model.family;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.model.TestBackends;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A model's initial weights depend on the seed and config only, not on what ran before in the JVM: building a ViT
 * (millions of normal draws, which get the random kernels compiled) once changed CRATE's cls_token and
 * pos_embedding, because the Vector API's lanewise LOG and COS round differently compiled than interpreted.
 */
class InitDeterminismTest {
    @Test
    void initIsTheSameBeforeAndAfterTheKernelsWarmUp() {
        Backend be = TestBackends.named("simd");
        ImageClassifier before = Architectures.createClassifier(Architectures.classifierPreset("fmnist-small"), be, 0);
        for (int i = 0; i < 5; i++) Architectures.createClassifier(Architectures.classifierPreset("vit-fmnist-small"), be, i);
        ImageClassifier after = Architectures.createClassifier(Architectures.classifierPreset("fmnist-small"), be, 0);
        ImageClassifier reference = Architectures.createClassifier(Architectures.classifierPreset("fmnist-small"),
                TestBackends.named("reference"), 0);
        for (Map.Entry<String, Variable> e : before.namedParameters().entrySet()) {
            float[] want = e.getValue().value().toFloatArray();
            assertArrayEquals(want, after.namedParameters().get(e.getKey()).value().toFloatArray(), e.getKey());
            assertArrayEquals(want, reference.namedParameters().get(e.getKey()).value().toFloatArray(),
                    e.getKey() + ": the SIMD and reference backends draw the same bits");
        }
    }
}

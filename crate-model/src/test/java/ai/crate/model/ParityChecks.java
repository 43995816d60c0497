package ai.crate.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.BackendContractTest;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A classifier against a PyTorch fixture (a float64 oracle written by tools/pytorch): logits within 1e-4 on the
 * training and the inference path, the loss within 1e-5 relative, every parameter gradient within 1e-3 relative (L2).
 */
public final class ParityChecks {
    public static final double LOGIT_ATOL = 1e-4, LOSS_RTOL = 1e-5, GRAD_REL_L2 = 1e-3;

    private ParityChecks() {}

    /** A test resource as a path, or an error naming it. */
    public static Path resource(String path) throws Exception {
        var url = ParityChecks.class.getResource(path);
        if (url == null) throw new IllegalStateException("test resource " + path + " is missing");
        return Path.of(url.toURI());
    }

    /** The parameters alone (the fixture also holds inputs, outputs and gradients). */
    public static TensorFile parameters(TensorFile f) {
        Map<String, StoredTensor> params = new LinkedHashMap<>();
        f.tensors().forEach((k, v) -> {
            if (!k.startsWith("grad.") && !k.startsWith("after.") && Stream.of("images", "labels", "logits", "loss", "coding_rate", "sparsity", "train_logits", "pi", "cls_attention").noneMatch(k::equals)) {
                params.put(k, v);
            }
        });
        return new TensorFile(f.source(), params, f.metadata());
    }

    /** The fixture's images on the model's backend. */
    public static Tensor images(ImageClassifier model, TensorFile f) {
        StoredTensor img = f.tensors().get("images");
        return model.backend().fromArray(img.floats(), img.shape());
    }

    /** Runs the fixture's batch forward and backward through {@code model} and checks everything it holds. */
    public static void assertMatchesFixture(ImageClassifier model, TensorFile f, String what) {
        Tensor images = images(model, f);
        long[] labels64 = f.tensors().get("labels").longs();
        int[] labels = new int[labels64.length];
        for (int i = 0; i < labels.length; i++) labels[i] = Math.toIntExact(labels64[i]);

        Variable logits = model.forward(images);
        float[] expected = f.tensors().get("logits").floats();
        BackendContractTest.assertClose(what + " logits", expected, logits.value().toFloatArray(), LOGIT_ATOL, 0);
        BackendContractTest.assertClose(what + " inference logits", expected,
                model.inference().logits(images).toFloatArray(), LOGIT_ATOL, 0);

        Variable loss = F.crossEntropy(logits, labels, 0f);
        float expectedLoss = f.tensors().get("loss").floats()[0];
        assertEquals(expectedLoss, loss.value().item(), LOSS_RTOL * Math.abs(expectedLoss), what + " loss");
        loss.backward();
        int checked = 0;
        for (var e : model.namedParameters().entrySet()) {
            float[] want = f.tensors().get("grad." + e.getKey()).floats();
            float[] got = e.getValue().grad().toFloatArray();
            double diff = 0, norm = 0;
            for (int i = 0; i < want.length; i++) {
                diff += Math.pow((double) got[i] - want[i], 2);
                norm += (double) want[i] * want[i];
            }
            double rel = Math.sqrt(diff / norm);
            assertTrue(norm > 0, e.getKey() + ": the fixture gradient should not be zero");
            assertTrue(rel <= GRAD_REL_L2, what + ": gradient of " + e.getKey() + " off by " + rel
                    + " relative (L2), bound " + GRAD_REL_L2);
            checked++;
        }
        assertEquals(f.tensors().keySet().stream().filter(k -> k.startsWith("grad.")).count(), checked,
                what + ": every fixture gradient is a parameter of the model");
        loss.releaseGraph();
    }
}

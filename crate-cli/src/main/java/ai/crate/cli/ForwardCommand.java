package ai.crate.cli;

import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Runs a checkpoint on images from a safetensors file and writes the logits, and with {@code --grads} the mean
 * cross-entropy and every parameter's gradient under its official key: how a user checks our numbers against
 * PyTorch on their own checkpoint.
 */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = "Logits (and with --grads the loss and every parameter gradient) of a checkpoint on images.")
final class ForwardCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CheckpointOptions model;

    @Option(names = "--input", required = true, paramLabel = "IN.safetensors",
            description = "'images' [B,C,H,W] float; with --grads also 'labels' [B] int64 or int32.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "OUT.safetensors",
            description = "Receives 'logits' [B,classes]; with --grads also 'loss' [] and 'grad.<key>'.")
    Path output;

    @Option(names = "--grads", description = "Also the mean cross-entropy (no smoothing) and its parameter gradients.")
    boolean grads;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        Backend be = backendOptions.resolve();
        ImageClassifier model = this.model.load(be);
        TensorFile in = SafeTensors.read(input);
        Tensor images = images(in, be);
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        if (!grads) {
            Tensor logits = model.inference().logits(images);
            out.put("logits", StoredTensor.f32(logits.shape(), logits.toFloatArray()));
        } else {
            int[] labels = labels(in, images.dim(0), model.config().numClasses());
            model.train(false);   // the same evaluation-mode forward as without --grads (BatchNorm's running statistics)
            Variable logits = model.forward(images);
            Variable loss = F.crossEntropy(logits, labels, 0f);
            loss.backward();
            out.put("logits", StoredTensor.f32(logits.shape(), logits.value().toFloatArray()));
            out.put("loss", StoredTensor.f32(new int[0], new float[] {loss.value().item()}));
            for (var e : model.namedParameters().entrySet()) {
                out.put("grad." + e.getKey(), StoredTensor.f32(e.getValue().shape(), e.getValue().grad().toFloatArray()));
            }
        }
        Map<String, String> meta = new LinkedHashMap<>(model.config().toMetadata());
        meta.put("format", "crate-forward");
        meta.put("backend", be.name());
        SafeTensors.write(output, out, meta);
        spec.commandLine().getOut().println("wrote " + output + ": " + String.join(", ", out.keySet().stream().limit(3).toList())
                + (out.size() > 3 ? " and " + (out.size() - 3) + " gradients" : ""));
        return 0;
    }

    private Tensor images(TensorFile in, Backend be) throws CheckpointException {
        StoredTensor t = in.tensors().get("images");
        if (t == null) {
            throw new CheckpointException(input.getFileName() + ": no tensor 'images' (found " + in.tensors().keySet() + ")");
        }
        if (!t.dtype().isFloating() || t.rank() != 4) {
            throw new CheckpointException(input.getFileName() + ": tensor 'images' must be floating [B,C,H,W], got "
                    + t.dtype() + " " + Arrays.toString(t.shape()));
        }
        return be.fromArray(t.floats(), t.shape());
    }

    private int[] labels(TensorFile in, int batch, int classes) throws CheckpointException {
        StoredTensor t = in.tensors().get("labels");
        if (t == null) throw new CheckpointException(input.getFileName() + ": --grads needs a tensor 'labels' [B]");
        if (t.dtype().isFloating() || !Arrays.equals(t.shape(), new int[] {batch})) {
            throw new CheckpointException(input.getFileName() + ": tensor 'labels' must be integer [" + batch
                    + "], got " + t.dtype() + " " + Arrays.toString(t.shape()));
        }
        long[] v = t.longs();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] < 0 || v[i] >= classes) {
                throw new CheckpointException(input.getFileName() + ": label " + v[i] + " at index " + i
                        + " is outside [0, " + classes + ")");
            }
            out[i] = (int) v[i];
        }
        return out;
    }
}

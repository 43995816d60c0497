package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.mae.CrateMae;
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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** One CRATE-MAE forward (and backward) on given images and masking noise, for checks against PyTorch. */
@Command(name = "forward-mae", mixinStandardHelpOptions = true,
        description = "CRATE-MAE loss, predictions and mask (and with --grads every gradient) for images and noise.")
final class ForwardMaeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    MaeCheckpointOptions weights;

    @Option(names = "--input", required = true, paramLabel = "IN.safetensors",
            description = "'images' [B,C,H,W] and 'noise' [B,L], the per-sample masking noise.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "OUT.safetensors",
            description = "Receives 'loss' [], 'pred' [B,L,p²C], 'mask' [B,L] (1 = removed), with --grads 'grad.<key>'.")
    Path output;

    @Option(names = "--grads", description = "Also every trainable parameter's gradient of the loss.")
    boolean grads;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        Backend be = backendOptions.resolve();
        CrateMae model = weights.load(be);
        TensorFile in = SafeTensors.read(input);
        StoredTensor img = need(in, "images"), noise = need(in, "noise");
        int b = img.shape()[0], l = model.config().numPatches();
        if (!Arrays.equals(noise.shape(), new int[] {b, l})) {
            throw new CheckpointException(input.getFileName() + ": tensor 'noise' must be [" + b + ", " + l + "], got "
                    + Arrays.toString(noise.shape()));
        }
        Tensor images = be.fromArray(img.floats(), img.shape());
        CrateMae.Output out = model.forward(images, noise.floats());
        Map<String, StoredTensor> result = new LinkedHashMap<>();
        result.put("loss", StoredTensor.f32(new int[0], new float[] {out.loss().value().item()}));
        result.put("pred", StoredTensor.f32(out.pred().shape(), out.pred().value().toFloatArray()));
        result.put("mask", StoredTensor.f32(new int[] {b, l}, out.mask()));
        if (grads) {
            out.loss().backward();
            for (var e : model.namedParameters().entrySet()) {
                if (e.getValue().grad() != null) {
                    result.put("grad." + e.getKey(), StoredTensor.f32(e.getValue().shape(), e.getValue().grad().toFloatArray()));
                }
            }
        }
        Map<String, String> meta = new LinkedHashMap<>(model.config().toMetadata());
        meta.put("format", "crate-mae-forward");
        SafeTensors.write(output, result, meta);
        spec.commandLine().getOut().printf("wrote %s: loss %.6f%s%n", output, out.loss().value().item(),
                grads ? " and gradients" : "");
        return 0;
    }

    private StoredTensor need(TensorFile f, String key) throws CheckpointException {
        StoredTensor t = f.tensors().get(key);
        if (t == null || !t.dtype().isFloating()) {
            throw new CheckpointException(input.getFileName() + ": needs a floating tensor '" + key + "' (found "
                    + f.tensors().keySet() + ")");
        }
        return t;
    }
}

package ai.crate.model.family;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import ai.crate.model.io.TorchCheckpoints;
import ai.crate.model.nn.Module;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Models of any architecture to and from files, under the official state_dict keys: our safetensors checkpoints
 * (config in {@code __metadata__}) and the official PyTorch files (a {@code torch.save}d state_dict, or a training
 * checkpoint with it under {@code state_dict} or {@code model}, DataParallel's {@code module.} stripped). Loading
 * detects the architecture ({@link Architectures#detect}), reads the configuration from metadata or shapes, and
 * checks every key and shape before copying anything, so a bad file leaves no model half-loaded.
 */
public final class Checkpoints {
    private Checkpoints() {}

    /**
     * Tensors named with this prefix in a model file are training state (optimizer moments), written by the trainer
     * beside the weights; loading a model skips them.
     */
    public static final String TRAIN_STATE_PREFIX = "train.";

    /** Reads a safetensors file or a PyTorch zip checkpoint, told apart by the zip signature. */
    public static TensorFile read(Path file) throws CheckpointException {
        byte[] head = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, 4);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
        }
        boolean zip = n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
        return zip ? TorchCheckpoints.read(file) : SafeTensors.read(file);
    }

    /** Reads {@code file} and builds the model it holds, of whichever architecture, on {@code backend}. */
    public static Model load(Path file, Backend backend, LoadOptions options) throws CheckpointException {
        return load(read(file), backend, options);
    }

    public static Model load(TensorFile f, Backend backend, LoadOptions options) throws CheckpointException {
        return build(Architectures.detect(f), f, backend, options, Model.class);
    }

    /** As {@link #load(Path, Backend, LoadOptions)}, requiring a model of {@code type} (e.g. an ImageClassifier). */
    public static <M extends Model> M load(Path file, Backend backend, LoadOptions options, Class<M> type)
            throws CheckpointException {
        return load(read(file), backend, options, type);
    }

    /** As {@link #load(TensorFile, Backend, LoadOptions)}, requiring a model of {@code type}. */
    public static <M extends Model> M load(TensorFile f, Backend backend, LoadOptions options, Class<M> type)
            throws CheckpointException {
        return type.cast(build(Architectures.detect(f), f, backend, options, type));
    }

    /** The configuration of the model in {@code f}, of whichever architecture. */
    public static ModelConfig configOf(TensorFile f, LoadOptions options) throws CheckpointException {
        return Architectures.detect(f).configFrom(f, options);
    }

    /** The model in {@code f}, refused by name (before it is built, where the config tells) unless a {@code type}. */
    private static <C extends ModelConfig> Model build(Architecture<C> a, TensorFile f, Backend backend,
                                                       LoadOptions options, Class<?> type) throws CheckpointException {
        C config = a.configFrom(f, options);
        if (ImageClassifier.class.isAssignableFrom(type) && !(config instanceof ClassifierConfig)) throw notA(f, a, type);
        Model model = a.create(config, backend, 0);
        if (!type.isInstance(model)) throw notA(f, a, type);
        loadInto(model, f);
        return model;
    }

    private static CheckpointException notA(TensorFile f, Architecture<?> a, Class<?> type) {
        return new CheckpointException(Architectures.fileName(f.source()) + ": holds a " + a.name() + " model, not a"
                + (type == ImageClassifier.class ? "n image classifier" : " " + type.getSimpleName()));
    }

    /**
     * Copies the tensors of {@code f} into every parameter and buffer of {@code model}. Every one must be present with
     * its shape, as floating point, and the file must hold nothing else (training state aside): otherwise one
     * exception names the key, and nothing has been copied.
     */
    public static void loadInto(Model model, TensorFile f) throws CheckpointException {
        loadTensors(model, f, describe(model));
        model.weightsChanged();
    }

    /** As {@link #loadInto} for any module; {@code what} names it in messages. */
    public static void loadTensors(Module model, TensorFile f, String what) throws CheckpointException {
        String file = Architectures.fileName(f.source());
        Map<String, Object> state = model.namedState();
        List<String> missing = new ArrayList<>(), extra = new ArrayList<>();
        for (String k : state.keySet()) if (!f.tensors().containsKey(k)) missing.add(k);
        for (String k : f.tensors().keySet()) {
            if (!state.containsKey(k) && !k.startsWith(TRAIN_STATE_PREFIX)) extra.add(k);
        }
        if (!missing.isEmpty()) {
            throw new CheckpointException(file + ": missing tensor '" + missing.getFirst() + "'"
                    + (missing.size() > 1 ? " (and " + (missing.size() - 1) + " more: " + missing + ")" : "")
                    + " for " + what);
        }
        if (!extra.isEmpty()) {
            throw new CheckpointException(file + ": unexpected tensor '" + extra.getFirst() + "'"
                    + (extra.size() > 1 ? " (and " + (extra.size() - 1) + " more: " + extra + ")" : "")
                    + ", not a parameter of " + what);
        }
        for (var e : state.entrySet()) {
            StoredTensor t = f.tensors().get(e.getKey());
            if (e.getValue() instanceof Module.Counter) {
                if (t.numel() != 1 || t.dtype().isFloating()) {
                    throw new CheckpointException(file + ": tensor '" + e.getKey() + "' is " + t.dtype() + " "
                            + Arrays.toString(t.shape()) + ", expected one integer (a counter)");
                }
                continue;
            }
            Tensor target = ((Variable) e.getValue()).value();
            if (!Arrays.equals(t.shape(), target.shape())) {
                throw new CheckpointException(file + ": tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(t.shape()) + " but " + what + " expects " + Arrays.toString(target.shape()));
            }
            if (!t.dtype().isFloating()) {
                throw new CheckpointException(file + ": tensor '" + e.getKey() + "' is " + t.dtype()
                        + ", a parameter must be floating point");
            }
        }
        for (var e : state.entrySet()) {     // every check passed: now copy
            StoredTensor t = f.tensors().get(e.getKey());
            if (e.getValue() instanceof Module.Counter c) {
                c.set(t.longs()[0]);
                continue;
            }
            Tensor target = ((Variable) e.getValue()).value();
            Backend be = target.backend();
            be.copy(be.fromArray(t.floats(), target.shape()), target);
        }
    }

    /** The parameters, buffers (float32) and counters (int64 scalars) under their official keys, in state_dict order. */
    public static Map<String, StoredTensor> stateDict(Module model) {
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        model.namedState().forEach((k, v) -> out.put(k, v instanceof Module.Counter c
                ? StoredTensor.i64(new int[0], new long[] {c.get()})
                : StoredTensor.f32(((Variable) v).shape(), ((Variable) v).value().toFloatArray())));
        return out;
    }

    /** Writes the model as safetensors with its config in {@code __metadata__}; atomic. */
    public static void save(Model model, Path file) throws CheckpointException {
        SafeTensors.write(file, stateDict(model), model.config().toMetadata());
    }

    private static String describe(Model m) { return "the " + m.config().architecture() + " model " + m.config(); }
}
